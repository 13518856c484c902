"""What a leaderboard is: its rows, its style coefficients, and the helpers both fits share.

:mod:`preflog.analytics.ratings` (plain Bradley-Terry, online Elo) and
:mod:`preflog.analytics.style` (Bradley-Terry with style covariates) build the same
:class:`Leaderboard`; keeping it here lets each import it without importing the other.
"""

from __future__ import annotations

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
    ci_low: float
    ci_high: float
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


def build_rows(battles: Battles, ratings: F64, low: F64 | None, high: F64 | None) -> list[RatingRow]:
    counts = battles.battle_counts()
    rank = ranks(low, high) if low is not None and high is not None else ranks(ratings, ratings)
    order = np.lexsort((np.arange(len(ratings)), -ratings))
    return [
        RatingRow(
            model=battles.models[k],
            rating=float(ratings[k]),
            ci_low=None if low is None else float(low[k]),
            ci_high=None if high is None else float(high[k]),
            rank=int(rank[k]),
            battles=int(counts[k]),
        )
        for k in order
    ]
