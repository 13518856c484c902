"""Battles from ``score`` events: a reward model (or a judge that scores) as one more judge.

A scorer ``{name, version, kind}`` gives each candidate of a request a scalar; higher is better.
Per request, scorer and criterion the latest score of each candidate counts (the same rule as
compile's reward-score pairs), and every two scored candidates of different models make one
battle: the higher score wins, equal scores tie. The battles of one scoring share one judgment
(like a ranking), the highest store position among its scores. The judge is the scorer:
``source_kind`` its ``kind`` (``reward_model`` when unset), ``source_id`` its ``name``,
``source_version`` its ``version``. A scorer sees no presentation order, so these battles never
count for position bias (``first`` is -1); they are flagged ``scored``.

Retracted scores are left out (``retracted``), scores of requests whose inference has not arrived
are orphans, and a score naming a candidate the inference does not have is ``unknown candidate``.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from itertools import combinations
from typing import Any

from preflog.analytics.builder import Builder, Inference, Judge, Verdict, event_time
from preflog.store.base import StoredEvent

SCORER_KIND_DEFAULT = "reward_model"


def scorer_of(event: Mapping[str, Any]) -> Judge:
    """The judge behind a score event.

    >>> scorer_of({"scorer": {"name": "rm", "version": "2"}})
    Judge(kind='reward_model', id='rm', version='2')
    """
    scorer = event.get("scorer") if isinstance(event.get("scorer"), dict) else {}
    assert isinstance(scorer, dict)
    return Judge(
        str(scorer.get("kind") or SCORER_KIND_DEFAULT),
        str(scorer.get("name") or ""),
        str(scorer.get("version") or ""),
    )


def score_outcome(x: float, y: float) -> float:
    """1 when ``x`` scored higher, 0 when lower, ½ when equal.

    >>> score_outcome(0.7, 0.2), score_outcome(-1.0, 3.0), score_outcome(2.0, 2.0)
    (1.0, 0.0, 0.5)
    """
    return 1.0 if x > y else 0.0 if x < y else 0.5


@dataclass
class ScoreSheet:
    """Score events as they are read, grouped per (request, scorer, criterion)."""

    groups: dict[tuple[str, Judge, str], list[StoredEvent]] = field(default_factory=lambda: defaultdict(list))

    def add(self, stored: StoredEvent) -> None:
        event = stored.event
        key = (str(stored.request_id), scorer_of(event), str(event.get("criterion") or ""))
        self.groups[key].append(stored)

    def add_battles(self, builder: Builder, inferences: Mapping[str, Inference], retracted: set[str]) -> None:
        """One battle per pair of scored candidates of every group (see the module docstring)."""
        for (request_id, judge, criterion), items in self.groups.items():
            kept = [s for s in items if s.event_id not in retracted]
            if len(kept) < len(items):
                builder.skipped["retracted"] += len(items) - len(kept)
            inf = inferences.get(request_id)
            if not kept:
                continue
            if inf is None:
                builder.skipped["orphan (no inference yet)"] += len(kept)
            else:
                _add_group(builder, inf, judge, criterion, kept)


def _add_group(
    builder: Builder, inf: Inference, judge: Judge, criterion: str, items: list[StoredEvent]
) -> None:
    latest: dict[str, StoredEvent] = {}
    for stored in sorted(items, key=lambda s: s.position):
        latest[str(stored.event.get("candidate_id"))] = stored
    unknown = [cid for cid in latest if cid not in inf.candidates]
    if unknown:
        builder.skipped["unknown candidate"] += len(unknown)
    ordered = [cid for cid in inf.order if cid in latest]  # the inference's order: x before y
    judgment = max(s.position for s in latest.values())
    for x, y in combinations(ordered, 2):
        if not builder.comparable(inf, x, y):
            continue
        sx, sy = latest[x], latest[y]
        verdict = Verdict(
            x,
            y,
            score_outcome(float(sx.event["score"]), float(sy.event["score"])),
            judge,
            judgment,
            _later(sx, sy, "occurred_at"),
            _later(sx, sy, "received_at"),
            criterion,
            scored=True,
        )
        builder.add_verdict(inf, verdict)


def _later(sx: StoredEvent, sy: StoredEvent, key: str) -> float:
    """The later of two events' times (Unix seconds), NaN only when neither is known."""
    times = [t for t in (event_time(sx.event.get(key)), event_time(sy.event.get(key))) if t == t]
    return max(times, default=float("nan"))
