"""Style control: Bradley-Terry with style covariates, fitted per battle by Newton's method.

For each battle the covariates are, for length (characters), markdown headers, list items and bold
spans, ``(a − b) / (a + b + 1)`` of the two outputs' counts, standardized over the battles (mean 0,
standard deviation 1; battles whose texts are unknown get 0). The model is

    logit P(a beats b) = θ_a − θ_b + Σ_k β_k·f_k

fitted jointly (ties count half) to the exact maximum likelihood. The θ give style-controlled
ratings — "what would the ranking be if every model wrote in the same style" — and β_k says how
much one standard deviation of style k moves the odds, whoever wrote it. Intervals are sandwich or
bootstrap (per-battle multinomial weights) as for plain ratings.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

import numpy as np
from numpy.typing import NDArray

from preflog.analytics.battles import Battles
from preflog.analytics.board import (
    CI,
    Leaderboard,
    StyleCoefficient,
    build_rows,
    interval,
    rating_variance,
    to_elo,
    z_value,
)
from preflog.analytics.bt import ELO_PER_LOGIT
from preflog.analytics.newton import expit, maximize
from preflog.errors import ValidationError

F64 = NDArray[np.float64]
FEATURES = ("length", "headers", "lists", "bold")


@dataclass(frozen=True)
class StyleDesign:
    """Battles ready for the joint fit: model indices, outcomes and the standardized features kept."""

    m: int
    a: NDArray[np.int64]
    b: NDArray[np.int64]
    y: F64
    features: F64  # battles × k
    names: tuple[str, ...]


def style_design(battles: Battles, names: tuple[str, ...] = FEATURES) -> StyleDesign:
    """The standardized covariates; a feature that never varies is left out (it cannot be fitted)."""
    known = (battles.style_a[:, 0] >= 0) & (battles.style_b[:, 0] >= 0)
    cols: list[F64] = []
    kept: list[str] = []
    for name in names:
        k = FEATURES.index(name)
        sa = battles.style_a[:, k].astype(np.float64)
        sb = battles.style_b[:, k].astype(np.float64)
        raw = np.where(known, (sa - sb) / (sa + sb + 1.0), 0.0)
        if known.sum() < 2:
            continue
        mean, std = raw[known].mean(), raw[known].std()
        if not std > 1e-12:
            continue
        cols.append(np.where(known, (raw - mean) / std, 0.0))
        kept.append(name)
    features = np.column_stack(cols) if cols else np.zeros((len(battles), 0))
    return StyleDesign(battles.n_models, battles.a, battles.b, battles.outcome, features, tuple(kept))


def _blocks(d: StyleDesign, v: F64) -> F64:
    """Σ_battles v·x xᵀ for x = (e_a − e_b, f): the Hessian (v = p(1−p)) or the meat (v = (y−p)²)."""
    m, k = d.m, d.features.shape[1]
    code = d.a * m + d.b
    agg = np.bincount(code, v, m * m).reshape(m, m)
    agg = agg + agg.T
    out = np.zeros((m + k, m + k))
    out[:m, :m] = -agg
    out[np.arange(m), np.arange(m)] = agg.sum(axis=1)
    vf = d.features * v[:, None]
    cross = np.stack(
        [np.bincount(d.a, vf[:, c], m) - np.bincount(d.b, vf[:, c], m) for c in range(k)], axis=1
    )
    out[:m, m:] = cross.reshape(m, k)
    out[m:, :m] = cross.reshape(m, k).T
    out[m:, m:] = d.features.T @ vf
    return out


def _logits(d: StyleDesign, params: F64) -> F64:
    out: F64 = params[d.a] - params[d.b] + d.features @ params[d.m :]
    return out


def _loglik(d: StyleDesign, params: F64, weight: F64) -> float:
    z = _logits(d, params)
    return float(-(weight * (d.y * np.logaddexp(0, -z) + (1 - d.y) * np.logaddexp(0, z))).sum())


def fit_style(d: StyleDesign, weight: F64 | None = None, start: F64 | None = None, tol: float = 1e-10) -> F64:
    """Joint maximum-likelihood (θ with Σθ = 0, then β) by Newton's method with a line search."""
    wt = np.ones(len(d.y)) if weight is None else weight
    gauge = np.zeros(d.m + d.features.shape[1])
    gauge[: d.m] = 1.0

    def system(params: F64) -> tuple[F64, F64]:
        p = expit(_logits(d, params))
        r = wt * (d.y - p)
        grad = np.concatenate([np.bincount(d.a, r, d.m) - np.bincount(d.b, r, d.m), d.features.T @ r])
        return _blocks(d, wt * p * (1 - p)) + np.outer(gauge, gauge), grad

    def center(params: F64) -> None:
        params[: d.m] -= params[: d.m].mean()

    return maximize(
        np.zeros_like(gauge) if start is None else start,
        lambda params: _loglik(d, params, wt),
        system,
        tol=tol,
        max_iter=100,
        recenter=center,
    )


