"""Synthetic battles, an in-memory store for unit tests of the join, and reference conversions."""

from __future__ import annotations

import csv
import math
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from preflog.analytics.battles import Battles
from preflog.events import validate_event
from preflog.store.base import AppendResult, RequestView, Store, StoredEvent, StoreStats

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


class MemoryStore(Store):
    """A list of events: enough of the Store contract for unit tests of battle extraction (the
    end-to-end tests use the real SQLite store)."""

    def __init__(self) -> None:
        self.events: list[StoredEvent] = []

    def append(
        self, events: Sequence[Mapping[str, Any]], *, project: str, validated: bool = False
    ) -> list[AppendResult]:
        out = []
        for raw in events:
            event = validate_event(raw, project=project)
            event["received_at"] = event["occurred_at"]
            self.events.append(StoredEvent(len(self.events) + 1, event))
            out.append(AppendResult("stored", event["event_id"], len(self.events)))
        return out

    def read(
        self,
        *,
        project: str,
        after: int = 0,
        limit: int = 1000,
        types: Iterable[str] | None = None,
        since: str | None = None,
        until: str | None = None,
    ) -> list[StoredEvent]:
        wanted = set(types) if types is not None else None
        rows = [
            e
            for e in self.events
            if e.position > after and e.event["project"] == project and (wanted is None or e.type in wanted)
        ]
        return rows[:limit]

    def get_request(self, request_id: str, *, project: str) -> RequestView:  # pragma: no cover
        raise NotImplementedError

    def get_event(self, event_id: str, *, project: str) -> StoredEvent | None:  # pragma: no cover
        raise NotImplementedError

    def last_position(self, *, project: str | None = None) -> int:
        return len(self.events)

    def stats(self, *, project: str) -> StoreStats:  # pragma: no cover
        raise NotImplementedError

    def projects(self) -> list[str]:
        return sorted({e.event["project"] for e in self.events})

    def close(self) -> None:
        pass
