"""The exact Bradley-Terry fit on aggregated pair counts, its sandwich covariance and bootstrap.

Every battle between models i and j (i < j) is one of three kinds: i won, tie, j won. The
log-likelihood of the Bradley-Terry model with ties counted as half a win to each side is

    ℓ(θ) = Σ_pairs  w_ij·log σ(θ_i − θ_j) + (n_ij − w_ij)·log σ(θ_j − θ_i),   w_ij = wins_i + ties/2

so it depends on the data only through three counts per pair: 1,000,000 battles among 130 models
are at most 8,385 pairs. We maximise ℓ by Newton's method (the Hessian is a weighted graph
Laplacian, solved densely with the gauge Σθ = 0) with a backtracking line search, to a step below
1e-12 logits — the exact maximum-likelihood estimate, not an approximation. The loop is
:func:`preflog.analytics.newton.maximize`, shared with style control.

The MLE exists when the "beat or tied" graph is strongly connected; when it is not (a model that
never lost, or separate groups of models never compared), a weak Gaussian prior (ridge ``prior``
in logits⁻², 0.01 by default there) keeps the ratings finite and the result says ``regularized``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Final

import numpy as np
from numpy.typing import NDArray

from preflog.analytics.battles import Battles
from preflog.analytics.newton import expit, maximize
from preflog.errors import ValidationError

ELO_PER_LOGIT: Final = 400.0 / math.log(10.0)  # 400·log10 odds: rating points per natural-log unit
FALLBACK_PRIOR: Final = 0.01

F64 = NDArray[np.float64]
I64 = NDArray[np.int64]


@dataclass(frozen=True)
class PairCounts:
    """Outcome counts per compared pair ``i[k] < j[k]``: ``wins_i``, ``ties``, ``wins_j``."""

    n_models: int
    i: I64
    j: I64
    wins_i: F64
    ties: F64
    wins_j: F64

    @property
    def n(self) -> F64:
        out: F64 = self.wins_i + self.ties + self.wins_j
        return out

    @property
    def w(self) -> F64:
        """Wins of i with ties as halves."""
        out: F64 = self.wins_i + 0.5 * self.ties
        return out

    @property
    def total(self) -> float:
        return float(self.n.sum())

    def with_counts(self, counts: F64) -> PairCounts:
        """The same pairs with new counts, ``counts`` of shape (3, pairs): i won, tie, j won."""
        return replace(self, wins_i=counts[0], ties=counts[1], wins_j=counts[2])

    def stacked(self) -> F64:
        return np.stack([self.wins_i, self.ties, self.wins_j])


def pair_counts(battles: Battles) -> PairCounts:
    """Aggregate battles into per-pair outcome counts (ties and both-bad alike count as ties)."""
    m = battles.n_models
    a, b, y = battles.a, battles.b, battles.outcome
    if len(y) and not np.isin(y, (0.0, 0.5, 1.0)).all():
        raise ValidationError("battle outcomes must be 0, 0.5 or 1", "outcome")
    swap = a > b
    lo = np.where(swap, b, a)
    hi = np.where(swap, a, b)
    yi = np.where(swap, 1.0 - y, y)
    code = lo * m + hi
    size = m * m
    wins_i: F64 = np.bincount(code, weights=(yi == 1.0).astype(np.float64), minlength=size).astype(np.float64)
    ties: F64 = np.bincount(code, weights=(yi == 0.5).astype(np.float64), minlength=size).astype(np.float64)
    n = np.bincount(code, minlength=size).astype(np.float64)
    keep = np.flatnonzero(n)
    return PairCounts(
        n_models=m,
        i=(keep // m).astype(np.int64),
        j=(keep % m).astype(np.int64),
        wins_i=wins_i[keep],
        ties=ties[keep],
        wins_j=n[keep] - wins_i[keep] - ties[keep],
    )


def mle_exists(pc: PairCounts) -> bool:
    """True when every model can reach every other through "beat or tied" edges (strong connectivity)."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    if pc.n_models <= 1:
        return True
    w = pc.w
    lost = pc.n - w
    rows = np.concatenate([pc.i[w > 0], pc.j[lost > 0]])
    cols = np.concatenate([pc.j[w > 0], pc.i[lost > 0]])
    graph = coo_matrix((np.ones(len(rows)), (rows, cols)), shape=(pc.n_models, pc.n_models))
    count, _ = connected_components(graph, directed=True, connection="strong")
    return int(count) == 1


