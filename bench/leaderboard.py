"""Benchmark: a leaderboard with 95% intervals for 1,000,000 battles among 130 models.

Measured in one run, single-threaded BLAS (OPENBLAS_NUM_THREADS=1 is set before numpy loads):

- preflog: exact Bradley-Terry + sandwich intervals, and + a 100-round bootstrap;
- the Chatbot Arena method, reimplemented below from its published description: unique
  (model_a, model_b, outcome) rows weighted by their share of battles, a logistic (BT) loss fitted by
  scipy L-BFGS-B (gtol 1e-6, at most 100 iterations), and a multinomial bootstrap over those rows;
- evalica's Bradley-Terry point estimate (its default solver and tolerance).

Run: ``.venv/bin/python bench/leaderboard.py [--n 1000000] [--models 130] [--rounds 100]``.
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

import argparse
import io
import time
from collections.abc import Callable
from contextlib import redirect_stdout
from typing import Any

import numpy as np
import pandas as pd
from scipy.optimize import minimize
from scipy.special import expit

from preflog.analytics import rate
from preflog.analytics.battles import Battles

ELO = 400 / np.log(10)


def blas_info() -> str:
    try:
        from threadpoolctl import threadpool_info  # type: ignore[import-not-found]

        return "; ".join(
            f"{i['internal_api']} {i.get('version')} threads={i['num_threads']}" for i in threadpool_info()
        )
    except ImportError:
        buf = io.StringIO()
        with redirect_stdout(buf):
            np.show_config()
        text = buf.getvalue()
        lines = [line.strip() for line in text.splitlines() if any(k in line for k in ("name:", "version:"))]
        return "numpy.show_config: " + " | ".join(lines[:8]) + " (threadpoolctl not installed)"


def make_battles(n: int, m: int, seed: int) -> tuple[Battles, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    strength = rng.normal(0, 0.8, m)
    # uneven exposure, like a real arena: some models get many more battles than others
    weight = rng.gamma(1.0, 1.0, m)
    weight /= weight.sum()
    a = rng.choice(m, n, p=weight)
    b = rng.choice(m - 1, n, p=np.delete(weight, 0) / np.delete(weight, 0).sum())
    b = np.where(b >= a, b + 1, b)
    p = expit(strength[a] - strength[b])
    outcome = np.where(rng.random(n) < 0.3, 0.5, (rng.random(n) < p).astype(float))
    models = tuple(f"model-{k:03d}" for k in range(m))
    names = np.array(models, dtype=object)
    winner = np.where(outcome == 1.0, "model_a", np.where(outcome == 0.0, "model_b", "tie"))
    frame = pd.DataFrame({"model_a": names[a], "model_b": names[b], "winner": winner})
    return Battles(models=models, a=a.astype(np.int64), b=b.astype(np.int64), outcome=outcome), frame


# ------------------------------------------------------------------------------------- the Arena baseline


def arena_preprocess(df: pd.DataFrame) -> tuple[Any, Any, Any, list[str]]:
    models = pd.unique(df[["model_a", "model_b"]].values.ravel()).tolist()
    index = {name: k for k, name in enumerate(models)}
    schedule = np.empty((len(df), 3), dtype=np.int32)
    schedule[:, [0, 1]] = df[["model_a", "model_b"]].map(lambda name: index[name]).values
    schedule[:, 2] = np.select([df["winner"] == "model_a", df["winner"] == "model_b"], [2, 0], default=1)
    rows, counts = np.unique(schedule, return_counts=True, axis=0)
    outcomes = rows[:, 2].astype(np.float64) / 2.0
    weights = counts.astype(np.float64)
    return rows[:, [0, 1]], outcomes, weights / weights.sum(), models


def arena_loss(ratings: Any, matchups: Any, outcomes: Any, weights: Any, alpha: float) -> tuple[float, Any]:
    r = ratings[matchups]
    probs = expit(alpha * (r[:, 0] - r[:, 1]))
    loss = -((np.log(probs) * outcomes + np.log(1.0 - probs) * (1.0 - outcomes)) * weights).sum()
    g = -alpha * (outcomes - probs) * weights
    grad = np.zeros_like(ratings)
    np.add.at(grad, matchups[:, [0, 1]], g[:, None] * np.array([1.0, -1.0]))
    return float(loss), grad


def arena_fit(matchups: Any, outcomes: Any, weights: Any, n_models: int, tol: float = 1e-6) -> Any:
    result = minimize(
        arena_loss,
        np.zeros(n_models),
        args=(matchups, outcomes, weights, np.log(10.0)),
        jac=True,
        method="L-BFGS-B",
        options={"maxiter": 100, "gtol": tol},
    )
    return result.x


def arena_method(df: pd.DataFrame, rounds: int) -> tuple[Any, Any, list[str]]:
    matchups, outcomes, weights, models = arena_preprocess(df)
    point = 400.0 * arena_fit(matchups, outcomes, weights, len(models)) + 1000.0
    rng = np.random.default_rng(0)
    draws = rng.multinomial(len(df), weights, size=rounds) / len(df)
    boot = np.array([arena_fit(matchups, outcomes, w, len(models)) for w in draws]) * 400.0 + 1000.0
    return point, np.quantile(boot, [0.025, 0.975], axis=0), models


# ------------------------------------------------------------------------------------- run


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    start = time.perf_counter()
    out = fn()
    return time.perf_counter() - start, out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1_000_000, help="battles (default 1,000,000)")
    parser.add_argument("--models", type=int, default=130)
    parser.add_argument("--rounds", type=int, default=100, help="bootstrap rounds (default 100)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    import evalica

    print(f"BLAS: {blas_info()}")
    print(f"{args.n:,} battles among {args.models} models, {args.rounds} bootstrap rounds")
    battles, frame = make_battles(args.n, args.models, args.seed)
    models = list(battles.models)

    t_sand, sand = timed(lambda: rate(battles))
    t_boot, _boot = timed(lambda: rate(battles, ci="bootstrap", rounds=args.rounds, seed=1))
    t_arena, (arena_point, _, arena_models) = timed(lambda: arena_method(frame, args.rounds))
    winners = np.where(
        battles.outcome == 1.0,
        evalica.Winner.X,
        np.where(battles.outcome == 0.0, evalica.Winner.Y, evalica.Winner.Draw),
    )
    xs, ys = frame["model_a"].to_numpy(), frame["model_b"].to_numpy()
    t_eval, ev = timed(lambda: evalica.bradley_terry(xs, ys, winners.tolist()))
    _, ev_exact = timed(
        lambda: evalica.bradley_terry(xs, ys, winners.tolist(), tolerance=1e-13, limit=100_000)
    )

    ours = np.array([sand.rating_of(m) for m in models])

    def centred(values: Any, names: list[str]) -> Any:
        by_name = dict(zip(names, values, strict=True))
        arr = np.array([by_name[m] for m in models], dtype=float)
        return arr - arr.mean() + 1000.0

    exact_ref = centred(ELO * np.log(ev_exact.scores[models].to_numpy()), models)
    ev_default = centred(ELO * np.log(ev.scores[models].to_numpy()), models)
    arena = centred(arena_point, arena_models)

    print(f"{'method':<44} {'seconds':>8}  {'max |Δ| vs exact (points)':>26}")
    rows = [
        ("preflog BT + sandwich 95% intervals", t_sand, np.abs(ours - exact_ref).max()),
        (f"preflog BT + bootstrap ({args.rounds} rounds)", t_boot, np.abs(ours - exact_ref).max()),
        (f"Chatbot Arena L-BFGS + bootstrap ({args.rounds})", t_arena, np.abs(arena - exact_ref).max()),
        ("evalica Bradley-Terry (point estimate only)", t_eval, np.abs(ev_default - exact_ref).max()),
    ]
    for name, seconds, delta in rows:
        print(f"{name:<44} {seconds:>8.3f}  {delta:>26.2e}")
    print(f"Arena method: median |Δ| vs exact {np.median(np.abs(arena - exact_ref)):.2f} points")
    print(f"speed-up vs Arena method: sandwich {t_arena / t_sand:.0f}x, bootstrap {t_arena / t_boot:.0f}x")
    print(
        f"vs evalica point estimate: sandwich {t_eval / t_sand:.1f}x, bootstrap {t_eval / t_boot:.1f}x faster"
    )
    widths = np.array([r.ci_high - r.ci_low for r in sand.rows])  # type: ignore[operator]
    print(f"median 95% interval width: {np.median(widths):.2f} points; exact reference: evalica tol 1e-13")


if __name__ == "__main__":
    main()
