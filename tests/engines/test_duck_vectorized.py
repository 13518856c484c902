"""The DuckDB engine's SQL path (preflog.engines.vectorized) writes what the pipeline writes: on
random projects of the shapes it vectorizes — several judgments per pair under each aggregation,
orphans, unknown candidates, identical and empty replies, duplicates, presentation order, filters,
margins, splits, Parquet, incremental manifests — every pair format gives the same files (sha256)
and the same counts and drops as the store's compile, and the manifest says the SQL path ran.
Every shape or option it does not vectorize falls back to the pipeline, says why, and still
writes the same bytes."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from preflog.archive import archive_events
from preflog.compile import CompileOptions, Manifest, compile_dataset
from preflog.engines import compile_source
from preflog.formats import available_formats, get_format
from preflog.store import Store, open_store
from tests import factories as f
from tests.compile.helpers import append_all
from tests.engines.test_same_bytes import digests

PROJECT = "p"
PAIR_FORMATS = [name for name in available_formats() if get_format(name).kind == "pairs"]
VECTORIZED_OPTIONS: tuple[dict[str, Any], ...] = (
    {},
    {"aggregate": "unanimous"},
    {"aggregate": "latest"},
    {"min_agreement": 0.7},
    {"drop_empty": True},
    {"test_fraction": 0.5, "seed": 3},
    {"sources": ("human",), "criteria": ("helpful",)},
    {"since": "2026-11-26T10:02:00Z", "until": "2026-11-26T10:09:00Z"},
    {"users": ("u1",), "models": ("model-a",)},
    {"parquet": True, "test_fraction": 0.3},
)
TEXTS = ("Paris.", "Lyon.", "", "Paris.", "It is Paris, the capital.", "Je ne sais pas")
TIMES = ("2026-11-26T10:00:00Z", "2026-11-26T10:03:00Z", "2026-11-26T10:07:00Z", "2026-11-26T10:10:00Z")


@st.composite
def projects(draw: st.DrawFn) -> list[dict[str, Any]]:
    """Inferences of 2-3 text candidates and the preferences on them, in a random order."""
    events: list[dict[str, Any]] = []
    for _ in range(draw(st.integers(1, 7))):
        k = draw(st.integers(2, 3))
        ids = [f"c{i}" for i in range(k)]
        extra: dict[str, Any] = {}
        if draw(st.booleans()):
            extra["presented"] = draw(st.permutations(ids))
        user = draw(st.sampled_from([None, "u1", "u2"]))
        if user is not None:
            extra["user_id"] = user
        inference = f.inference(
            outputs=tuple(draw(st.sampled_from(TEXTS)) for _ in ids),
            models=tuple(draw(st.sampled_from(["model-a", "model-b"])) for _ in ids),
            prompt=draw(st.sampled_from(["Capital of France?", "Say it.", "¿Capital de Francia?"])),
            occurred_at=draw(st.sampled_from(TIMES)),
            **extra,
        )
        rid = inference["request_id"]
        if draw(st.integers(0, 5)):  # else an orphan: its judgments wait for it
            events.append(inference)
        for _ in range(draw(st.integers(0, 4))):
            chosen, rejected = draw(st.permutations([*ids, "cx"]))[:2]
            events.append(f.preference(rid, chosen, rejected, **_judgment_extra(draw, ids)))
    return draw(st.permutations(events))


def _judgment_extra(draw: st.DrawFn, ids: list[str]) -> dict[str, Any]:
    extra: dict[str, Any] = {
        "occurred_at": draw(st.sampled_from(TIMES)),
        "source": {"kind": draw(st.sampled_from(["human", "ai_judge"])), "id": "j"},
    }
    criterion = draw(st.sampled_from([None, "helpful", "safe"]))
    if criterion is not None:
        extra["criterion"] = criterion
    strength = draw(st.sampled_from([None, 0.25, 1, 0.1]))
    if strength is not None:
        extra["strength"] = strength
    if draw(st.booleans()):
        extra["presented"] = draw(st.permutations(ids))
    return extra


def compile_both(store: Store, root: Path, fmt: str, options: dict[str, Any]) -> tuple[Manifest, Manifest]:
    """The store's compile and the duckdb engine's on its archive: the same files and counts."""
    archive = str(root / "archive")
    archive_events(store, project=PROJECT, out=archive)
    duck = compile_source(store, project=PROJECT, engine="duckdb", from_archive=archive)
    opts = CompileOptions(**options)
    local = compile_dataset(store, project=PROJECT, out_dir=root / "local", format=fmt, options=opts)
    fast = compile_dataset(duck, project=PROJECT, out_dir=root / "duck", format=fmt, options=opts)
    assert digests(root / "duck") == digests(root / "local")
    assert (fast.counts_in, fast.counts_out, fast.drops) == (local.counts_in, local.counts_out, local.drops)
    assert local.engine == "local"  # the store's compile names its engine too
    return local, fast


@given(events=projects(), fmt=st.sampled_from(PAIR_FORMATS), options=st.sampled_from(VECTORIZED_OPTIONS))
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_the_sql_path_writes_what_the_pipeline_writes(
    events: list[dict[str, Any]], fmt: str, options: dict[str, Any]
) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        store = open_store(str(root / "events.db"))
        try:
            append_all(store, events + _plain_pair(), PROJECT)
            local, fast = compile_both(store, root, fmt, options)
            assert fast.engine == "duckdb (vectorized)"
            assert local.counts_out["items"]
        finally:
            store.close()


def _plain_pair() -> list[dict[str, Any]]:
    inf = f.inference(user_id="u1", models=("model-a", "model-b"))
    return [inf, f.preference(inf["request_id"], criterion="helpful")]


def test_every_aggregation_outcome_is_counted_as_the_pipeline_counts_it(tmp_path: Path) -> None:
    """2 votes against 1 (majority; low agreement at 0.7), 1 against 1 (no majority; the latest
    decides), dissent under unanimous, and multi-vote margins averaged."""
    store = open_store(str(tmp_path / "events.db"))
    try:
        events: list[dict[str, Any]] = []
        for votes in (("c0", "c0", "c1"), ("c0", "c1"), ("c1", "c1")):
            inf = f.inference(prompt=f"votes {votes}?")
            events.append(inf)
            for i, winner in enumerate(votes):
                loser = "c1" if winner == "c0" else "c0"
                when = f"2026-11-26T10:0{i}:00Z"
                events.append(
                    f.preference(inf["request_id"], winner, loser, occurred_at=when, strength=0.1 * i)
                )
        append_all(store, events, PROJECT)
        for n, options in enumerate(
            ({}, {"aggregate": "unanimous"}, {"aggregate": "latest"}, {"min_agreement": 0.7})
        ):
            local, fast = compile_both(store, tmp_path / str(n), "trl-reward", options)
            assert fast.engine == "duckdb (vectorized)"
        assert local.drops == {"low_agreement": 1, "no_majority": 1}
    finally:
        store.close()


def test_an_incremental_compile_takes_the_sql_path_and_writes_what_the_pipeline_writes(
    tmp_path: Path,
) -> None:
    store = open_store(str(tmp_path / "events.db"))
    try:
        first = [f.inference(prompt=f"first {i}?") for i in range(3)]
        append_all(store, first + [f.preference(e["request_id"]) for e in first], PROJECT)
        archive = str(tmp_path / "archive")
        archive_events(store, project=PROJECT, out=archive)
        duck = compile_source(store, project=PROJECT, engine="duckdb", from_archive=archive)
        compile_dataset(store, project=PROJECT, out_dir=tmp_path / "one", format="trl")
        late = f.preference(first[0]["request_id"], "c0", "c1", kind="ai_judge")  # agrees: 2 to 0
        more = [f.inference(prompt=f"second {i}?") for i in range(2)]
        append_all(store, [late, *more, *(f.preference(e["request_id"]) for e in more)], PROJECT)
        archive_events(store, project=PROJECT, out=archive)
        duck = compile_source(store, project=PROJECT, engine="duckdb", from_archive=archive)
        since = tmp_path / "one" / "manifest.json"
        local = compile_dataset(
            store, project=PROJECT, out_dir=tmp_path / "l", format="trl", since_manifest=since
        )
        fast = compile_dataset(
            duck, project=PROJECT, out_dir=tmp_path / "d", format="trl", since_manifest=since
        )
        assert fast.engine == "duckdb (vectorized)"
        assert digests(tmp_path / "d") == digests(tmp_path / "l")
        assert fast.drops == local.drops and local.drops["compiled_before"] == 2
        assert local.counts_out["items"] == 3  # the two new pairs and the pair a late judgment changed
    finally:
        store.close()


def _fallback_cases() -> list[tuple[str, str, dict[str, Any], Any]]:
    def with_score(rid: str) -> list[dict[str, Any]]:
        return [f.score(rid, "c0", 0.9), f.score(rid, "c1", 0.1)]

    def with_ranking(rid: str) -> list[dict[str, Any]]:
        return [f.preference(rid, ranking=["c1", "c0"], chosen=None, rejected=None)]

    def with_signal(rid: str) -> list[dict[str, Any]]:
        return [f.signal(rid, "c1", "thumbs_down")]

    def with_retraction(rid: str) -> list[dict[str, Any]]:
        p = f.preference(rid, "c1", "c0")
        return [p, f.retraction(rid, p["event_id"])]

    def with_erasure(rid: str) -> list[dict[str, Any]]:
        return [f.erasure(request_id=rid)]

    return [
        ("reward scores", "trl", {}, with_score),
        ("rankings or outcomes", "trl", {}, with_ranking),
        ("signals", "trl", {}, with_signal),
        ("retractions", "trl", {}, with_retraction),
        ("erasures", "trl", {}, with_erasure),
        ("unpaired format", "trl-kto", {"unpaired_from_pairs": True}, None),
        ("per-user groups", "trl", {"group_by": "user"}, None),
        ("caps and balancing", "trl", {"max_per_prompt": 1}, None),
        ("implicit pairs", "trl", {"implicit_pairs": ("thumbs",)}, None),
    ]


@pytest.mark.parametrize(("reason", "fmt", "options", "extra"), _fallback_cases())
def test_what_is_not_vectorized_falls_back_to_the_pipeline_and_says_why(
    tmp_path: Path, reason: str, fmt: str, options: dict[str, Any], extra: Any
) -> None:
    store = open_store(str(tmp_path / "events.db"))
    try:
        events: list[dict[str, Any]] = []
        for i in range(4):
            inf = f.inference(prompt=f"q{i}?", user_id=f"u{i % 2}")
            events += [inf, f.preference(inf["request_id"])]
        if extra is not None:
            events += extra(events[0]["request_id"])
        append_all(store, events, PROJECT)
        _, fast = compile_both(store, tmp_path, fmt, options)
        assert fast.engine == f"duckdb (pipeline fallback: {reason})"
    finally:
        store.close()


@pytest.mark.parametrize(
    "inference",
    [
        pytest.param(lambda: f.tool_inference(), id="v2-tool-calls-and-continuations"),
        pytest.param(lambda: f.inference(system="Be brief."), id="system-prompt"),
        pytest.param(lambda: f.inference(prompt=[{"role": "user", "content": "Hi?"}]), id="chat-prompt"),
    ],
)
def test_replies_and_prompts_beyond_text_fall_back_with_the_same_bytes(
    tmp_path: Path, inference: Any
) -> None:
    store = open_store(str(tmp_path / "events.db"))
    try:
        inf = inference()
        plain = f.inference(prompt='a text prompt that mentions "system": and "refusal": in quotes')
        events = [inf, plain, f.preference(plain["request_id"])]
        events += [f.preference(inf["request_id"], c["candidate_id"], "c0") for c in inf["candidates"][1:]]
        append_all(store, events, PROJECT)
        for fmt in ("trl", "openai-dpo"):
            _, fast = compile_both(store, tmp_path / fmt, fmt, {})
            assert fast.engine is not None and fast.engine.startswith(
                "duckdb (pipeline fallback: chat or system"
            )
    finally:
        store.close()


def test_a_text_mentioning_the_keys_of_richer_shapes_stays_on_the_sql_path(tmp_path: Path) -> None:
    """The probe's text search is only a first look: an inference whose metadata has the keys
    ``system``, ``messages``, ``tool_calls`` and ``refusal`` is checked exactly, and stays vectorized."""
    store = open_store(str(tmp_path / "events.db"))
    try:
        keys = {"system": "x", "messages": [1], "tool_calls": [2], "refusal": "no"}
        inf = f.inference(prompt='Explain {"system": 1}', metadata=keys)
        append_all(store, [inf, f.preference(inf["request_id"])], PROJECT)
        _, fast = compile_both(store, tmp_path, "trl", {})
        assert fast.engine == "duckdb (vectorized)"
    finally:
        store.close()


def test_the_latest_vote_without_an_order_shown_leaves_the_order_unknown(tmp_path: Path) -> None:
    """The pair's order shown is the latest agreeing vote's own (none: the inference's), as in the
    pipeline — not the latest vote that has one (DuckDB's arg_max skips a NULL argument)."""
    store = open_store(str(tmp_path / "events.db"))
    try:
        inf = f.inference(outputs=("Paris.", "Paris.", "Lyon."), models=("model-a",) * 3)
        rid = inf["request_id"]
        later = f.preference(rid, "c2", "c0", occurred_at=TIMES[1], strength=1)
        earlier = f.preference(rid, "c2", "c0", occurred_at=TIMES[0], presented=["c1", "c2", "c0"])
        append_all(store, [inf, later, earlier], PROJECT)
        for fmt in ("arena", "trl"):
            _, fast = compile_both(store, tmp_path / fmt, fmt, {})
            assert fast.engine == "duckdb (vectorized)"
    finally:
        store.close()


@pytest.mark.parametrize(
    ("ids", "twice"),
    [(["a", "a"], True), (["a", "b"], False), (["a", None], True), (["a", "b", "a"], True), (["a"], False)],
)
def test_the_probe_finds_candidate_ids_logged_twice(ids: list[str | None], twice: bool) -> None:
    """Two ids are compared as they are, more through list_distinct (a NULL id counts as there)."""
    import duckdb

    from preflog.engines.vectorized import probe

    conn = duckdb.connect()
    conn.execute(
        "CREATE TEMP TABLE ev AS SELECT false AS erased, 'inference' AS type, NULL::VARCHAR AS chosen, "
        "NULL::VARCHAR AS rejected, 'r' AS request_id, ?::VARCHAR[] AS candidate_ids, "
        "now() AS occurred_at",
        [ids],
    )
    assert probe(conn) == ("candidate ids logged twice in one inference" if twice else None)
