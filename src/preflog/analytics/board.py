"""What a leaderboard is: its rows, its style coefficients, and the helpers both fits share.

:mod:`preflog.analytics.ratings` (plain Bradley-Terry, online Elo) and
:mod:`preflog.analytics.style` (Bradley-Terry with style covariates) build the same
:class:`Leaderboard`; keeping it here lets each import it without importing the other.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

from preflog.analytics.battles import Battles
from preflog.analytics.bt import ELO_PER_LOGIT
from preflog.errors import ValidationError

Method = Literal["bt", "elo"]
CI = Literal["sandwich", "bootstrap", "none"]
F64 = NDArray[np.float64]

ELO_START = 1000.0

#: An interval narrower than this, relative to its estimate (at least 1), is the rounding noise of
#: a fit without variance — one battle resampled 100 times, a separated fit whose sandwich variance
#: is 1e-20 — not a measurement: it is reported as no interval (None, shown as "—"). Real
#: intervals are far wider: 1,000,000 battles among 130 models still give about ±1 rating point.
NO_WIDTH = 1e-9


def interval(low: float, high: float, center: float) -> tuple[float | None, float | None]:
    """``(low, high)``, or ``(None, None)`` for an interval without width (see :data:`NO_WIDTH`).

    >>> interval(-0.545, -0.545, -0.545), interval(990.0, 1010.0, 1000.0)
    ((None, None), (990.0, 1010.0))
    """
    finite = math.isfinite(low) and math.isfinite(high)
    if not finite or high - low <= 2 * NO_WIDTH * max(1.0, abs(center)):
        return None, None
    return float(low), float(high)


@dataclass(frozen=True)
class RatingRow:
    """One leaderboard row; ``ci_low``/``ci_high`` are None when no interval was computed."""

    model: str
    rating: float
    ci_low: float | None
    ci_high: float | None
    rank: int
    battles: int


@dataclass(frozen=True)
class StyleCoefficient:
    """A style-control covariate: its effect in logits per standard deviation, with its interval."""

    feature: str
    coef: float
    ci_low: float | None
    ci_high: float | None
    elo_points: float  # the same effect in rating points


@dataclass(frozen=True)
class Leaderboard:
    rows: list[RatingRow]
    method: str
    ci: str
    level: float
    battles: int
    anchor: dict[str, float] | None = None
    rounds: int | None = None
    seed: int | None = None
    regularized: bool = False
    style: list[StyleCoefficient] | None = None
    skipped: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def rating_of(self, model: str) -> float:
        for row in self.rows:
            if row.model == model:
                return row.rating
        raise ValidationError(f"unknown model {model!r}", "model")


def z_value(level: float) -> float:
    from scipy.stats import norm

    if not 0 < level < 1:
        raise ValidationError("must be between 0 and 1", "level")
    return float(norm.ppf(0.5 + level / 2))


def to_elo(theta: F64, models: tuple[str, ...], anchor: Mapping[str, float] | None) -> F64:
    """Natural-log strengths (any shape, models on the last axis) to ratings: mean 1000 or anchored."""
    centered = theta - theta.mean(axis=-1, keepdims=True)
    ratings: F64 = ELO_START + ELO_PER_LOGIT * centered
    if anchor:
        ((name, value),) = anchor.items()
        k = model_position(models, name)
        ratings = ratings + (value - ratings[..., [k]])
    return ratings


def model_position(models: tuple[str, ...], name: str) -> int:
    """The index of the anchor model ``name`` (a clear error when it has no battles)."""
    try:
        return models.index(name)
    except ValueError:
        raise ValidationError(f"anchor model {name!r} has no battles", "anchor") from None


def rating_variance(cov: F64, anchor_index: int | None) -> F64:
    """Each rating's variance from the covariance of the log-strengths θ (models × models): of
    θ_i − θ_anchor when a model is anchored, else of θ_i − mean(θ) (the ratings have mean 1000)."""
    if anchor_index is not None:
        k = anchor_index
        var: F64 = np.diag(cov) + cov[k, k] - 2 * cov[:, k]
        return var
    centering = np.eye(len(cov)) - 1.0 / len(cov)
    out: F64 = np.diag(centering @ cov @ centering)
    return out


def ranks(low: F64, high: F64) -> NDArray[np.int64]:
    """1 + the number of models whose interval lies entirely above each model's interval."""
    above = low[None, :] > high[:, None]
    out: NDArray[np.int64] = 1 + above.sum(axis=1)
    return out


def build_rows(
    battles: Battles, ratings: F64, low: F64 | None, high: F64 | None, *, anchor: int | None = None
) -> list[RatingRow]:
    """The rows, best first. An interval without width is left out (None), except the anchor's:
    pinned by definition, its interval of the difference to itself is exactly zero. A model
    without an interval is ranked by its rating alone."""
    counts = battles.battle_counts()
    bounds: list[tuple[float | None, float | None]] = [(None, None)] * len(ratings)
    if low is not None and high is not None:
        bounds = [
            (float(low[k]), float(high[k])) if k == anchor else interval(low[k], high[k], ratings[k])
            for k in range(len(ratings))
        ]
    lo = np.array([ratings[k] if b[0] is None else b[0] for k, b in enumerate(bounds)], np.float64)
    hi = np.array([ratings[k] if b[1] is None else b[1] for k, b in enumerate(bounds)], np.float64)
    rank = ranks(lo, hi)
    order = np.lexsort((np.arange(len(ratings)), -ratings))
    return [
        RatingRow(
            model=battles.models[k],
            rating=float(ratings[k]),
            ci_low=bounds[k][0],
            ci_high=bounds[k][1],
            rank=int(rank[k]),
            battles=int(counts[k]),
        )
        for k in order
    ]
