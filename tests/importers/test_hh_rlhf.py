"""HH-RLHF: the importer on hand-made rows, and the round trip on the real harmless-base test split:
all 2,312 rows import (4 with an empty last reply, 5 whose transcripts part early as multi-message
continuations), then compiled back to ``hh-rlhf`` they give the input rows byte for byte; compiled
to ``trl`` each transcript is split where its prompt ends."""

from __future__ import annotations

import gzip
import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from preflog.compile import compile_dataset
from preflog.errors import ValidationError
from preflog.formats.base import read_rows_file
from preflog.formats.hh_rlhf import parse_pair, parse_transcript, render_transcript
from preflog.importers import ImportOptions, import_file
from preflog.importers.hh_rlhf import hh_rlhf_events
from preflog.store import Store
from tests.importers.conftest import PROJECT, events_of, write_jsonl

HH = "hh-rlhf/harmless-base-test.jsonl.gz"
# rows of harmless-base-test (1-based line numbers) with an empty last reply, and whose transcripts
# part before their last assistant turn
EMPTY_REPLY = [87, 517, 926, 1104]
DIFFERENT_PROMPTS = [1255, 1689, 1951, 1953, 2037]


def transcript(*turns: str, reply: str) -> str:
    speakers = ["Human", "Assistant"]
    return "".join(f"\n\n{speakers[i % 2]}: {t}" for i, t in enumerate(turns)) + f"\n\nAssistant: {reply}"


def test_split_at_the_last_assistant_turn() -> None:
    row = {
        "chosen": transcript("Hi", "Hello", "How are you?", reply="Fine, thanks."),
        "rejected": transcript("Hi", "Hello", "How are you?", reply="Go away."),
    }
    inference, vote = hh_rlhf_events(row, ImportOptions(criterion="harmlessness"))
    assert inference["prompt"] == [
        {"role": "user", "content": "Hi"},
        {"role": "assistant", "content": "Hello"},
        {"role": "user", "content": "How are you?"},
    ]
    assert [c["output"] for c in inference["candidates"]] == ["Fine, thanks.", "Go away."]
    assert (vote["chosen"], vote["rejected"], vote["criterion"]) == ("a", "b", "harmlessness")


def test_an_empty_last_reply_is_an_empty_output() -> None:
    row = {"chosen": transcript("Hi", reply=""), "rejected": transcript("Hi", reply="y")}
    inference, _ = hh_rlhf_events(row, ImportOptions())
    assert [c["output"] for c in inference["candidates"]] == ["", "y"]


def test_transcripts_that_part_early_become_continuations() -> None:
    row = {
        "chosen": transcript("Hi", "Hello", "How are you?", reply="Fine."),
        "rejected": transcript("Hi", reply="Go away."),
    }
    inference, vote = hh_rlhf_events(row, ImportOptions())
    assert inference["prompt"] == [{"role": "user", "content": "Hi"}]
    a, b = inference["candidates"]
    assert a["messages"] == [
        {"role": "assistant", "content": "Hello"},
        {"role": "user", "content": "How are you?"},
        {"role": "assistant", "content": "Fine."},
    ]
    assert "output" not in a and b["output"] == "Go away."
    assert (vote["chosen"], vote["rejected"]) == ("a", "b")
    system, prompt, chosen, rejected = parse_pair(row["chosen"], row["rejected"])
    assert render_transcript(system, prompt, chosen) == row["chosen"]
    assert render_transcript(system, prompt, rejected) == row["rejected"]


@pytest.mark.parametrize(
    "text",
    [
        "\n\nHuman: Hi\n\nAssistant: Hello",
        "Be kind.\n\nHuman: Hi\n\nAssistant: Hello",  # a system prompt before the first turn
        "\n\nHuman: Hi\n\nHuman: again?\n\nAssistant:  two spaces",
        "\n\nHuman: \n\nAssistant: empty human turn",  # not expressible as messages: kept as text
        "\n\nHuman:no space\n\nAssistant: x",
    ],
)
def test_parse_and_render_are_inverse(text: str) -> None:
    assert render_transcript(*parse_transcript(text)) == text


@pytest.mark.parametrize(
    ("row", "field"),
    [
        ({"chosen": "no turns at all", "rejected": transcript("Hi", reply="x")}, "chosen"),
        ({"chosen": transcript("Hi", reply="x"), "rejected": transcript("Ho", reply="y")}, "rejected"),
        ({"chosen": transcript("Hi", reply="x")}, "rejected"),
    ],
)
def test_bad_rows(row: dict[str, Any], field: str) -> None:
    with pytest.raises(ValidationError) as err:
        hh_rlhf_events(row, ImportOptions())
    assert err.value.field == field