# A matrix this ill-conditioned is singular but for rounding: whether inverting it raises depends
# on the machine's BLAS kernels (AVX-512 or not). A model that never lost gives ~1e16; the demo's
# well-posed fits 4-21.
SINGULAR_COND: Final = 1e12


def style_sandwich(d: StyleDesign, params: F64, *, strict: bool = False) -> F64:
    """The sandwich covariance of ``params``. ``strict``: a bread matrix singular but for rounding
    (:data:`SINGULAR_COND`; a model that only ever won, groups that never met) raises
    ``LinAlgError`` on every machine, as an exactly singular one does."""
    p = expit(_logits(d, params))
    gauge = np.zeros_like(params)
    gauge[: d.m] = 1.0
    information = _blocks(d, p * (1 - p)) + np.outer(gauge, gauge)
    if strict and not np.linalg.cond(information) < SINGULAR_COND:
        raise np.linalg.LinAlgError("the design is degenerate: no finite variance")
    bread = np.linalg.inv(information)
    cov: F64 = bread @ _blocks(d, (d.y - p) ** 2) @ bread
    return cov


def _bounds_from_cov(cov: F64, m: int, anchor_index: int | None, z: float) -> F64:
    var = rating_variance(cov[:m, :m], anchor_index)
    half: F64 = z * np.sqrt(np.clip(np.concatenate([var, np.diag(cov)[m:]]), 0, None))
    return half


def rate_with_style(
    battles: Battles,
    *,
    ci: CI,
    rounds: int,
    seed: int | None,
    anchor: Mapping[str, float] | None,
    level: float,
) -> Leaderboard:
    """A leaderboard whose ratings are controlled for style, with the style coefficients."""
    d = style_design(battles)
    params = fit_style(d)
    m = d.m
    ratings = to_elo(params[:m], battles.models, anchor)
    anchor_index = battles.models.index(next(iter(anchor))) if anchor else None
    z = z_value(level)
    if ci == "bootstrap":
        rng = np.random.default_rng(seed)
        n = len(battles)
        draws = rng.multinomial(n, np.full(n, 1.0 / n), size=rounds).astype(np.float64)
        boot = np.stack([fit_style(d, draws[r], params) for r in range(rounds)])
        boot_r = to_elo(boot[:, :m], battles.models, anchor)
        tail = (1 - level) / 2
        low_all = np.concatenate([np.quantile(boot_r, tail, axis=0), np.quantile(boot[:, m:], tail, axis=0)])
        high_all = np.concatenate(
            [np.quantile(boot_r, 1 - tail, axis=0), np.quantile(boot[:, m:], 1 - tail, axis=0)]
        )
    elif ci == "sandwich":
        half = _bounds_from_cov(style_sandwich(d, params), m, anchor_index, z)
        center = np.concatenate([ratings, params[m:]])
        scale = np.concatenate([np.full(m, ELO_PER_LOGIT), np.ones(len(params) - m)])
        low_all, high_all = center - half * scale, center + half * scale
    else:
        raise ValidationError("style control needs ci sandwich or bootstrap", "ci")
    coefs = [
        StyleCoefficient(
            name,
            float(params[m + c]),
            *interval(low_all[m + c], high_all[m + c], params[m + c]),
            elo_points=float(params[m + c] * ELO_PER_LOGIT),
        )
        for c, name in enumerate(d.names)
    ]
    return Leaderboard(
        rows=build_rows(battles, ratings, low_all[:m], high_all[:m], anchor=anchor_index),
        method="bt+style",
        ci=ci,
        level=level,
        battles=len(battles),
        anchor=dict(anchor) if anchor else None,
        rounds=rounds if ci == "bootstrap" else None,
        seed=seed if ci == "bootstrap" else None,
        style=coefs,
    )
