"""Leaderboards: Bradley-Terry ratings on the Elo scale with 95% intervals, online Elo, matrices.

Ratings are 400·log10 odds: a model rated 100 points above another is expected to win
10^(100/400) : 1 ≈ 64% of their decisive-or-half-counted battles. The mean rating is 1000, or
``anchor={"model": rating}`` pins one model. Intervals: the sandwich (robust) estimator by default
— deterministic and free — or the percentile bootstrap. ``rank`` is 1 + the number of models whose
whole interval lies above this model's interval, so models that cannot be told apart share a rank.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from preflog.analytics.battles import Battles
from preflog.analytics.board import (
    CI,
    ELO_START,
    F64,
    Leaderboard,
    Method,
    RatingRow,
    StyleCoefficient,
    build_rows,
    model_position,
    ranks,
    rating_variance,
    to_elo,
    z_value,
)
from preflog.analytics.bt import (
    ELO_PER_LOGIT,
    PairCounts,
    bootstrap_thetas,
    choose_prior,
    fit_counts,
    pair_counts,
    sandwich_covariance,
)
from preflog.errors import ValidationError

ELO_K = 4.0

# Re-exported: the leaderboard types and helpers live in .board (style control needs them too).
__all__ = [
    "CI",
    "ELO_K",
    "ELO_START",
    "Leaderboard",
    "Matrix",
    "Method",
    "RatingRow",
    "StyleCoefficient",
    "build_rows",
    "online_elo",
    "predicted_matrix",
    "ranks",
    "rate",
    "to_elo",
    "win_rate_matrix",
    "z_value",
]


def _sandwich_bounds(
    pc: PairCounts,
    theta: F64,
    prior: float,
    models: tuple[str, ...],
    anchor: Mapping[str, float] | None,
    z: float,
) -> tuple[F64, F64]:
    cov = sandwich_covariance(pc, theta, prior)
    var = rating_variance(cov, model_position(models, next(iter(anchor))) if anchor else None)
    half = z * ELO_PER_LOGIT * np.sqrt(np.clip(var, 0.0, None))
    ratings = to_elo(theta, models, anchor)
    return ratings - half, ratings + half


def rate(
    battles: Battles,
    *,
    method: Method = "bt",
    ci: CI = "sandwich",
    rounds: int = 100,
    seed: int | None = 0,
    anchor: Mapping[str, float] | None = None,
    level: float = 0.95,
    prior: float | None = None,
    style_control: bool = False,
) -> Leaderboard:
    """The leaderboard of ``battles``: one row per model that has at least one battle, best first."""
    battles = battles.compact()
    if anchor is not None and len(anchor) != 1:
        raise ValidationError("anchor names exactly one model", "anchor")
    if method == "elo":
        return _elo_board(battles, anchor)
    if method != "bt":
        raise ValidationError(f"must be bt or elo, got {method!r}", "method")
    if ci not in ("sandwich", "bootstrap", "none"):
        raise ValidationError(f"must be sandwich, bootstrap or none, got {ci!r}", "ci")
    if seed is not None and seed < 0:  # numpy's generators take none: a ValueError (a 500 over HTTP)
        raise ValidationError(f"must be zero or more, got {seed}", "seed")
    if len(battles.models) == 0:  # nothing judged (yet), or filtered away: an empty board, not an error
        return Leaderboard(
            rows=[], method=method, ci=ci, level=level, battles=0, anchor=dict(anchor) if anchor else None
        )
    if style_control:
        from preflog.analytics.style import rate_with_style

        try:
            return rate_with_style(battles, ci=ci, rounds=rounds, seed=seed, anchor=anchor, level=level)
        except (np.linalg.LinAlgError, ValueError) as exc:
            if isinstance(exc, ValidationError):
                raise
            # Too few battles, or outputs that never differ in length or markdown: no style
            # coefficient can be estimated. A clear refusal, not a crash.
            raise ValidationError(
                f"cannot control for style on these {len(battles)} battles: the style features do not "
                f"vary enough to estimate ({exc})",
                "style_control",
            ) from exc
    return _bt_board(battles, ci=ci, rounds=rounds, seed=seed, anchor=anchor, level=level, prior=prior)


def _bt_board(
    battles: Battles,
    *,
    ci: CI,
    rounds: int,
    seed: int | None,
    anchor: Mapping[str, float] | None,
    level: float,
    prior: float | None,
) -> Leaderboard:
    pc = pair_counts(battles)
    lam = choose_prior(pc, prior)
    theta = fit_counts(pc, prior=lam)
    ratings = to_elo(theta, battles.models, anchor)
    low = high = None
    if ci == "sandwich":
        low, high = _sandwich_bounds(pc, theta, lam, battles.models, anchor, z_value(level))
    elif ci == "bootstrap":
        boot = to_elo(bootstrap_thetas(pc, theta, prior, rounds=rounds, seed=seed), battles.models, anchor)
        tail = (1 - level) / 2
        low, high = np.quantile(boot, tail, axis=0), np.quantile(boot, 1 - tail, axis=0)
    pinned = model_position(battles.models, next(iter(anchor))) if anchor else None
    return Leaderboard(
        rows=build_rows(battles, ratings, low, high, anchor=pinned),
        method="bt",
        ci=ci,
        level=level,
        battles=len(battles),
        anchor=dict(anchor) if anchor else None,
        rounds=rounds if ci == "bootstrap" else None,
        seed=seed if ci == "bootstrap" else None,
        regularized=lam > 0,
        skipped=battles.skipped,
    )


# ---------------------------------------------------------------------------------------------- online Elo


def online_elo(battles: Battles, *, k: float = ELO_K, start: float = ELO_START) -> F64:
    """Classic online Elo in judgment-time order (base 10, scale 400): after each battle the winner
    takes ``k``·(outcome − expected) points from the loser. Battles without a time go last, in order."""
    ratings = np.full(battles.n_models, start)
    order = np.argsort(np.nan_to_num(battles.time, nan=np.inf), kind="stable")
    a_list = battles.a[order].tolist()
    b_list = battles.b[order].tolist()
    y_list = battles.outcome[order].tolist()
    r = ratings.tolist()
    for a, b, y in zip(a_list, b_list, y_list, strict=True):
        expected = 1.0 / (1.0 + 10.0 ** ((r[b] - r[a]) / 400.0))
        delta = k * (y - expected)
        r[a] += delta
        r[b] -= delta
    return np.array(r, np.float64)


def _elo_board(battles: Battles, anchor: Mapping[str, float] | None) -> Leaderboard:
    ratings = online_elo(battles)
    if anchor:
        ((name, value),) = anchor.items()
        ratings = ratings + (value - ratings[model_position(battles.models, name)])
    return Leaderboard(
        rows=build_rows(battles, ratings, None, None),
        method="elo",
        ci="none",
        level=0.95,
        battles=len(battles),
        anchor=dict(anchor) if anchor else None,
        skipped=battles.skipped,
    )


# ---------------------------------------------------------------------------------------------- matrices


@dataclass(frozen=True)
class Matrix:
    """A models × models matrix: ``values[i][j]`` is about row model i against column model j
    (None where undefined: the diagonal, or pairs that never met for the win-rate matrix)."""

    kind: str
    models: list[str]
    values: list[list[float | None]]
    battles: list[list[int]]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _nan_to_none(matrix: F64) -> list[list[float | None]]:
    return [[None if math.isnan(v) else float(v) for v in row] for row in matrix.tolist()]


def pair_battle_matrix(pc: PairCounts) -> tuple[F64, F64]:
    """(wins with ties as halves, battles) as dense models × models matrices."""
    m = pc.n_models
    wins = np.zeros((m, m))
    n = np.zeros((m, m))
    wins[pc.i, pc.j] = pc.w
    wins[pc.j, pc.i] = pc.n - pc.w
    n[pc.i, pc.j] = n[pc.j, pc.i] = pc.n
    return wins, n


def win_rate_matrix(battles: Battles) -> Matrix:
    """Observed share of battles the row model won against the column model, ties as halves."""
    battles = battles.compact()
    wins, n = pair_battle_matrix(pair_counts(battles))
    with np.errstate(invalid="ignore", divide="ignore"):
        rate_ = np.where(n > 0, wins / n, np.nan)
    return Matrix("winrate", list(battles.models), _nan_to_none(rate_), n.astype(int).tolist())


def predicted_matrix(board: Leaderboard, battles: Battles | None = None) -> Matrix:
    """P(row beats column) implied by the ratings: 1 / (1 + 10^((r_col − r_row)/400))."""
    models = [row.model for row in board.rows]
    r = np.array([row.rating for row in board.rows])
    prob = 1.0 / (1.0 + 10.0 ** ((r[None, :] - r[:, None]) / 400.0))
    np.fill_diagonal(prob, np.nan)
    counts = np.zeros((len(models), len(models)), int)
    if battles is not None:
        compact = battles.compact()
        _, n = pair_battle_matrix(pair_counts(compact))
        pos = [compact.models.index(m) for m in models]
        counts = n[np.ix_(pos, pos)].astype(int)
    return Matrix("predicted", models, _nan_to_none(prob), counts.tolist())