def test_import_twice_and_gzip(tmp_path: Path, store: Store) -> None:
    rows = [
        {"chosen": transcript("Q", str(i), reply="good"), "rejected": transcript("Q", str(i), reply="bad")}
        for i in range(3)
    ]
    path = tmp_path / "hh.jsonl.gz"
    with gzip.open(path, "wt", encoding="utf-8") as fh:
        fh.writelines(json.dumps(r) + "\n" for r in rows)
    assert import_file(store, "hh-rlhf", path, project=PROJECT).stored == 6
    again = import_file(store, "hh-rlhf", write_jsonl(tmp_path / "hh.jsonl", rows), project=PROJECT)
    assert (again.stored, again.duplicates, again.imported) == (0, 6, 3)
    assert len(events_of(store, "preference")) == 3


@pytest.fixture
def imported_hh(shared_data: Path, store: Store) -> list[str]:
    """The real harmless-base test split imported; answers its raw lines."""
    report = import_file(store, "hh-rlhf", shared_data / HH, project=PROJECT)
    assert (report.rows, report.rejected) == (2312, [])
    assert (report.imported, report.stored, report.requests) == (2312, 4624, 2312)
    with gzip.open(shared_data / HH, "rt", encoding="utf-8") as fh:
        return fh.read().splitlines()


def test_the_odd_rows_import_as_what_they_are(imported_hh: list[str], store: Store) -> None:
    by_line = {n: json.loads(line) for n, line in enumerate(imported_hh, 1)}
    continuations = [
        inf for inf in events_of(store, "inference") if any("messages" in c for c in inf["candidates"])
    ]
    assert len(continuations) == len(DIFFERENT_PROMPTS)
    for inf in continuations:
        (cand,) = [c for c in inf["candidates"] if "messages" in c]
        assert len(cand["messages"]) > 1 and cand["messages"][-1]["role"] == "assistant"
    empty = [
        inf for inf in events_of(store, "inference") if any(c.get("output") == "" for c in inf["candidates"])
    ]
    assert len(empty) == len(EMPTY_REPLY)
    assert all(by_line[n]["chosen"].endswith("\n\nAssistant: ") for n in EMPTY_REPLY)


def test_round_trip_hh_rlhf(imported_hh: list[str], store: Store, tmp_path: Path) -> None:
    manifest = compile_dataset(store, project=PROJECT, out_dir=tmp_path / "hh", format="hh-rlhf")
    assert manifest.drops == {}
    written = list(read_rows_file(tmp_path / "hh" / "train.jsonl"))
    expected = [json.loads(line) for line in imported_hh]
    # all 2,312 rows come back with byte-equal transcripts (file order is compile's, not the input's)
    key = lambda row: (row["chosen"], row["rejected"])  # noqa: E731
    assert len(written) == 2312
    assert Counter(map(key, written)) == Counter(map(key, expected))
    assert all(list(row) == ["chosen", "rejected"] for row in written)


def test_compiled_to_trl_splits_each_transcript_where_its_prompt_ends(
    imported_hh: list[str], store: Store, tmp_path: Path
) -> None:
    compile_dataset(store, project=PROJECT, out_dir=tmp_path / "trl", format="trl")
    rows = list(read_rows_file(tmp_path / "trl" / "train.jsonl"))
    originals = {(r["chosen"], r["rejected"]) for r in map(json.loads, imported_hh)}
    assert len(rows) == 2312
    several = 0
    for row in rows:
        assert row["prompt"][-1]["role"] == "user"
        texts = []
        for reply in (row["chosen"], row["rejected"]):
            assert reply[0]["role"] == "assistant" and all(set(m) == {"role", "content"} for m in reply)
            texts.append(
                render_transcript(None, row["prompt"], reply[0]["content"] if len(reply) == 1 else reply)
            )
        several += len(row["chosen"]) > 1 or len(row["rejected"]) > 1
        assert tuple(texts) in originals
    assert several == len(DIFFERENT_PROMPTS)
    empty = [r for r in rows if not all(m["content"].strip() for m in r["chosen"] + r["rejected"])]
    assert len(empty) == len(EMPTY_REPLY)  # an empty reply is a real (rejected) answer
