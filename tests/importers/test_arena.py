from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from preflog.errors import ValidationError
from preflog.importers import ImportOptions, import_file
from preflog.importers.arena import arena_events
from preflog.store import Store
from tests.importers.conftest import PROJECT, events_of, write_jsonl


def conv(prompt: str, reply: str) -> list[dict[str, str]]:
    return [{"role": "user", "content": prompt}, {"role": "assistant", "content": reply}]


def battle(
    winner: str = "model_a", judge: str = "j1", tstamp: float = 1700000000.0, **extra: Any
) -> dict[str, Any]:
    row: dict[str, Any] = {
        "question_id": "q1",
        "model_a": "alpha",
        "model_b": "beta",
        "winner": winner,
        "judge": judge,
        "conversation_a": conv("Capital of France?", "Paris."),
        "conversation_b": conv("Capital of France?", "Lyon."),
        "turn": 1,
        "anony": True,
        "language": "English",
        "tstamp": tstamp,
    }
    row.update(extra)
    return row


def test_one_row_gives_inference_and_preference_in_presented_order() -> None:
    inference, vote = arena_events(battle(winner="model_b"), ImportOptions())
    assert inference["prompt"] == [{"role": "user", "content": "Capital of France?"}]
    assert [(c["candidate_id"], c["output"], c["model"]["name"]) for c in inference["candidates"]] == [
        ("a", "Paris.", "alpha"),
        ("b", "Lyon.", "beta"),
    ]
    assert inference["presented"] == vote["presented"] == ["a", "b"]
    assert (vote["chosen"], vote["rejected"]) == ("b", "a")
    assert vote["source"] == {"kind": "human", "id": "j1"}
    assert vote["occurred_at"] == inference["occurred_at"] == "2023-11-14T22:13:20.000000Z"
    assert inference["metadata"] == {
        "imported_from": "arena",
        "question_id": "q1",
        "turn": 1,
        "language": "English",
        "anony": True,
    }


@pytest.mark.parametrize(
    ("winner", "form"),
    [
        ("model_a", {"chosen": "a", "rejected": "b"}),
        ("model_b", {"chosen": "b", "rejected": "a"}),
        ("tie", {"outcome": "tie", "candidates": ["a", "b"]}),
        ("tie (bothbad)", {"outcome": "both_bad", "candidates": ["a", "b"]}),
    ],
)
def test_winner_mapping(winner: str, form: dict[str, Any]) -> None:
    vote = arena_events(battle(winner=winner), ImportOptions())[1]
    assert {k: vote[k] for k in form} == form
    assert not ({"chosen", "outcome"} - set(form)) & set(vote)


def test_rows_sharing_question_and_conversations_are_one_request_judged_several_times(
    tmp_path: Path, store: Store
) -> None:
    rows = [
        battle("model_a", "j1", 1700000000.0),
        battle("tie", "j2", 1700000100.0),
        battle("model_b", "j3", 1700000200.0),
        battle("model_a", "j1", 1700000000.0, question_id="q2"),  # another question: another request
    ]
    report = import_file(store, "arena", write_jsonl(tmp_path / "b.jsonl", rows), project=PROJECT)
    assert (report.rows, report.imported, report.requests, report.stored) == (4, 4, 2, 6)
    inferences, votes = events_of(store, "inference"), events_of(store, "preference")
    assert len(inferences) == 2 and len(votes) == 4
    first = inferences[0]["request_id"]
    view = store.get_request(first, project=PROJECT)
    assert [p.event["source"]["id"] for p in view.preferences] == ["j1", "j2", "j3"]
    assert [p.event.get("outcome") for p in view.preferences] == [None, "tie", None]
    # the inference is the first row's: its time is the first vote's
    assert view.inference is not None and view.inference.event["occurred_at"] == "2023-11-14T22:13:20.000000Z"


def test_import_twice_adds_nothing(tmp_path: Path, store: Store) -> None:
    path = write_jsonl(tmp_path / "b.jsonl", [battle(judge=f"j{i}", tstamp=1.7e9 + i) for i in range(5)])
    first = import_file(store, "arena", path, project=PROJECT)
    second = import_file(store, "arena", path, project=PROJECT)
    assert (first.stored, first.duplicates) == (6, 0)
    assert (second.stored, second.duplicates, second.imported) == (0, 6, 5)
    assert second.ok


