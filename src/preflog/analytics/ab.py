"""A/B comparison of two models (or versions) on their head-to-head battles.

The win rate of A is wins_A / (wins_A + wins_B) over *decisive* battles, with a Wilson interval;
ties are reported apart (and as a share). The test is the two-sided exact binomial (sign) test of
"A and B are equally good" (win rate 0.5) on the decisive battles. ``further_needed`` is how many
more head-to-head judgments (ties included, at the observed tie rate) would give the test the
requested power if the true win rate were the observed one — None when the observed rate is
exactly 0.5 (no effect to detect) and 0 when the data already suffice.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import numpy as np

from preflog.analytics.battles import Battles, Column
from preflog.analytics.stats import Proportion, binomial_test, sample_size, wilson
from preflog.errors import ValidationError

Segment = Literal["source", "criterion", "user"]


@dataclass(frozen=True)
class HeadToHead:
    """A against B in one set of battles."""

    segment: str | None
    battles: int
    wins_a: int
    wins_b: int
    ties: int
    win_rate: Proportion  # of A, decisive battles only
    tie_rate: float | None
    p_value: float | None
    decisive_needed: int | None
    further_needed: int | None


@dataclass(frozen=True)
class ABResult:
    model_a: str
    model_b: str
    test: str
    level: float
    power: float
    alpha: float
    overall: HeadToHead
    segment_by: str | None = None
    segments: list[HeadToHead] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _head_to_head(
    a_wins: int, b_wins: int, ties: int, *, segment: str | None, level: float, power: float, alpha: float
) -> HeadToHead:
    decisive = a_wins + b_wins
    total = decisive + ties
    rate = wilson(a_wins, decisive, level)
    needed = sample_size(rate.rate, power=power, alpha=alpha) if rate.rate is not None else None
    further: int | None = None
    if needed is not None:
        decisive_share = decisive / total if total else 1.0
        further = max(0, math.ceil(needed / decisive_share) - total)
    return HeadToHead(
        segment=segment,
        battles=total,
        wins_a=a_wins,
        wins_b=b_wins,
        ties=ties,
        win_rate=rate,
        tie_rate=ties / total if total else None,
        p_value=binomial_test(a_wins, decisive),
        decisive_needed=needed,
        further_needed=further,
    )


def _segment_column(battles: Battles, by: Segment) -> Column:
    if by == "source":
        return battles.source_kind
    if by == "criterion":
        return battles.criterion
    if by == "user":
        return battles.user
    raise ValidationError(f"must be source, criterion or user, got {by!r}", "segment")


def compare(
    battles: Battles,
    model_a: str,
    model_b: str,
    *,
    power: float = 0.8,
    alpha: float = 0.05,
    level: float = 0.95,
    segment: Segment | None = None,
) -> ABResult:
    """Head-to-head of ``model_a`` against ``model_b``, overall and per segment value."""
    ia, ib = battles.model_index(model_a), battles.model_index(model_b)
    forward = (battles.a == ia) & (battles.b == ib)
    backward = (battles.a == ib) & (battles.b == ia)
    mine = forward | backward
    y_a = np.where(forward, battles.outcome, 1.0 - battles.outcome)  # A's result in each battle

    def counts(mask: np.ndarray[Any, np.dtype[np.bool_]]) -> tuple[int, int, int]:
        y = y_a[mask & mine]
        return int((y == 1.0).sum()), int((y == 0.0).sum()), int((y == 0.5).sum())

    def h2h(mask: np.ndarray[Any, np.dtype[np.bool_]], label: str | None) -> HeadToHead:
        return _head_to_head(*counts(mask), segment=label, level=level, power=power, alpha=alpha)

    overall = h2h(np.ones(len(battles), bool), None)
    segments: list[HeadToHead] = []
    if segment is not None:
        column = _segment_column(battles, segment)
        for code, label in enumerate(column.labels):
            mask = column.codes == code
            if (mask & mine).any():
                segments.append(h2h(mask, label or "(none)"))
        segments.sort(key=lambda h: (-h.battles, str(h.segment)))
    return ABResult(
        model_a=model_a,
        model_b=model_b,
        test="two-sided exact binomial (sign) test on decisive battles, H0: win rate 0.5",
        level=level,
        power=power,
        alpha=alpha,
        overall=overall,
        segment_by=segment,
        segments=segments,
    )
