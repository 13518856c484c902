"""The one Newton solver behind every exact fit in analytics (plain Bradley-Terry and style control).

Both likelihoods are concave, so Newton's method with a backtracking line search reaches the exact
maximum in a handful of steps: each step solves H·s = g for the (negated, made invertible) Hessian H
and the gradient g, halves ``t`` until the log-likelihood does not fall (to a relative 1e-12, the
rounding noise of a sum over a million battles), and stops when no coordinate moves by ``tol``.
A model only supplies its log-likelihood and its Newton system; the loop is written once, here.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from numpy.typing import NDArray

F64 = NDArray[np.float64]

#: (negative Hessian made invertible, gradient) at a point.
System = Callable[[F64], tuple[F64, F64]]


def expit(x: F64) -> F64:
    """The logistic function 1 / (1 + e^-x), without overflow.

    >>> [round(float(v), 4) for v in expit(np.array([-2.0, 0.0, 2.0]))]
    [0.1192, 0.5, 0.8808]
    """
    from scipy.special import expit as _expit

    out: F64 = _expit(x)
    return out


def solve(h: F64, g: F64) -> F64:
    """s with h·s = g: Cholesky for the positive-definite systems the fits build, least squares when
    rounding leaves h singular (a model with almost no battles)."""
    from scipy.linalg import LinAlgError, cho_factor, cho_solve

    try:
        out: F64 = cho_solve(cho_factor(h), g)
    except LinAlgError:
        out = np.linalg.lstsq(h, g, rcond=None)[0].astype(np.float64)
    return out


def maximize(
    start: F64,
    loglik: Callable[[F64], float],
    system: System,
    *,
    tol: float,
    max_iter: int,
    recenter: Callable[[F64], None] | None = None,
) -> F64:
    """The maximiser of a concave ``loglik`` from ``start`` (not modified) by damped Newton steps.

    ``recenter`` fixes the gauge in place after each step (Σθ = 0 for ratings, which the
    likelihood cannot see). Stops when the largest coordinate change is below ``tol``.

    >>> concave = lambda x: float(-((x - 3.0) ** 2).sum())
    >>> newton = lambda x: (np.eye(1) * 2.0, -2.0 * (x - 3.0))
    >>> maximize(np.zeros(1), concave, newton, tol=1e-12, max_iter=20).tolist()
    [3.0]
    """
    x = start.astype(np.float64, copy=True)
    ll = loglik(x)
    for _ in range(max_iter):
        step = solve(*system(x))
        t = 1.0
        while True:
            trial = x + t * step
            new = loglik(trial)
            if new >= ll - 1e-12 * abs(ll) or t < 1e-8:
                break
            t *= 0.5
        x, ll = trial, new
        if recenter is not None:
            recenter(x)
        if float(np.abs(t * step).max()) < tol:
            break
    return x
