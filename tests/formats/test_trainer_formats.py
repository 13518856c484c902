"""The hosted and NVIDIA trainers' formats — ``openai-dpo``, ``vertex``, ``nemo-rl`` — written, read
back and checked against the layout docs/formats.md documents (its examples are the writers'
output); what their trainers cannot take is dropped with a counted reason; and ``preflog verify``'s
schema checks catch one broken row of every non-TRL format."""

from __future__ import annotations

import copy
import json
import re
import uuid
from pathlib import Path
from typing import Any

import pytest

from preflog.compile import CompileOptions, compile_dataset
from preflog.formats import get_format
from preflog.formats.base import read_rows_file
from preflog.records import Pair, Reply, as_messages
from preflog.store import open_store
from preflog.verify import verify_dataset
from preflog.verify.schemas import row_problems
from tests import factories as f
from tests.conftest import ROOT
from tests.formats.test_v2_records import TOOL_PROMPT, WEATHER

NEW = ("openai-dpo", "vertex", "nemo-rl")
DOC_PROMPT = [
    {"role": "user", "content": "Hi"},
    {"role": "assistant", "content": "Hello."},
    {"role": "user", "content": "What is 2+2?"},
]
CALL = [{"role": "assistant", "content": "", "tool_calls": [{**WEATHER, "id": "call_2"}]}]
REFUSED = [{"role": "assistant", "content": "", "refusal": "I can't help with that."}]
AGENT = [
    {"role": "assistant", "content": "", "tool_calls": [{**WEATHER, "id": "call_3"}]},
    {"role": "tool", "content": '{"sky":"rain"}', "tool_call_id": "call_3", "name": "weather"},
    {"role": "assistant", "content": "Rain tomorrow."},
]


def pair(prompt: Any, system: str | None = None, chosen: Reply = "4", rejected: Reply = "5") -> Pair:
    return Pair(prompt, system, chosen, rejected, "r1", "a", "b", "atlas-7b", "zephyr-3b", margin=1.5)


DOC_PAIR = pair(DOC_PROMPT, "Be brief.")
PAIRS = [pair("What is 2+2?"), DOC_PAIR, pair(DOC_PROMPT[:1]), pair("Say nothing.", chosen="", rejected="Hi")]


def written(fmt: str, pairs: list[Pair]) -> list[dict[str, Any]]:
    return [json.loads(json.dumps(r)) for r in get_format(fmt).write_rows(pairs)]


def documented_example(fmt: str) -> dict[str, Any]:
    """The first JSON example under the format's heading in docs/formats.md."""
    doc = (ROOT / "docs" / "formats.md").read_text(encoding="utf-8")
    section = doc[doc.index(f"## `{fmt}`") :]
    match = re.search(r"```json\n(.*?)\n```", section, re.DOTALL)
    assert match, f"docs/formats.md has no example for {fmt}"
    example: dict[str, Any] = json.loads(match.group(1))
    return example


@pytest.mark.parametrize("fmt", NEW)
def test_rows_are_the_documented_layout(fmt: str) -> None:
    (row,) = written(fmt, [DOC_PAIR])
    assert row == documented_example(fmt)
    for each in written(fmt, PAIRS):
        assert row_problems(fmt, each) == [], each


@pytest.mark.parametrize("fmt", NEW)
def test_read_back_gives_the_pairs(fmt: str) -> None:
    spec = get_format(fmt)
    assert spec.read_rows is not None
    back = list(spec.read_rows(written(fmt, PAIRS)))
    for original, again in zip(PAIRS, back, strict=True):
        assert (again.chosen, again.rejected) == (original.chosen, original.rejected)
        assert as_messages(again.prompt, again.system) == as_messages(original.prompt, original.system)
    assert list(spec.read_rows(written(fmt, back))) == back  # reading is stable


def test_openai_rows_keep_the_openai_shape() -> None:
    (row,) = written("openai-dpo", [pair(TOOL_PROMPT, chosen=CALL, rejected=REFUSED)])
    assert row["input"]["messages"][1]["tool_calls"] == [WEATHER]  # arguments stay a JSON string
    assert row["input"]["messages"][2] == {
        "role": "tool",
        "content": '{"sky":"sunny"}',
        "tool_call_id": "call_1",
    }
    assert row["preferred_output"] == CALL and row["non_preferred_output"] == REFUSED
    assert (row["input"]["tools"], row["input"]["parallel_tool_calls"]) == ([], True)
    assert row_problems("openai-dpo", row) == []
    (back,) = get_format("openai-dpo").read_rows([row])  # type: ignore[misc]
    assert (back.chosen, back.rejected) == (CALL, REFUSED)
    with pytest.raises(ValueError, match="single-turn"):
        written("openai-dpo", [pair(TOOL_PROMPT, chosen=AGENT)])


