"""The non-TRL formats on hand-built pairs: the right keys, one type per column, read back where
the format allows; and each one end to end through compile_dataset on imported events."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from preflog.compile import compile_dataset
from preflog.errors import ConfigError
from preflog.formats import get_format
from preflog.formats.base import DataFile, read_rows_file
from preflog.importers import import_file
from preflog.records import Pair
from preflog.store import open_store

SYSTEM = "You are terse."
CHAT = [
    {"role": "user", "content": "Hi"},
    {"role": "assistant", "content": "Hello."},
    {"role": "user", "content": "What is 2+2?"},
]


def pair(prompt: Any = "What is 2+2?", system: str | None = None, **extra: Any) -> Pair:
    fields: dict[str, Any] = {
        "prompt": prompt,
        "system": system,
        "chosen": "4",
        "rejected": "5",
        "request_id": "r1",
        "chosen_id": "a",
        "rejected_id": "b",
        "chosen_model": "m-good",
        "rejected_model": "m-bad",
        "sources": ("human",),
        "occurred_at": "2026-11-26T10:05:00.000000Z",
    }
    fields.update(extra)
    return Pair(**fields)


PAIRS = [pair(), pair(CHAT, SYSTEM, margin=1.5), pair([CHAT[0]], None, chosen_first=False)]

KEYS = {
    "axolotl": ["messages", "chosen", "rejected"],
    "axolotl-chatml-intel": ["system", "question", "chosen", "rejected"],
    "openrlhf": ["prompt", "chosen", "rejected", "margin"],
    "llamafactory": ["conversations", "system", "chosen", "rejected"],
    "llamafactory-alpaca": ["instruction", "input", "system", "history", "chosen", "rejected"],
    "hh-rlhf": ["chosen", "rejected"],
    "ultrafeedback": [
        "prompt",
        "prompt_id",
        "chosen",
        "rejected",
        "messages",
        "score_chosen",
        "score_rejected",
    ],
    "arena": [
        "question_id",
        "model_a",
        "model_b",
        "winner",
        "judge",
        "conversation_a",
        "conversation_b",
        "turn",
        "tstamp",
    ],
}


def column_types(rows: list[dict[str, Any]]) -> dict[str, set[str]]:
    types: dict[str, set[str]] = {}
    for row in rows:
        for key, value in row.items():
            types.setdefault(key, set()).add(type(value).__name__)
    return types


def written(name: str, pairs: list[Pair]) -> list[dict[str, Any]]:
    rows = list(get_format(name).write_rows(pairs))
    return json.loads(json.dumps(rows))  # what a JSONL reader sees


@pytest.mark.parametrize("name", sorted(KEYS))
def test_rows_have_the_keys_and_one_type_per_column(name: str) -> None:
    pairs = [PAIRS[0], PAIRS[2]] if name == "axolotl-chatml-intel" else PAIRS
    rows = written(name, pairs)
    assert len(rows) == len(pairs)
    assert all(list(row) == KEYS[name] for row in rows)
    assert all(len(kinds) == 1 for kinds in column_types(rows).values()), column_types(rows)


@pytest.mark.parametrize("name", sorted(KEYS))
def test_read_back_gives_the_texts(name: str) -> None:
    pairs = [PAIRS[0], PAIRS[2]] if name == "axolotl-chatml-intel" else PAIRS
    spec = get_format(name)
    assert spec.read_rows is not None
    back = list(spec.read_rows(written(name, pairs)))
    assert [(p.chosen, p.rejected) for p in back] == [(p.chosen, p.rejected) for p in pairs]
    for original, again in zip(pairs, back, strict=True):
        if name in ("axolotl-chatml-intel", "llamafactory-alpaca") and isinstance(original.prompt, str):
            assert again.prompt == original.prompt
        if name in (
            "axolotl",
            "hh-rlhf",
            "llamafactory",
            "openrlhf",
            "ultrafeedback",
            "arena",
        ) and not isinstance(original.prompt, str):
            assert (again.prompt, again.system) == (original.prompt, original.system)


def test_chat_template_and_openrlhf_shapes() -> None:
    row = written("axolotl", [PAIRS[1]])[0]
    assert row["messages"] == [{"role": "system", "content": SYSTEM}, *CHAT]
    assert row["chosen"] == {"role": "assistant", "content": "4"}
    rows = written("openrlhf", PAIRS)
    assert rows[0]["prompt"] == [{"role": "user", "content": "What is 2+2?"}]  # file-wide: conversational
    assert rows[1]["chosen"] == [{"role": "assistant", "content": "4"}]
    assert [r["margin"] for r in rows] == [0.0, 1.5, 0.0]
    plain = written("openrlhf", [PAIRS[0]])[0]
    assert plain == {"prompt": "What is 2+2?", "chosen": "4", "rejected": "5", "margin": 0.0}


def test_chatml_intel_refuses_multi_turn_prompts() -> None:
    assert written("axolotl-chatml-intel", [pair(system=SYSTEM)])[0]["system"] == SYSTEM
    with pytest.raises(ConfigError, match="use --format axolotl"):
        written("axolotl-chatml-intel", PAIRS)


def test_llamafactory_shapes_and_dataset_info() -> None:
    share = written("llamafactory", [PAIRS[1]])[0]
    assert share["conversations"] == [
        {"from": "human", "value": "Hi"},
        {"from": "gpt", "value": "Hello."},
        {"from": "human", "value": "What is 2+2?"},
    ]
    assert (share["system"], share["chosen"]) == (SYSTEM, {"from": "gpt", "value": "4"})
    alpaca = written("llamafactory-alpaca", [PAIRS[1]])[0]
    assert (alpaca["instruction"], alpaca["history"]) == ("What is 2+2?", [["Hi", "Hello."]])
    merged = written("llamafactory", [pair([CHAT[0], CHAT[2]])])[0]["conversations"]
    assert merged == [{"from": "human", "value": "Hi\n\nWhat is 2+2?"}]
    files = [DataFile("train.jsonl", 3, 10, "x"), DataFile("test.jsonl", 1, 5, "y")]
    for name, formatting in (("llamafactory", "sharegpt"), ("llamafactory-alpaca", None)):
        extra = get_format(name).extra_files
        assert extra is not None
        info = json.loads(extra(files)["dataset_info.json"])
        assert sorted(info) == ["test", "train"]
        entry = info["train"]
        assert entry["file_name"] == "train.jsonl" and entry["ranking"] is True
        assert entry.get("formatting") == formatting
        assert set(entry["columns"].values()) <= set(KEYS[name])


def test_ultrafeedback_scores_and_prompt_id() -> None:
    import hashlib

    rows = written("ultrafeedback", PAIRS)
    assert rows[1]["prompt"] == "What is 2+2?"
    assert rows[1]["prompt_id"] == hashlib.sha256(b"What is 2+2?").hexdigest()
    assert rows[1]["chosen"][-1] == {"role": "assistant", "content": "4"}
    assert rows[1]["messages"] == rows[1]["chosen"]
    assert [(r["score_chosen"], r["score_rejected"]) for r in rows] == [(1.0, 0.0), (1.5, 0.0), (1.0, 0.0)]


def test_arena_model_a_is_the_output_shown_first() -> None:
    rows = written("arena", PAIRS)
    assert (rows[0]["model_a"], rows[0]["winner"]) == ("m-good", "model_a")  # order unknown: smaller id first
    assert (rows[2]["model_a"], rows[2]["winner"]) == ("m-bad", "model_b")  # chosen was shown second
    assert rows[0]["tstamp"] == 1795687500.0 and rows[0]["judge"] == "human"
    assert "tstamp" not in written("arena", [pair(occurred_at=None)])[0]


# ---------------------------------------------------------------------------------------------- end to end


@pytest.fixture
def arena_store(tmp_path: Path) -> Any:
    rows = []
    for i in range(6):
        conv = [{"role": "user", "content": f"Question {i}?"}]
        rows.append(
            {
                "question_id": f"q{i}",
                "model_a": "alpha",
                "model_b": "beta",
                "winner": ["model_a", "model_b", "tie"][i % 3],
                "judge": "j1",
                "conversation_a": [*conv, {"role": "assistant", "content": f"Alpha answer {i}"}],
                "conversation_b": [*conv, {"role": "assistant", "content": f"Beta answer {i}"}],
                "tstamp": 1.7e9 + i,
            }
        )
    path = tmp_path / "battles.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    store = open_store(str(tmp_path / "events.db"))
    assert import_file(store, "arena", path, project="e2e").imported == 6
    yield store
    store.close()


@pytest.mark.parametrize("name", sorted(KEYS))
def test_compiled_end_to_end(name: str, arena_store: Any, tmp_path: Path) -> None:
    out = tmp_path / name
    manifest = compile_dataset(arena_store, project="e2e", out_dir=out, format=name)
    rows = list(read_rows_file(out / "train.jsonl"))
    assert len(rows) == 4 == manifest.counts_out["items"]  # the two ties are not pairs
    assert all(list(row) == KEYS[name] for row in rows)
    assert all(len(kinds) == 1 for kinds in column_types(rows).values())
    if name.startswith("llamafactory"):
        info = json.loads((out / "dataset_info.json").read_text(encoding="utf-8"))
        assert info["train"]["file_name"] == "train.jsonl"


def test_arena_export_imports_back(arena_store: Any, tmp_path: Path) -> None:
    compile_dataset(arena_store, project="e2e", out_dir=tmp_path / "a", format="arena")
    rows = list(read_rows_file(tmp_path / "a" / "train.jsonl"))
    assert {(r["model_a"], r["winner"]) for r in rows} == {("alpha", "model_a"), ("alpha", "model_b")}
    with open_store(str(tmp_path / "again.db")) as store:
        report = import_file(store, "arena", tmp_path / "a" / "train.jsonl", project="again")
        assert (report.imported, report.rejected) == (4, [])
        votes = [e.event for e in store.iter_events(project="again", types=["preference"])]
        assert sorted(v["chosen"] for v in votes) == ["a", "a", "b", "b"]
        assert all(v["presented"] == ["a", "b"] for v in votes)
