"""Known answers: Wilson intervals, the sign test, sample sizes, Krippendorff's alpha, Fleiss' kappa, A/B."""

from __future__ import annotations

import math

import numpy as np
import pytest

from preflog.analytics import battles_from_arena, compare
from preflog.analytics.stats import (
    binomial_test,
    fleiss_kappa,
    krippendorff_alpha_nominal,
    sample_size,
    wilson,
)


def test_wilson_by_hand() -> None:
    # 8 of 10, z = 1.959964: centre (0.8 + z²/20)/(1 + z²/10), half-width z/(1+z²/10)·√(0.016 + z²/400)
    z = 1.959963984540054
    centre = (0.8 + z * z / 20) / (1 + z * z / 10)
    half = z / (1 + z * z / 10) * math.sqrt(0.8 * 0.2 / 10 + z * z / 400)
    p = wilson(8, 10)
    assert p.ci_low == pytest.approx(centre - half, abs=1e-12)
    assert p.ci_high == pytest.approx(centre + half, abs=1e-12)
    assert (round(p.ci_low, 4), round(p.ci_high, 4)) == (0.4902, 0.9433)  # type: ignore[arg-type]
    assert wilson(0, 0).rate is None


def test_sign_test_and_sample_size() -> None:
    # P(X >= 9) for Bin(10, 0.5) = 11/1024; two-sided doubles it
    assert binomial_test(9, 10) == pytest.approx(22 / 1024)
    # ((1.959964·0.5 + 0.841621·√0.24) / 0.1)² = 193.8 → 194 decisive battles
    assert sample_size(0.6, power=0.8, alpha=0.05) == 194
    assert sample_size(0.5) is None


def test_krippendorff_alpha_textbook_example() -> None:
    # Krippendorff (2011), "Computing Krippendorff's Alpha-Reliability": 4 coders, 12 units, α = 0.743
    coders = [
        [1, 2, 3, 3, 2, 1, 4, 1, 2, None, None, None],
        [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, None, 3],
        [None, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, None],
        [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, None],
    ]
    units = [[v for v in unit if v is not None] for unit in zip(*coders, strict=True)]
    assert krippendorff_alpha_nominal(units) == pytest.approx(0.743, abs=5e-4)
    assert krippendorff_alpha_nominal([["a", "a"], ["a", "a"]]) is None


def test_fleiss_kappa_textbook_example() -> None:
    # Fleiss (1971) as tabulated on Wikipedia: 10 subjects, 14 raters, 5 categories, κ = 0.210
    table = [
        [0, 0, 0, 0, 14],
        [0, 2, 6, 4, 2],
        [0, 0, 3, 5, 6],
        [0, 3, 9, 2, 0],
        [2, 2, 8, 1, 1],
        [7, 7, 0, 0, 0],
        [3, 2, 6, 3, 0],
        [2, 5, 3, 2, 2],
        [6, 5, 2, 1, 0],
        [0, 2, 2, 3, 7],
    ]
    units = [[cat for cat, count in enumerate(row) for _ in range(count)] for row in table]
    assert fleiss_kappa(units) == pytest.approx(0.20993, abs=1e-5)


def _rows(a_wins: int, b_wins: int, ties: int, **extra: str) -> list[dict[str, str]]:
    outcomes = ["model_a"] * a_wins + ["model_b"] * b_wins + ["tie"] * ties
    return [{"model_a": "new", "model_b": "old", "winner": w, **extra} for w in outcomes]


def test_ab_known_answer_with_ties_apart_and_both_orientations() -> None:
    rows = _rows(30, 15, 5)
    rows += [{"model_a": "old", "model_b": "new", "winner": "model_b"}] * 10  # new wins when shown second
    rows += [{"model_a": "old", "model_b": "other", "winner": "model_a"}] * 7  # not part of the comparison
    result = compare(battles_from_arena(rows), "new", "old")
    h = result.overall
    assert (h.battles, h.wins_a, h.wins_b, h.ties) == (60, 40, 15, 5)
    assert h.win_rate.rate == pytest.approx(40 / 55)
    ref = wilson(40, 55)
    assert (h.win_rate.ci_low, h.win_rate.ci_high) == (ref.ci_low, ref.ci_high)
    from scipy.stats import binomtest

    assert h.p_value == pytest.approx(binomtest(40, 55).pvalue)
    assert h.tie_rate == pytest.approx(5 / 60)
    assert h.further_needed == 0  # a 73% win rate needs far fewer than 55 decisive battles


def test_ab_power_further_judgments_and_segments() -> None:
    rows = [dict(r, judge="x") for r in _rows(12, 10, 2)]
    battles = battles_from_arena(rows)
    result = compare(battles, "new", "old", power=0.8, alpha=0.05, segment="source")
    h = result.overall
    needed = sample_size(12 / 22)
    assert h.decisive_needed == needed
    assert h.further_needed == math.ceil(needed / (22 / 24)) - 24  # type: ignore[operator]
    assert [s.segment for s in result.segments] == ["human"]
    assert result.segments[0].wins_a == 12
    flipped = compare(battles, "old", "new")
    assert flipped.overall.wins_a == 10 and flipped.overall.p_value == pytest.approx(h.p_value)
    assert np.isclose(flipped.overall.win_rate.rate + h.win_rate.rate, 1.0)  # type: ignore[operator]
