"""Real data, whole: all 8,931 LLMFAO crowd votes import with none rejected (289 of the 2,139 pairs
have an empty answer, which is an answer), through ``preflog import llmfao DIR`` and through the
arena rows; and the leaderboard of the imported votes is the exact Bradley-Terry fit of the CSV's
votes, computed apart with ``choix``."""

from __future__ import annotations

import contextlib
import csv
import io
import json
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import choix
import pytest

from preflog.analytics import leaderboard
from preflog.cli import main
from preflog.importers import import_file
from preflog.importers.llmfao import llmfao_to_arena_rows
from preflog.store import Store, open_store
from tests.conftest import SHARED_DATA, require
from tests.importers.conftest import write_jsonl

VOTES, PAIRS, EMPTY_PAIRS = 8931, 2139, 289
ELO = 400 / math.log(10)


@pytest.fixture(scope="module")
def imported(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Store, dict[str, Any]]]:
    """The LLMFAO folder imported once with ``preflog import llmfao DIR --json`` into a SQLite
    file; answers the store and the printed report."""
    require(SHARED_DATA.is_dir(), f"shared data not found at {SHARED_DATA} (set PREFLOG_SHARED_DATA)")
    db = tmp_path_factory.mktemp("llmfao") / "events.db"
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = main(
            [
                "--db",
                str(db),
                "--project",
                "llmfao",
                "import",
                "llmfao",
                str(SHARED_DATA / "llmfao"),
                "--json",
            ]
        )
    assert code == 0, out.getvalue()[-2000:]
    with open_store(str(db)) as store:
        yield store, json.loads(out.getvalue())


def test_all_votes_import_with_none_rejected(imported: tuple[Store, dict[str, Any]]) -> None:
    store, report = imported
    assert (report["rows"], report["imported"], report["rejected"], report["requests"]) == (
        VOTES,
        VOTES,
        [],
        PAIRS,
    )
    assert (report["stored"], report["duplicates"], report["conflicts"]) == (VOTES + PAIRS, 0, [])
    inferences = [e.event for e in store.iter_events(project="llmfao", types=["inference"])]
    assert len(inferences) == PAIRS
    empty = sum(any(not c["output"].strip() for c in inf["candidates"]) for inf in inferences)
    assert empty == EMPTY_PAIRS
    assert sum(1 for _ in store.iter_events(project="llmfao", types=["preference"])) == VOTES


def test_the_arena_rows_import_the_same_events(
    imported: tuple[Store, dict[str, Any]], shared_data: Path, tmp_path: Path
) -> None:
    store, _ = imported
    rows = write_jsonl(tmp_path / "llmfao.jsonl", llmfao_to_arena_rows(shared_data / "llmfao"))
    with open_store(str(tmp_path / "arena.db")) as other:
        report = import_file(other, "arena", rows, project="llmfao")
        assert (report.imported, report.rejected, report.stored) == (VOTES, [], VOTES + PAIRS)
        mine = {e.event["event_id"]: _sent(e.event) for e in other.iter_events(project="llmfao")}
    theirs = {e.event["event_id"]: _sent(e.event) for e in store.iter_events(project="llmfao")}
    assert mine == theirs


def _sent(event: dict[str, Any]) -> dict[str, Any]:
    """An event as imported: without the time the store received it."""
    return {k: v for k, v in event.items() if k != "received_at"}


def csv_votes(folder: Path) -> list[tuple[str, str, str]]:
    with (folder / "crowd-comparisons.csv").open(newline="", encoding="utf-8") as fh:
        return [(r["left"], r["right"], r["winner"]) for r in csv.DictReader(fh)]


def exact_fit(votes: list[tuple[str, str, str]]) -> dict[str, float]:
    """Bradley-Terry by choix's exact (ILSR) maximum likelihood, on the Elo scale with mean 1000.
    A tie counts half a win to each side, as docs/analytics.md says the leaderboard counts it: every
    vote is given twice, a tie as one win each way (the same likelihood, doubled)."""
    models = sorted({m for left, right, _ in votes for m in (left, right)})
    index = {m: i for i, m in enumerate(models)}
    data: list[tuple[int, int]] = []
    for left, right, winner in votes:
        a, b = index[left], index[right]
        data += {"left": [(a, b), (a, b)], "right": [(b, a), (b, a)], "tie": [(a, b), (b, a)]}[winner]
    theta = choix.ilsr_pairwise(len(models), data, alpha=0.0, tol=1e-14, max_iter=100_000)
    mean = float(theta.mean())
    return {m: 1000.0 + ELO * (float(theta[index[m]]) - mean) for m in models}


def test_leaderboard_of_all_votes_is_the_exact_fit(
    imported: tuple[Store, dict[str, Any]], shared_data: Path
) -> None:
    store, _ = imported
    board = leaderboard(store, "llmfao", ci="none")
    want = exact_fit(csv_votes(shared_data / "llmfao"))
    assert {row.model for row in board.rows} == set(want)
    worst = max(abs(board.rating_of(m) - r) for m, r in want.items())
    assert worst < 0.01, f"{worst:.4f} rating points from the exact fit"
