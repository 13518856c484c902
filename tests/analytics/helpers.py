"""Synthetic battles, a throw-away SQLite store for tests of the join, and reference conversions."""

from __future__ import annotations

import atexit
import csv
import math
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from preflog.analytics.battles import Battles
from preflog.store.sqlite import SQLiteStore

ELO = 400 / math.log(10)


def synthetic(
    n: int, m: int, *, seed: int = 0, tie_rate: float = 0.2, spread: float = 1.0
) -> tuple[Battles, NDArray[np.float64]]:
    """``n`` battles among ``m`` models with true strengths N(0, spread²) (natural logits)."""
    rng = np.random.default_rng(seed)
    true = rng.normal(0.0, spread, m)
    a = rng.integers(0, m, n)
    b = rng.integers(0, m - 1, n)
    b = np.where(b >= a, b + 1, b)
    p = 1.0 / (1.0 + np.exp(-(true[a] - true[b])))
    y = np.where(rng.random(n) < tie_rate, 0.5, (rng.random(n) < p).astype(float))
    return Battles(models=tuple(f"m{i:03d}" for i in range(m)), a=a, b=b, outcome=y), true


def doubled_pairs(battles: Battles) -> list[tuple[int, int]]:
    """(winner, loser) rows for choix: each battle counted twice, a tie as one win each way — the
    same likelihood as ties counting half (doubled), so the same maximum."""
    out: list[tuple[int, int]] = []
    for a, b, y in zip(battles.a.tolist(), battles.b.tolist(), battles.outcome.tolist(), strict=True):
        if y == 1.0:
            out += [(a, b), (a, b)]
        elif y == 0.0:
            out += [(b, a), (b, a)]
        else:
            out += [(a, b), (b, a)]
    return out


def to_elo(theta: NDArray[np.float64]) -> NDArray[np.float64]:
    out: NDArray[np.float64] = 1000.0 + ELO * (theta - theta.mean())
    return out


def ratings_of(board: Any, models: Sequence[str]) -> NDArray[np.float64]:
    return np.array([board.rating_of(m) for m in models])


def llmfao_rows(data_dir: Path) -> list[dict[str, Any]]:
    """LLMFAO crowd votes as arena battle rows: ``left`` is model_a (shown first)."""
    try:  # the importer of the compile issue, when it has landed
        from preflog.importers.llmfao import llmfao_to_arena_rows  # type: ignore[import-not-found]

        return list(llmfao_to_arena_rows(data_dir / "llmfao"))
    except ImportError:
        pass
    winner = {"left": "model_a", "right": "model_b", "tie": "tie"}
    with open(data_dir / "llmfao" / "crowd-comparisons.csv", newline="", encoding="utf-8") as fh:
        return [
            {
                "model_a": r["left"],
                "model_b": r["right"],
                "winner": winner[r["winner"]],
                "judge": r["worker"],
                "question_id": r["id"],
            }
            for r in csv.DictReader(fh)
        ]


class MemoryStore(SQLiteStore):
    """A real SQLite store in a fresh temporary file (removed at exit), for tests that build
    their events in code."""

    def __init__(self) -> None:
        folder = tempfile.mkdtemp(prefix="preflog-analytics-")
        atexit.register(shutil.rmtree, folder, True)
        super().__init__(Path(folder) / "events.db")
