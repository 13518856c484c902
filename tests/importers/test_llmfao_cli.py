from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from preflog.cli import main
from preflog.importers import import_file
from preflog.importers.llmfao import llmfao_to_arena_rows
from preflog.store import Store, open_store
from tests.importers.conftest import PROJECT, write_jsonl


def test_llmfao_conversion_gives_8931_battles_over_2139_pairs(shared_data: Path) -> None:
    rows = list(llmfao_to_arena_rows(shared_data / "llmfao"))
    assert len(rows) == 8931
    assert len({r["question_id"] for r in rows}) == 2139
    assert Counter(r["winner"] for r in rows) == {"tie": 3471, "model_a": 2911, "model_b": 2549}
    first = rows[0]
    assert (first["question_id"], first["model_a"], first["model_b"], first["judge"]) == (
        "0",
        "Airoboros L2 70B",
        "Weaver 12k",
        "58",
    )
    assert first["conversation_a"][0] == {
        "role": "user",
        "content": "Argue for and against the use of kubernetes in the style of a haiku.",
    }
    assert first["conversation_a"][1]["content"].startswith("For Kubernetes, a plea,")
    assert {len(r["conversation_a"]) for r in rows} == {2}


def test_llmfao_rows_import_as_one_request_per_pair(shared_data: Path, tmp_path: Path, store: Store) -> None:
    rows = list(llmfao_to_arena_rows(shared_data / "llmfao"))
    path = write_jsonl(tmp_path / "llmfao.jsonl", rows)
    report = import_file(store, "arena", path, project=PROJECT)
    # pairs with a missing (blank) output are logged like the others: an empty answer is an answer
    blank = {
        r["question_id"]
        for r in rows
        if not all(c[1]["content"].strip() for c in (r["conversation_a"], r["conversation_b"]))
    }
    assert len(blank) == 289
    assert (report.requests, report.imported, report.rejected) == (2139, len(rows), [])
    assert report.stored == report.requests + report.imported
    assert import_file(store, "arena", path, project=PROJECT).stored == 0


def test_cli_import(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rows = [
        {"prompt": "2+2?", "chosen": "4", "rejected": "5"},
        {"prompt": "2+2?", "chosen": "4"},
    ]
    path = write_jsonl(tmp_path / "trl.jsonl", rows)
    db = str(tmp_path / "events.db")
    code = main(["--db", db, "--project", "cli", "import", "trl", str(path), "--criterion", "math"])
    out = capsys.readouterr().out
    assert code == 1
    assert "row 2: rejected: required" in out
    assert out.strip().endswith("2 events stored, 0 duplicates, 0 conflicts; 1 requests")
    code = main(["--db", db, "--project", "cli", "import", "trl", str(path), "--criterion", "math", "--json"])
    report = json.loads(capsys.readouterr().out)
    assert (code, report["stored"], report["duplicates"]) == (1, 0, 2)
    assert report["rejected"] == [{"row": 2, "field": "rejected", "reason": "required"}]
    # the same rows imported with other options: the judgment's id is taken, by other content
    main(["--db", db, "--project", "cli", "import", "trl", str(path), "--json"])
    report = json.loads(capsys.readouterr().out)
    assert (report["duplicates"], len(report["conflicts"])) == (1, 1)
    assert (
        report["conflicts"][0]["row"] == 1
        and "conflict: preference event" in report["conflicts"][0]["reason"]
    )
    with open_store(db) as store:
        prefs = [e.event for e in store.iter_events(project="cli", types=["preference"])]
    assert [p["criterion"] for p in prefs] == ["math"]


def test_cli_import_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = str(tmp_path / "events.db")
    assert main(["--db", db, "import", "trl", str(tmp_path / "missing.jsonl")]) == 2
    assert "no such file" in capsys.readouterr().err
    path = write_jsonl(tmp_path / "x.jsonl", [{"prompt": "a", "chosen": "b", "rejected": "c"}])
    assert main(["--db", db, "import", "trl", str(path), "--occurred-at", "yesterday"]) == 2
    assert "occurred_at" in capsys.readouterr().err