def test_nemo_rows_are_what_chat_templates_read() -> None:
    (row,) = written("nemo-rl", [pair(TOOL_PROMPT, chosen=AGENT, rejected=REFUSED)])
    assert row["context"][1]["tool_calls"][0]["function"]["arguments"] == {"city": "Paris"}
    assert [m["role"] for m in row["completions"][0]["completion"]] == ["assistant", "tool", "assistant"]
    assert row["completions"][1]["completion"][0]["content"] == "I can't help with that."
    assert row_problems("nemo-rl", row) == []
    (back,) = get_format("nemo-rl").read_rows([row])  # type: ignore[misc]
    assert (back.chosen, back.rejected) == (AGENT, REFUSED)


def test_vertex_takes_text_only() -> None:
    (row,) = written("vertex", [pair("Say nothing.", chosen="")])
    assert row["completions"][0] == {"score": 1, "completion": {"role": "model", "parts": [{"text": ""}]}}
    assert "system_instruction" not in row
    for reply in (CALL, REFUSED, AGENT):
        with pytest.raises(ValueError, match="text replies only"):
            written("vertex", [pair("Q?", chosen=reply)])


NS = uuid.UUID("5e0c7a3b-1d2f-4e6a-9b8c-7d6e5f4a3b2c")
ENDS_WITH_ASSISTANT = [
    {"role": "user", "content": "Finish my sentence."},
    {"role": "assistant", "content": "The sky"},
]
SYSTEM_MIDWAY = [
    {"role": "user", "content": "Hi"},
    {"role": "system", "content": "Now answer in French."},
    {"role": "user", "content": "What is 2+2?"},
]


def test_compile_drops_what_the_trainer_cannot_take(tmp_path: Path) -> None:
    events: list[dict[str, Any]] = []
    for i, prompt in enumerate(["What is 2+2?", ENDS_WITH_ASSISTANT, SYSTEM_MIDWAY, DOC_PROMPT]):
        rid = str(uuid.uuid5(NS, str(i)))
        events += [f.inference(rid, outputs=(f"Good {i}.", f"Bad {i}."), prompt=prompt), f.preference(rid)]
    expected = {  # format → (the requests it keeps, its drops)
        "openai-dpo": ([0, 2, 3], {"unsupported_last_turn": 1}),
        "vertex": ([0, 3], {"unsupported_last_turn": 1, "unsupported_role": 1}),
        "nemo-rl": ([0, 1, 2, 3], {}),
    }
    with open_store(str(tmp_path / "events.db")) as store:
        assert {r.status for r in store.append(events, project="p")} == {"stored"}
        for fmt, (kept, drops) in expected.items():
            out = tmp_path / fmt
            manifest = compile_dataset(store, project="p", out_dir=out, format=fmt, options=CompileOptions())
            assert (manifest.counts_out["items"], manifest.drops) == (len(kept), drops), fmt
            rows = list(read_rows_file(out / "train.jsonl"))
            assert all(row_problems(fmt, row) == [] for row in rows)
            back = list(get_format(fmt).read_rows(rows))  # type: ignore[misc]
            assert sorted(p.chosen for p in back) == [f"Good {i}." for i in kept]
            report = verify_dataset(out, steps=0)
            assert report.ok and report.format == fmt


