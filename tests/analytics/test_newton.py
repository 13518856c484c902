"""One Newton solver for every fit: plain Bradley-Terry and style control share it, and the
analytics modules import each other in one direction only."""

from __future__ import annotations

import ast
from pathlib import Path

import numpy as np

from preflog.analytics.bt import fit_counts, pair_counts
from preflog.analytics.newton import maximize
from preflog.analytics.style import StyleDesign, fit_style
from tests.analytics.helpers import synthetic

ANALYTICS = Path(__file__).resolve().parents[2] / "src" / "preflog" / "analytics"


def test_style_fit_without_covariates_is_the_plain_fit() -> None:
    # Style control with a covariate that is zero everywhere is Bradley-Terry fitted per battle
    # instead of per pair count: the same likelihood through the same solver, the same maximum.
    battles, _ = synthetic(3000, 9, seed=5, tie_rate=0.2)
    plain = fit_counts(pair_counts(battles))
    zero = np.zeros((3000, 1))
    design = StyleDesign(battles.n_models, battles.a, battles.b, battles.outcome, zero, ("length",))
    params = fit_style(design)
    per_battle, beta = params[:-1], params[-1]
    assert beta == 0.0
    assert np.abs(plain - per_battle).max() < 1e-9
    assert abs(float(per_battle.sum())) < 1e-9  # the gauge Σθ = 0 is kept after every step


def test_line_search_keeps_a_step_that_would_overshoot() -> None:
    # log-likelihood −log cosh(x − 2): Newton's full step from 0 jumps to about 13.7, far past
    # the maximum at 2 and lower than the start; the backtracking must still converge to 2.
    def loglik(x: np.ndarray) -> float:
        return float(-np.log(np.cosh(x - 2.0)).sum())

    def system(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return np.eye(1) / np.cosh(x[0] - 2.0) ** 2, -np.tanh(x - 2.0)

    start = np.zeros(1)
    found = maximize(start, loglik, system, tol=1e-12, max_iter=100)
    assert abs(float(found[0]) - 2.0) < 1e-9
    assert start[0] == 0.0  # the start is not modified


def _imports(path: Path) -> set[str]:
    out = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("preflog.analytics."):
            out.add(node.module.rsplit(".", 1)[1])
    return out


def test_analytics_modules_import_each_other_without_a_cycle() -> None:
    graph = {p.stem: _imports(p) for p in ANALYTICS.glob("*.py")}

    def reaches(start: str, target: str, seen: set[str]) -> bool:
        for nxt in graph.get(start, set()):
            if nxt == target or (nxt not in seen and reaches(nxt, target, seen | {nxt})):
                return True
        return False

    cycles = sorted(m for m in graph if reaches(m, m, {m}))
    assert cycles == []
