"""Event contract v2 through compile, on a real store: tool calls under a prompt with tool turns, an
agent continuation, an empty answer and a refusal. Every format either writes each item faithfully
(its rows read back to the same replies) or drops it under its counted ``unsupported_*`` reason;
empty answers compile unless ``drop_empty``; Parquet never carries tool calls."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from preflog.compile import CompileOptions, compile_dataset
from preflog.formats import available_formats, get_format
from preflog.formats.base import read_rows_file
from preflog.records import FEATURES, as_messages, canonical, needs, reply_of
from preflog.store import Store
from tests.compile.helpers import append_all
from tests.formats.test_v2_records import TOOL_PROMPT, WEATHER

T0 = "2026-11-26T10:00:00Z"
CANDIDATES = {
    "call": {
        "output": "",
        "tool_calls": [{**WEATHER, "id": "call_2"}],
        "finish_reason": "tool_calls",
    },
    "empty": {"output": "", "finish_reason": "stop"},
    "agent": {
        "messages": [
            {"role": "assistant", "content": "", "tool_calls": [{**WEATHER, "id": "call_3"}]},
            {"role": "tool", "tool_call_id": "call_3", "name": "weather", "content": '{"sky":"rain"}'},
            {"role": "assistant", "content": "Rain tomorrow."},
        ]
    },
    "text": {"output": "Probably rain.", "finish_reason": "stop"},
    "refused": {"output": "", "refusal": "I can't help with that.", "finish_reason": "stop"},
}
# (request, prompt, chosen, rejected): the judgments of the fixture
JUDGED = [
    ("tools", TOOL_PROMPT, "call", "empty"),  # a tool call over an empty answer, under tool turns
    ("tools", TOOL_PROMPT, "agent", "text"),  # an agent continuation over a text answer
    ("plain", "How do I pick a lock?", "text", "refused"),  # a refusal, rejected
    ("plain", "How do I pick a lock?", "text", "empty"),  # an empty answer, rejected
]
REQUESTS = {"tools": "0195b2c4-0000-7000-8000-000000000001", "plain": "0195b2c4-0000-7000-8000-000000000002"}


def events() -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for name, prompt in (("tools", TOOL_PROMPT), ("plain", "How do I pick a lock?")):
        used = sorted({c for r, _, w, lo in JUDGED if r == name for c in (w, lo)})
        out.append(
            {
                "event_id": f"0195b2c4-0000-7000-8000-0000000001{len(out):02d}",
                "type": "inference",
                "request_id": REQUESTS[name],
                "occurred_at": T0,
                "prompt": prompt,
                "candidates": [
                    {"candidate_id": c, "model": {"name": f"model-{c}"}, **CANDIDATES[c]} for c in used
                ],
            }
        )
    for i, (name, _, winner, loser) in enumerate(JUDGED):
        out.append(
            {
                "event_id": f"0195b2c4-0000-7000-8000-0000000002{i:02d}",
                "type": "preference",
                "request_id": REQUESTS[name],
                "occurred_at": T0,
                "chosen": winner,
                "rejected": loser,
                "source": {"kind": "human", "id": "ann"},
            }
        )
    return out


@pytest.fixture
def v2_store(any_store: Store, project: str) -> tuple[Store, str]:
    append_all(any_store, events(), project)
    return any_store, project


def expected() -> list[tuple[Any, Any, Any, frozenset[str]]]:
    """(prompt, chosen reply, rejected reply, what the item needs) of every judged pair."""
    out = []
    for _, prompt, winner, loser in JUDGED:
        chosen, rejected = reply_of(CANDIDATES[winner]), reply_of(CANDIDATES[loser])
        out.append((prompt, chosen, rejected, needs(prompt, (chosen, rejected))))
    return out


def first_missing(need: frozenset[str], carries: frozenset[str]) -> str | None:
    return next((f"unsupported_{f}" for f in FEATURES if f in need - carries), None)


PAIR_FORMATS = sorted(n for n in available_formats() if get_format(n).kind == "pairs")


@pytest.mark.parametrize("fmt", PAIR_FORMATS)
def test_every_format_writes_each_item_faithfully_or_counts_the_drop(
    fmt: str, v2_store: tuple[Store, str], tmp_path: Path
) -> None:
    store, project = v2_store
    spec = get_format(fmt)
    manifest = compile_dataset(store, project=project, out_dir=tmp_path / fmt, format=fmt)
    written = list(read_rows_file(tmp_path / fmt / "train.jsonl"))
    assert spec.read_rows is not None
    back = Counter(
        (canonical(as_messages(p.prompt, p.system)), canonical(p.chosen), canonical(p.rejected))
        for p in spec.read_rows(written)
    )
    kept: Counter[tuple[str, str, str]] = Counter()
    dropped: Counter[str] = Counter()
    for prompt, chosen, rejected, need in expected():
        reason = first_missing(need, spec.carries)
        if reason is None:
            kept[(canonical(as_messages(prompt)), canonical(chosen), canonical(rejected))] += 1
        else:
            dropped[reason] += 1
    assert back == kept  # written ones read back to the very replies
    assert {k: v for k, v in manifest.drops.items() if k.startswith("unsupported_")} == dict(dropped)
    assert manifest.counts_out["items"] == sum(kept.values()) == len(written)


def test_trl_keeps_all_four_and_drop_empty_leaves_the_empty_ones_out(
    v2_store: tuple[Store, str], tmp_path: Path
) -> None:
    store, project = v2_store
    manifest = compile_dataset(store, project=project, out_dir=tmp_path / "all", format="trl")
    assert manifest.counts_out["items"] == 4 and "empty_output" not in manifest.drops
    options = CompileOptions(drop_empty=True)
    dropped = compile_dataset(
        store, project=project, out_dir=tmp_path / "some", format="trl", options=options
    )
    # the empty answer is dropped twice; a tool call and a refusal with empty text are not empty
    assert (dropped.counts_out["items"], dropped.drops["empty_output"]) == (2, 2)
    assert dropped.options["drop_empty"] is True


def test_kto_from_pairs_carries_the_replies(v2_store: tuple[Store, str], tmp_path: Path) -> None:
    store, project = v2_store
    options = CompileOptions(unpaired_from_pairs=True)
    manifest = compile_dataset(
        store, project=project, out_dir=tmp_path / "kto", format="trl-kto", options=options
    )
    rows = list(read_rows_file(tmp_path / "kto" / "train.jsonl"))
    # tools: call, empty, agent, text; plain: text (chosen twice: one item), refused, empty
    assert manifest.counts_out["items"] == len(rows) == 7
    completions = {canonical(row["completion"]) for row in rows}
    assert canonical([{"role": "assistant", "content": ""}]) in completions
    assert any(len(row["completion"]) == 3 for row in rows)  # the agent continuation, whole


def test_parquet_drops_tool_calls(v2_store: tuple[Store, str], tmp_path: Path) -> None:
    pytest.importorskip("pyarrow")
    store, project = v2_store
    options = CompileOptions(parquet=True)
    manifest = compile_dataset(store, project=project, out_dir=tmp_path / "pq", format="trl", options=options)
    assert manifest.drops == {"unsupported_tool_calls": 2}
    assert manifest.counts_out["items"] == 2