def _set(row: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    """A copy of ``row`` with the value at ``a.b.0.c`` replaced (``None``: the key removed)."""
    out = copy.deepcopy(row)
    *head, last = path.split(".")
    node: Any = out
    for key in head:
        node = node[int(key)] if isinstance(node, list) else node[key]
    if value is None:
        del node[last]
    else:
        node[int(last) if isinstance(node, list) else last] = value
    return out


# format → (path to break, the broken value, the check that must catch it)
BREAKS: dict[str, tuple[str, Any, str]] = {
    "axolotl": ("messages.1.role", "function", "roles"),
    "axolotl-chatml-intel": ("question", None, "schema"),
    "openrlhf": ("chosen", "4", "schema"),
    "llamafactory": ("conversations.1.from", "human", "roles"),
    "llamafactory-alpaca": ("history", [["Hi"]], "schema"),
    "hh-rlhf": ("rejected", "Human: no assistant turn", "schema"),
    "ultrafeedback": ("chosen.4.role", "user", "schema"),
    "arena": ("winner", "both", "schema"),
    "openai-dpo": ("input.messages.3.role", "assistant", "schema"),
    "vertex": ("completions.1.score", 1, "schema"),
    "nemo-rl": ("completions.1.rank", 0, "schema"),
}
MORE_BREAKS = [
    ("openai-dpo", "preferred_output", [{"role": "assistant", "content": "4"}] * 2, "schema"),
    ("vertex", "contents.1.role", "assistant", "roles"),
    ("axolotl", "id", "row-7", "extra_columns"),
]


@pytest.mark.parametrize(
    ("fmt", "path", "value", "check"),
    [(fmt, *b) for fmt, b in BREAKS.items()] + MORE_BREAKS,
    ids=[f"{fmt}:{b[0]}" for fmt, b in BREAKS.items()] + [f"{m[0]}:{m[1]}" for m in MORE_BREAKS],
)
def test_verify_catches_a_broken_row_of_every_format(
    tmp_path: Path, fmt: str, path: str, value: Any, check: str
) -> None:
    first = pair("Hi there?", "Be brief.") if fmt == "axolotl-chatml-intel" else DOC_PAIR  # single-turn only
    good = written(fmt, [first, pair("What is 2+2?", "Be brief.")])
    broken = _set(good[0], path, value) if path in good[0] or "." in path else {**good[0], path: value}
    rows = [good[1], broken, good[1]]
    out = tmp_path / "ds"
    out.mkdir()
    text = "".join(json.dumps(r) + "\n" for r in rows)
    (out / "train.jsonl").write_text(text, encoding="utf-8")
    manifest = {
        "format": fmt,
        "files": [{"name": "train.jsonl", "rows": 3, "bytes": len(text), "sha256": ""}],
    }
    (out / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    report = verify_dataset(out, steps=0)
    failed = {c.check: {e.where for e in c.examples} for c in report.checks if c.status == "fail"}
    assert failed == {check: {"train.jsonl:2"}}, failed
    assert not report.ok


def test_parquet_keeps_a_key_the_first_row_leaves_out(tmp_path: Path) -> None:
    pytest.importorskip("pyarrow")
    from preflog.formats.base import write_rows_file

    items = [pair("What is 2+2?"), pair("What is 3+3?", "Be brief.")]  # only the second has a system
    info = write_rows_file(tmp_path / "train.parquet", get_format("vertex").write_rows(items), parquet=True)
    rows = list(read_rows_file(tmp_path / "train.parquet"))
    assert info.rows == 2 and rows[1]["system_instruction"] == {"parts": [{"text": "Be brief."}]}
    assert [p.system for p in get_format("vertex").read_rows(rows)] == [None, "Be brief."]  # type: ignore[misc]
    assert all(row_problems("vertex", row) == [] for row in rows)


def _v2_events() -> list[dict[str, Any]]:
    """Three requests as contract v2 logs them: a tool call against an empty answer under a prompt
    with tool turns; an agent continuation against a refusal; a plain text pair."""
    from preflog.events import new_id

    tool = f.inference(outputs=("", ""), prompt=TOOL_PROMPT)
    tool["candidates"][0].update(tool_calls=CALL[0]["tool_calls"], finish_reason="tool_calls")
    agent = f.inference(outputs=("", ""), prompt="Weather tomorrow?")
    del agent["candidates"][0]["output"]
    agent["candidates"][0]["messages"] = AGENT
    agent["candidates"][1]["refusal"] = "I can't help with that."
    plain = f.inference(outputs=("Paris.", "Lyon."), prompt="Capital of France?")
    events = [tool, agent, plain]
    for inference in list(events):
        events.append({**f.preference(str(inference["request_id"])), "event_id": new_id()})
    return events


def test_v2_events_compile_to_each_trainer_format(tmp_path: Path) -> None:
    expected = {  # format → (items, drops)
        "openai-dpo": (2, {"unsupported_continuation": 1}),
        "vertex": (1, {"unsupported_tool_calls": 2}),
        "nemo-rl": (3, {}),
    }
    with open_store(str(tmp_path / "events.db")) as store:
        answers = store.append(_v2_events(), project="p")
        assert {a.status for a in answers} == {"stored"}, [a.reason for a in answers]
        for fmt, (items, drops) in expected.items():
            out = tmp_path / fmt
            manifest = compile_dataset(store, project="p", out_dir=out, format=fmt, options=CompileOptions())
            assert (manifest.counts_out["items"], manifest.drops) == (items, drops), fmt
            rows = list(read_rows_file(out / "train.jsonl"))
            assert all(row_problems(fmt, row) == [] for row in rows), rows
            back = {
                p.chosen if isinstance(p.chosen, str) else "calls" for p in get_format(fmt).read_rows(rows)
            }  # type: ignore[misc]
            assert "Paris." in back
            assert verify_dataset(out, steps=0).ok