def _log_likelihood(pc: PairCounts, theta: F64, prior: float) -> float:
    d = theta[pc.i] - theta[pc.j]
    w = pc.w
    ll = -(w * np.logaddexp(0.0, -d) + (pc.n - w) * np.logaddexp(0.0, d)).sum()
    return float(ll - 0.5 * prior * float(theta @ theta))


def laplacian(pc: PairCounts, weights: F64) -> F64:
    """The weighted graph Laplacian Σ_pairs weight·(e_i − e_j)(e_i − e_j)ᵀ."""
    m = pc.n_models
    lap = np.zeros((m, m))
    lap[pc.i, pc.j] = -weights
    lap[pc.j, pc.i] = -weights
    lap[np.diag_indices(m)] = np.bincount(pc.i, weights, m) + np.bincount(pc.j, weights, m)
    return lap


def _gradient(pc: PairCounts, p: F64, theta: F64, prior: float) -> F64:
    r = pc.w - pc.n * p
    g: F64 = np.bincount(pc.i, r, pc.n_models) - np.bincount(pc.j, r, pc.n_models) - prior * theta
    return g


def _system(pc: PairCounts, p: F64, prior: float) -> F64:
    """The negative Hessian, made invertible: + prior·I, or + 11ᵀ (the gauge Σθ = 0) without a prior."""
    m = pc.n_models
    h = laplacian(pc, pc.n * p * (1.0 - p))
    if prior > 0:
        h[np.diag_indices(m)] += prior
    else:
        h += 1.0
    return h


def fit_counts(
    pc: PairCounts,
    *,
    prior: float = 0.0,
    theta0: F64 | None = None,
    tol: float = 1e-12,
    max_iter: int = 200,
) -> F64:
    """Maximum-likelihood log-strengths θ (natural logits; Σθ = 0 when ``prior`` is 0)."""
    m = pc.n_models
    if m <= 1 or len(pc.i) == 0:
        return np.zeros(m)

    def system(theta: F64) -> tuple[F64, F64]:
        p = expit(theta[pc.i] - theta[pc.j])
        return _system(pc, p, prior), _gradient(pc, p, theta, prior)

    def center(theta: F64) -> None:
        theta -= theta.mean()

    return maximize(
        np.zeros(m) if theta0 is None else theta0,
        lambda theta: _log_likelihood(pc, theta, prior),
        system,
        tol=tol,
        max_iter=max_iter,
        recenter=center if prior == 0 else None,
    )


def choose_prior(pc: PairCounts, prior: float | None) -> float:
    """``prior`` when given, else 0 when the MLE exists and :data:`FALLBACK_PRIOR` when it does not."""
    if prior is not None:
        if prior < 0 or not math.isfinite(prior):
            raise ValidationError("must be a finite number >= 0", "prior")
        return prior
    return 0.0 if mle_exists(pc) else FALLBACK_PRIOR


def sandwich_covariance(pc: PairCounts, theta: F64, prior: float) -> F64:
    """Robust (Huber-White sandwich) covariance of θ under Σθ = 0: H⁺ B H⁺.

    The "meat" B = Σ_battles s sᵀ with s = (y − p)(e_i − e_j); per pair Σ(y − p)² needs only the
    three outcome counts, so it is exact without visiting the battles.
    """
    p = expit(theta[pc.i] - theta[pc.j])
    resid2 = pc.wins_i * (1.0 - p) ** 2 + pc.ties * (0.5 - p) ** 2 + pc.wins_j * p**2
    meat = laplacian(pc, resid2)
    bread = np.linalg.inv(_system(pc, p, prior))
    cov: F64 = bread @ meat @ bread
    return cov


def bootstrap_thetas(
    pc: PairCounts, theta: F64, prior: float | None, *, rounds: int, seed: int | None
) -> F64:
    """θ for ``rounds`` multinomial resamples of the battles (shape rounds × models).

    Resampling N battles with replacement is a multinomial draw over the battle kinds (pair ×
    outcome) with probabilities count/N, so each round is one draw and one warm-started fit.
    """
    if rounds < 1:
        raise ValidationError("must be at least 1", "rounds")
    rng = np.random.default_rng(seed)
    counts = pc.stacked()
    total = int(np.rint(counts.sum()))
    draws = rng.multinomial(total, (counts / max(total, 1)).ravel(), size=rounds).astype(np.float64)
    out = np.empty((rounds, pc.n_models))
    for r in range(rounds):
        sample = pc.with_counts(draws[r].reshape(3, -1))
        lam = choose_prior(sample, prior)
        out[r] = fit_counts(sample, prior=lam, theta0=theta)
    return out
