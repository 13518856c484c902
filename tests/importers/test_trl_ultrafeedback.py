from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from preflog.errors import ValidationError
from preflog.importers import ImportOptions, import_file
from preflog.importers.trl import trl_events
from preflog.importers.ultrafeedback import ultrafeedback_events
from preflog.store import Store
from tests.importers.conftest import PROJECT, events_of, write_jsonl

U = {"role": "user", "content": "What is 2+2?"}


def reply(text: str) -> dict[str, str]:
    return {"role": "assistant", "content": text}


# ---------------------------------------------------------------------------------------------- trl


@pytest.mark.parametrize(
    ("row", "prompt", "outputs"),
    [
        ({"prompt": "2+2?", "chosen": "4", "rejected": "5"}, "2+2?", ["4", "5"]),
        ({"prompt": [U], "chosen": [reply("4")], "rejected": [reply("5")]}, [U], ["4", "5"]),
        ({"prompt": [U], "chosen": [U, reply("4")], "rejected": [U, reply("5")]}, [U], ["4", "5"]),
        ({"chosen": [U, reply("4")], "rejected": [U, reply("5")]}, [U], ["4", "5"]),
        (
            {"chosen": "The sky is blue.", "rejected": "The sky is green."},
            "The sky is",
            [" blue.", " green."],
        ),
    ],
    ids=["standard", "conversational", "repeated-prompt", "implicit-conversational", "implicit-standard"],
)
def test_trl_shapes(row: dict[str, Any], prompt: Any, outputs: list[str]) -> None:
    inference, vote = trl_events(row, ImportOptions())
    assert inference["prompt"] == prompt
    assert [c["output"] for c in inference["candidates"]] == outputs
    assert (vote["chosen"], vote["rejected"]) == ("a", "b")
    assert vote["source"] == {"kind": "human"}
    assert "presented" not in vote and "presented" not in inference


def test_trl_system_scores_and_metadata() -> None:
    row = {
        "prompt": [{"role": "system", "content": "Be terse."}, U],
        "chosen": [reply("4")],
        "rejected": [reply("five")],
        "score_chosen": 8,
        "score_rejected": 3.5,
        "margin": 4.5,
        "id": 17,
    }
    inference, vote = trl_events(row, ImportOptions(criterion="accuracy"))
    assert inference["system"] == "Be terse." and inference["prompt"] == [U]
    assert vote["scores"] == {"a": 8.0, "b": 3.5} and vote["criterion"] == "accuracy"
    assert inference["metadata"] == {"imported_from": "trl", "id": "17", "margin": 4.5}


def test_trl_unpaired_rows_become_thumbs() -> None:
    inference, signal = trl_events({"prompt": "2+2?", "completion": "4", "label": True}, ImportOptions())
    assert [c["output"] for c in inference["candidates"]] == ["4"]
    assert (signal["type"], signal["signal"], signal["candidate_id"]) == ("signal", "thumbs_up", "a")
    down = trl_events({"prompt": [U], "completion": [reply("5")], "label": False}, ImportOptions())[1]
    assert down["signal"] == "thumbs_down"


@pytest.mark.parametrize(
    ("row", "field"),
    [
        ({"prompt": "2+2?", "chosen": "4"}, "rejected"),
        ({"prompt": [U], "chosen": [reply("4"), reply("more")], "rejected": [reply("5")]}, "chosen"),
        (
            {"chosen": [U, reply("4")], "rejected": [{"role": "user", "content": "other"}, reply("5")]},
            "rejected",
        ),
        ({"prompt": "2+2?", "chosen": 4, "rejected": "5"}, "chosen"),
        ({"prompt": "2+2?", "completion": "4", "label": "yes"}, "label"),
    ],
)
def test_trl_bad_rows(row: dict[str, Any], field: str) -> None:
    with pytest.raises(ValidationError) as err:
        trl_events(row, ImportOptions())
    assert err.value.field == field


def test_trl_import_reports_and_is_idempotent(tmp_path: Path, store: Store) -> None:
    rows: list[Any] = [
        {"prompt": "2+2?", "chosen": "4", "rejected": "5"},
        {"prompt": "2+2?", "chosen": "", "rejected": "5"},  # an empty answer is an answer
        {"prompt": "3+3?", "chosen": "6", "rejected": 7},
        {"prompt": "2+2?", "chosen": "4", "rejected": "5"},  # the same row again: the same events
    ]
    path = write_jsonl(tmp_path / "trl.jsonl", rows)
    first = import_file(store, "trl", path, project=PROJECT)
    assert [(p.row, p.field) for p in first.rejected] == [(3, "rejected")]
    assert (first.imported, first.stored, first.duplicates, first.requests) == (3, 4, 1, 2)
    second = import_file(store, "trl", path, project=PROJECT)
    assert (second.stored, second.duplicates) == (0, 5)
    assert len(events_of(store)) == 4
    outputs = sorted(c["output"] for e in events_of(store, "inference") for c in e["candidates"])
    assert outputs == ["", "4", "5", "5"]


# ---------------------------------------------------------------------------------------------- ultrafeedback


def uf_row(chosen: str = "4", rejected: str = "5", **extra: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "prompt": U["content"],
        "prompt_id": "abc123",
        "chosen": [U, reply(chosen)],
        "rejected": [U, reply(rejected)],
        "messages": [U, reply(chosen)],
        "score_chosen": 9.0,
        "score_rejected": 4.0,
    }
    row.update(extra)
    return row


def test_ultrafeedback_keeps_scores_on_the_preference() -> None:
    inference, vote = ultrafeedback_events(uf_row(), ImportOptions())
    assert inference["prompt"] == [U]
    assert [c["output"] for c in inference["candidates"]] == ["4", "5"]
    assert vote["scores"] == {"a": 9.0, "b": 4.0}
    assert vote["source"] == {"kind": "ai_judge", "id": "ultrafeedback"}
    assert inference["metadata"] == {"imported_from": "ultrafeedback", "prompt_id": "abc123"}


def test_ultrafeedback_reply_only_conversations_use_prompt() -> None:
    row = uf_row()
    row["chosen"], row["rejected"] = [reply("4")], [reply("5")]
    inference, _ = ultrafeedback_events(row, ImportOptions())
    assert inference["prompt"] == [U]


def test_ultrafeedback_import(tmp_path: Path, store: Store) -> None:
    rows = [uf_row(), uf_row(score_rejected=None), uf_row(), uf_row("a", "b")]
    rows[2]["rejected"] = [{"role": "user", "content": "other"}, reply("x")]
    report = import_file(store, "ultrafeedback", write_jsonl(tmp_path / "uf.jsonl", rows), project=PROJECT)
    assert [(p.row, p.field) for p in report.rejected] == [(2, "score_rejected"), (3, "rejected")]
    assert report.stored == 4
    assert import_file(store, "ultrafeedback", tmp_path / "uf.jsonl", project=PROJECT).duplicates == 4
