"""Format 2's typed columns (``prompt_text``, ``outputs``, ``text_only``, ``criterion``,
``strength``, ``presented``) agree with the ``event`` JSON they are taken from: with preflog's own
reading of an event (:func:`preflog.records.reply_of`) and with the JSON reading the DuckDB
engine's SQL did before them (frozen below), on v2 shapes drawn by hypothesis and on the real
LLMFAO and HH-RLHF data. And the archive's format is recorded beside its watermark."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

import duckdb
import pyarrow.parquet as pq
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from preflog.archive import archive_events, open_target
from preflog.archive.rows import FORMAT
from preflog.archive.target import part_files, read_state
from preflog.records import reply_of
from preflog.store import Store, open_store
from tests import factories as f
from tests.compile.helpers import append_all

PROJECT = "p"

# The JSON reading of the DuckDB engine's SQL before the typed columns (duck_sql at 2f3b1b2).
OLD_SHAPE = """json_transform(event, '{"prompt":"JSON","system":"JSON","candidates":[{"messages":"JSON",
  "tool_calls":"JSON","refusal":"JSON"}]}')"""
OLD_BEYOND_TEXT = """coalesce((shape.prompt IS NOT NULL AND json_type(shape.prompt) <> 'VARCHAR')
    OR shape.system IS NOT NULL
    OR len(list_filter(shape.candidates, lambda c: c.messages IS NOT NULL OR c.refusal IS NOT NULL
      OR (c.tool_calls IS NOT NULL AND json_array_length(c.tool_calls) > 0))) > 0, false)"""
OLD_READ = f"""
SELECT position, type, {OLD_BEYOND_TEXT} AS beyond_text, e.prompt AS prompt,
       list_transform(e.candidates, lambda c: c.output) AS outputs,
       j.criterion AS criterion, j.strength AS strength, j.presented AS presented
FROM (
  SELECT *, {OLD_SHAPE} AS shape,
    json_transform(event, '{{"prompt":"VARCHAR","candidates":[{{"output":"VARCHAR"}}]}}') AS e,
    json_transform(event, '{{"criterion":"VARCHAR","strength":"JSON","presented":"VARCHAR[]"}}') AS j
  FROM read_parquet(?)
)
ORDER BY position
"""

TEXTS = st.text(st.characters(codec="utf-8", exclude_characters="\x00"), max_size=12) | st.sampled_from(
    ["", " ", "\u2028", "😀"]
)
PROMPTS = TEXTS.filter(str.strip)  # the store refuses a blank prompt


@st.composite
def candidates(draw: st.DrawFn, i: int) -> dict[str, Any]:
    """One v2 candidate: a plain answer, an empty one, a refusal, a tool call, a continuation."""
    base = {"candidate_id": f"c{i}", "model": {"name": "m", "version": "1"}}
    kind = draw(st.sampled_from(["text", "empty", "refusal", "tool_calls", "one_turn", "turns", "no_calls"]))
    if kind == "text":
        return {**base, "output": draw(TEXTS)}
    if kind == "empty":
        return {**base, "output": ""}
    if kind == "refusal":
        return {**base, "output": "", "refusal": draw(TEXTS)}
    if kind == "tool_calls":
        return {**base, "output": draw(TEXTS), "tool_calls": [f.tool_call()], "finish_reason": "tool_calls"}
    if kind == "no_calls":
        return {**base, "output": draw(TEXTS), "tool_calls": []}
    turns = [{"role": "assistant", "content": draw(TEXTS)}]
    if kind == "turns":
        turns = [
            {"role": "assistant", "content": None, "tool_calls": [f.tool_call()]},
            {"role": "tool", "tool_call_id": "call_1", "content": "14"},
            {"role": "assistant", "content": draw(TEXTS)},
        ]
    return {**base, "messages": turns}


@st.composite
def requests(draw: st.DrawFn) -> list[dict[str, Any]]:
    """An inference of any v2 shape (text, chat or tool prompt; system prompt) and judgments on it."""
    k = draw(st.integers(1, 3))
    prompt = draw(
        PROMPTS | st.just(f.tool_prompt()) | st.builds(lambda t: [{"role": "user", "content": t}], PROMPTS)
    )
    extra: dict[str, Any] = {}
    if draw(st.booleans()):
        extra["system"] = draw(PROMPTS)
    if draw(st.booleans()):
        extra["presented"] = [f"c{i}" for i in draw(st.permutations(range(k)))]
    inference = f.inference(prompt=prompt, schema_version=2, **extra)
    inference["candidates"] = [draw(candidates(i)) for i in range(k)]
    events = [inference]
    for _ in range(draw(st.integers(0, 2)) if k > 1 else 0):
        judged: dict[str, Any] = {}
        if draw(st.booleans()):
            judged["criterion"] = draw(st.sampled_from(["helpful", "safe", "été", "😀 tone"]))
        strength = draw(st.sampled_from([None, 1, 1.0, 0.25, 1e-7, 0]))
        if strength is not None:
            judged["strength"] = strength
        if draw(st.booleans()):
            judged["presented"] = ["c1", "c0"]
        events.append(f.preference(inference["request_id"], "c0", "c1", **judged))
    return events


def archived_rows(store: Store, root: Path) -> list[dict[str, Any]]:
    """Every archived row (the typed columns and ``event``), in position order, and the old SQL's
    JSON reading of the same files beside each (``old``)."""
    archive_events(store, project=PROJECT, out=str(root))
    paths = [p for _, _, p in part_files(open_target(str(root)), PROJECT)]
    rows = sorted((r for p in paths for r in pq.read_table(p).to_pylist()), key=lambda r: r["position"])
    with duckdb.connect() as conn:
        cursor = conn.execute(OLD_READ, [paths])
        names = [d[0] for d in cursor.description or []]
        old = [dict(zip(names, r, strict=True)) for r in cursor.fetchall()]
    for row, seen in zip(rows, old, strict=True):
        row["old"] = seen
    return rows


