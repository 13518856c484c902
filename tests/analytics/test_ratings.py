"""Ratings against independent implementations (choix, evalica), and the interval machinery."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from preflog.analytics import battles_from_arena, rate
from preflog.analytics.battles import Battles
from preflog.analytics.ratings import online_elo, predicted_matrix, ranks, win_rate_matrix
from tests.analytics.helpers import doubled_pairs, llmfao_rows, ratings_of, synthetic, to_elo

choix = pytest.importorskip("choix")
evalica = pytest.importorskip("evalica")


def choix_elo(battles: Battles) -> np.ndarray:
    theta = choix.ilsr_pairwise(
        battles.n_models, doubled_pairs(battles), alpha=0.0, tol=1e-14, max_iter=100_000
    )
    return to_elo(theta)


def evalica_elo(battles: Battles) -> np.ndarray:
    winners = [
        evalica.Winner.X if y == 1.0 else evalica.Winner.Y if y == 0.0 else evalica.Winner.Draw
        for y in battles.outcome.tolist()
    ]
    names = list(battles.models)
    result = evalica.bradley_terry(
        [names[i] for i in battles.a], [names[i] for i in battles.b], winners, tolerance=1e-14, limit=100_000
    )
    return to_elo(np.log(np.array([result.scores[m] for m in names])))


def test_exact_fit_matches_choix_and_evalica_on_synthetic_data() -> None:
    battles, _ = synthetic(4000, 15, seed=3, tie_rate=0.25)
    ours = ratings_of(rate(battles, ci="none"), battles.models)
    assert np.abs(ours - choix_elo(battles)).max() < 1e-3
    assert np.abs(ours - evalica_elo(battles)).max() < 1e-3
    assert ours.mean() == pytest.approx(1000.0, abs=1e-9)


def test_exact_fit_matches_references_on_llmfao_crowd_votes(shared_data: Path) -> None:
    battles = battles_from_arena(llmfao_rows(shared_data)).compact()
    assert len(battles) == 8931
    board = rate(battles)
    assert not board.regularized  # the LLMFAO comparison graph is strongly connected
    ours = ratings_of(board, battles.models)
    assert np.abs(ours - choix_elo(battles)).max() < 1e-3
    assert np.abs(ours - evalica_elo(battles)).max() < 1e-3
    assert {r.model for r in board.rows} == set(battles.models)


def test_model_seen_on_one_side_only_is_rated() -> None:
    rows = [
        {"model_a": "x", "model_b": "only-b", "winner": w} for w in ("model_a", "model_b", "tie", "model_b")
    ]
    rows += [{"model_a": "x", "model_b": "y", "winner": w} for w in ("model_a", "model_b", "model_a")]
    board = rate(battles_from_arena(rows))
    assert {r.model for r in board.rows} == {"x", "y", "only-b"}
    # only-b: 2.5 of 4 against x; the exact fit puts it above x
    assert board.rating_of("only-b") > board.rating_of("x") > board.rating_of("y")


def test_undefeated_model_gets_finite_regularized_rating() -> None:
    rows = [{"model_a": "champ", "model_b": "x", "winner": "model_a"}] * 5
    rows += [{"model_a": "x", "model_b": "y", "winner": w} for w in ("model_a", "model_b")]
    board = rate(battles_from_arena(rows))
    assert board.regularized
    assert board.rows[0].model == "champ"
    assert all(math.isfinite(r.rating) and r.ci_low is not None for r in board.rows)


def test_anchor_pins_one_model_and_keeps_differences() -> None:
    battles, _ = synthetic(2000, 6, seed=1)
    free = rate(battles)
    pinned = rate(battles, anchor={"m002": 1114.0})
    assert pinned.rating_of("m002") == pytest.approx(1114.0)
    shift = pinned.rating_of("m000") - free.rating_of("m000")
    for m in battles.models:
        assert pinned.rating_of(m) - free.rating_of(m) == pytest.approx(shift)
    anchored = next(r for r in pinned.rows if r.model == "m002")
    assert anchored.ci_low == pytest.approx(1114.0) and anchored.ci_high == pytest.approx(1114.0)


def test_bootstrap_is_deterministic_with_a_seed_and_close_to_sandwich() -> None:
    battles, _ = synthetic(5000, 8, seed=2)
    one = rate(battles, ci="bootstrap", rounds=200, seed=7)
    two = rate(battles, ci="bootstrap", rounds=200, seed=7)
    assert one.to_dict() == two.to_dict()
    other = rate(battles, ci="bootstrap", rounds=200, seed=8)
    assert one.rows[0].ci_low != other.rows[0].ci_low
    sandwich = rate(battles)
    for b_row in one.rows:
        s_row = next(r for r in sandwich.rows if r.model == b_row.model)
        assert b_row.rating == pytest.approx(s_row.rating)
        width_b = b_row.ci_high - b_row.ci_low  # type: ignore[operator]
        width_s = s_row.ci_high - s_row.ci_low  # type: ignore[operator]
        assert 0.7 < width_b / width_s < 1.3


def test_sandwich_intervals_cover_the_truth_about_95_percent() -> None:
    hits = total = 0
    for seed in range(60):
        battles, true = synthetic(600, 5, seed=100 + seed, tie_rate=0.0)  # ties would shrink the truth
        board = rate(battles)
        truth = to_elo(true)
        for k, model in enumerate(battles.models):
            row = next(r for r in board.rows if r.model == model)
            hits += row.ci_low <= truth[k] <= row.ci_high  # type: ignore[operator]
            total += 1
    assert 0.88 <= hits / total <= 0.99


def test_rank_counts_models_whose_interval_lies_entirely_above() -> None:
    low = np.array([10.0, 8.0, 0.0, -5.0])
    high = np.array([12.0, 11.0, 9.0, 1.0])
    assert ranks(low, high).tolist() == [1, 1, 2, 3]


def test_online_elo_known_answer() -> None:
    battles = Battles(
        models=("A", "B"),
        a=np.array([0, 1]),
        b=np.array([1, 0]),
        outcome=np.array([1.0, 1.0]),
        time=np.array([1.0, 2.0]),
    )
    r = online_elo(battles)
    # 1: A beats B at even odds: +2 / -2. 2: B (998) beats A (1002).
    expected_b = 1 / (1 + 10 ** ((1002 - 998) / 400))
    delta = 4 * (1 - expected_b)
    assert r[0] == pytest.approx(1002 - delta, abs=1e-12)
    assert r[1] == pytest.approx(998 + delta, abs=1e-12)
    assert delta == pytest.approx(2.0230245, abs=1e-6)
    # time order, not row order
    swapped = Battles(
        models=("A", "B"), a=battles.a, b=battles.b, outcome=battles.outcome, time=np.array([2.0, 1.0])
    )
    assert online_elo(swapped)[1] == pytest.approx(1002 - delta)
    board = rate(battles, method="elo")
    assert board.method == "elo" and board.rows[0].ci_low is None


def test_win_rate_and_predicted_matrices() -> None:
    rows = [{"model_a": "x", "model_b": "y", "winner": w} for w in ("model_a", "model_a", "tie", "model_b")]
    battles = battles_from_arena(rows)
    wr = win_rate_matrix(battles)
    assert wr.values[0][1] == pytest.approx(2.5 / 4) and wr.values[1][0] == pytest.approx(1.5 / 4)
    assert wr.values[0][0] is None and wr.battles[0][1] == 4
    pred = predicted_matrix(rate(battles), battles)
    # with two models the exact fit reproduces the observed rate
    assert pred.values[0][1] == pytest.approx(2.5 / 4, abs=1e-9)


def test_style_control_recovers_a_length_effect() -> None:
    rng = np.random.default_rng(5)
    n, m = 6000, 5
    true = np.array([0.4, 0.2, 0.0, -0.2, -0.4])
    a = rng.integers(0, m, n)
    b = (a + rng.integers(1, m, n)) % m
    la, lb = rng.integers(50, 2000, n), rng.integers(50, 2000, n)
    f = (la - lb) / (la + lb + 1)
    z = true[a] - true[b] + 0.8 * (f - f.mean()) / f.std()
    y = (rng.random(n) < 1 / (1 + np.exp(-z))).astype(float)
    style = np.zeros((n, 4), np.int64)
    sa, sb = style.copy(), style.copy()
    sa[:, 0], sb[:, 0] = la, lb
    sa[:, 1] = rng.integers(0, 3, n)
    sb[:, 1] = rng.integers(0, 3, n)
    battles = Battles(models=tuple("abcde"), a=a, b=b, outcome=y, style_a=sa, style_b=sb)
    board = rate(battles, style_control=True)
    coefs = {c.feature: c for c in board.style or []}
    assert set(coefs) == {"length", "headers"}  # lists and bold never vary: left out
    assert 0.65 < coefs["length"].coef < 0.95 and coefs["length"].ci_low > 0.5  # true effect 0.8
    assert coefs["headers"].ci_low < 0.0 < coefs["headers"].ci_high
    assert board.rows[0].model == "a"