def test_bad_rows_are_reported_with_line_numbers_and_valid_rows_kept(tmp_path: Path, store: Store) -> None:
    rows: list[Any] = [
        battle(),
        battle(winner="model_c", judge="j2"),
        "{not json",
        "",
        battle(judge="j3", conversation_b=[{"role": "user", "content": "Capital of France?"}]),
        battle(judge="j4", conversation_a=conv("Capital of France?", "Par\x00is")),
        ["a list"],
        battle(judge="j5"),
    ]
    report = import_file(store, "arena", write_jsonl(tmp_path / "b.jsonl", rows), project=PROJECT)
    problems = {p.row: (p.field, p.reason) for p in report.rejected}
    assert sorted(problems) == [2, 3, 5, 6, 7]
    assert problems[2][0] == "winner" and "model_c" in problems[2][1]
    assert problems[3][1].startswith("invalid JSON")
    assert problems[5] == ("conversation_b", "has 0 assistant turns, fewer than turn 1")
    assert problems[6][0] == "candidates[0].output" and problems[6][1].startswith("contains a NUL")
    assert report.rows == 7 and report.imported == 2 and not report.ok
    assert {p["source"]["id"] for p in events_of(store, "preference")} == {"j1", "j5"}


def test_turn_cuts_the_conversation_and_different_contexts_are_kept() -> None:
    conv_a = [*conv("Hi", "Hello from A"), *conv("And?", "More from A")]
    conv_b = [*conv("Hi", "Hello from B"), *conv("And?", "More from B")]
    first = arena_events(battle(turn=1, conversation_a=conv_a, conversation_b=conv_b), ImportOptions())[0]
    assert first["prompt"] == [{"role": "user", "content": "Hi"}]
    assert [c["output"] for c in first["candidates"]] == ["Hello from A", "Hello from B"]
    assert "metadata" not in first["candidates"][1]
    second = arena_events(battle(turn=2, conversation_a=conv_a, conversation_b=conv_b), ImportOptions())[0]
    assert second["prompt"] == conv_a[:3]
    assert [c["output"] for c in second["candidates"]] == ["More from A", "More from B"]
    assert second["candidates"][1]["metadata"] == {"context": conv_b[:3]}
    assert first["request_id"] != second["request_id"]
    with pytest.raises(ValidationError) as err:
        arena_events(battle(turn=3, conversation_a=conv_a, conversation_b=conv_b), ImportOptions())
    assert err.value.field == "conversation_a"


def test_system_message_judge_list_and_options() -> None:
    conv_a = [{"role": "system", "content": "Be brief."}, *conv("Hi", "Hello")]
    options = ImportOptions(source_kind="ai_judge", criterion="helpfulness")
    inference, vote = arena_events(
        battle(conversation_a=conv_a, judge=["gpt-4", "pair-v2"], tstamp=None),
        options,  # type: ignore[arg-type]
    )
    assert inference["system"] == "Be brief." and inference["prompt"] == [{"role": "user", "content": "Hi"}]
    assert vote["source"] == {"kind": "ai_judge", "id": "gpt-4/pair-v2"}
    assert vote["criterion"] == "helpfulness"
    assert vote["occurred_at"] == "1970-01-01T00:00:00.000000Z"


def test_json_array_and_gzip_input(tmp_path: Path, store: Store) -> None:
    import gzip
    import json

    array = tmp_path / "battles.json"
    array.write_text(json.dumps([battle(judge="j1"), battle(judge="j2")]), encoding="utf-8")
    assert import_file(store, "arena", array, project=PROJECT).stored == 3
    packed = tmp_path / "battles.jsonl.gz"
    with gzip.open(packed, "wt", encoding="utf-8") as fh:
        fh.write(json.dumps(battle(judge="j3")) + "\n")
    report = import_file(store, "arena", packed, project=PROJECT)
    assert (report.stored, report.imported) == (1, 1)  # the inference is already there
    assert report.duplicates == 1