def check_row(row: dict[str, Any]) -> None:
    """The typed columns of one row against its event (preflog's reading) and the old SQL's."""
    event, old = json.loads(row["event"]), row["old"]
    assert old["position"] == row["position"]
    presented = event.get("presented")
    assert row["presented"] == (presented if isinstance(presented, list) else None)
    assert row["presented"] == old["presented"]
    if row["type"] != "inference":
        assert (row["prompt_text"], row["outputs"], row["text_only"]) == (None, None, None)
        assert row["criterion"] == event.get("criterion") == old["criterion"]
        strength = event.get("strength")
        assert row["strength"] == (None if strength is None else json.dumps(strength))
        assert (row["strength"] is None) == (old["strength"] is None)
        if strength is not None:  # the old JSON text and the column: the same value and type
            assert json.loads(row["strength"]) == json.loads(old["strength"])
            assert type(json.loads(row["strength"])) is type(json.loads(old["strength"]))
        return
    prompt, system = event.get("prompt"), event.get("system")
    assert row["prompt_text"] == (prompt if isinstance(prompt, str) and system is None else None)
    replies = [reply_of(c) for c in event["candidates"]]
    assert row["outputs"] == [r if isinstance(r, str) else None for r in replies]
    assert row["text_only"] is (not old["beyond_text"])  # what duck_sql.BEYOND_TEXT computed from the JSON
    if row["text_only"]:  # then the texts are what the old SQL read from the JSON
        assert row["prompt_text"] == (old["prompt"] or "") or (prompt is None and row["prompt_text"] is None)
        assert row["outputs"] == [o or "" for o in old["outputs"]]
        assert all(isinstance(r, str) for r in replies)


@given(batch=st.lists(requests(), min_size=1, max_size=4))
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_the_typed_columns_agree_with_the_event_json(batch: list[list[dict[str, Any]]]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        store = open_store(str(root / "events.db"))
        try:
            append_all(store, [e for events in batch for e in events], PROJECT)
            rows = archived_rows(store, root / "archive")
        finally:
            store.close()
    assert len(rows) == sum(len(events) for events in batch)
    for row in rows:
        check_row(row)


def test_the_shapes_each_give_their_columns(tmp_path: Path, store: Store) -> None:
    """One event of each shape, with the values the columns must hold spelled out."""
    tool = f.tool_inference()
    plain = f.inference(outputs=("Paris.", ""), presented=["c1", "c0"])
    system = f.inference(system="Be brief.")
    judged = f.preference(plain["request_id"], criterion="helpful", strength=1, presented=["c1", "c0"])
    append_all(store, [tool, plain, system, judged, f.preference(plain["request_id"], strength=0.5)], PROJECT)
    rows = archived_rows(store, tmp_path / "archive")
    for row in rows:
        check_row(row)
    by_type = [(r["prompt_text"], r["outputs"], r["text_only"]) for r in rows[:3]]
    assert by_type[0] == (None, [None if isinstance(reply_of(c), list) else reply_of(c)
                                 for c in tool["candidates"]], False)  # fmt: skip
    assert None in by_type[0][1] and "" in by_type[0][1]  # a tool call's reply is not text; "" is
    assert by_type[1] == ("What is the capital of France?", ["Paris.", ""], True)
    assert by_type[2] == (None, [c["output"] for c in system["candidates"]], False)
    assert rows[1]["presented"] == ["c1", "c0"]
    assert [(r["criterion"], r["strength"], r["presented"]) for r in rows[3:]] == [
        ("helpful", "1", ["c1", "c0"]),
        (None, "0.5", None),
    ]


def test_the_real_llmfao_and_hh_rlhf_events_agree(shared_data: Path, store: Store, tmp_path: Path) -> None:
    from preflog.importers import import_file
    from preflog.importers.llmfao import llmfao_to_arena_rows

    battles = tmp_path / "llmfao.jsonl"
    rows = llmfao_to_arena_rows(shared_data / "llmfao")
    battles.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    import_file(store, "arena", battles, project=PROJECT)
    import_file(store, "hh-rlhf", shared_data / "hh-rlhf/harmless-base-test.jsonl.gz", project=PROJECT)
    archived = archived_rows(store, tmp_path / "archive")
    for row in archived:
        check_row(row)
    inferences = [r for r in archived if r["type"] == "inference"]
    assert len(inferences) > 4000
    assert any(not r["text_only"] for r in inferences)  # HH-RLHF's continuations and chat prompts
    assert any("" in (r["outputs"] or ()) for r in inferences)  # LLMFAO's empty answers


def test_the_format_is_recorded_beside_the_watermark_and_kept(tmp_path: Path, store: Store) -> None:
    inf = f.inference()
    append_all(store, [inf], PROJECT)
    out = tmp_path / "archive"
    archive_events(store, project=PROJECT, out=str(out))
    assert read_state(open_target(str(out)), PROJECT)["format"] == FORMAT == 2
    state = out / "_preflog" / PROJECT / "state.json"
    old = json.loads(state.read_text())
    del old["format"]  # an archive written before formats were recorded
    state.write_text(json.dumps(old))
    append_all(store, [f.preference(inf["request_id"])], PROJECT)
    archive_events(store, project=PROJECT, out=str(out))
    assert read_state(open_target(str(out)), PROJECT)["format"] == 1  # its first file lacks the columns
