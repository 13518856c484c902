"""Analytics over the preference log: leaderboards, A/B tests, bias, agreement, latency and volume.

Each analysis is one function returning a JSON-able dataclass (``.to_dict()``), so the CLI and the
HTTP routes are one call each::

    battles = extract_battles(store, "demo", source="human")
    board = leaderboard(store, "demo", ci="bootstrap", rounds=200, seed=1)
    ab = head_to_head(store, "demo", "model-a", "model-b", segment="source")
    rep = report(store, "demo", manifests=["out/manifest.json"])

Needs the ``analytics`` extra (numpy, scipy); charts need ``plot`` (matplotlib).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from preflog.analytics.ab import ABResult, Segment, compare
from preflog.analytics.battles import Battles, BothBad, By, battles_from_arena, extract_battles, select
from preflog.analytics.judges import JudgesReport, judges_report
from preflog.analytics.ratings import CI, Leaderboard, Matrix, Method, predicted_matrix, rate, win_rate_matrix
from preflog.analytics.report import Report, Window, build_report
from preflog.store.base import Store

__all__ = [
    "ABResult",
    "Battles",
    "JudgesReport",
    "Leaderboard",
    "Matrix",
    "Report",
    "battles_from_arena",
    "build_report",
    "compare",
    "extract_battles",
    "head_to_head",
    "judges",
    "judges_report",
    "leaderboard",
    "matrix",
    "rate",
    "report",
    "select",
]


def leaderboard(
    store: Store,
    project: str,
    *,
    method: Method = "bt",
    ci: CI = "sandwich",
    rounds: int = 100,
    seed: int | None = 0,
    anchor: Mapping[str, float] | None = None,
    style_control: bool = False,
    by: By = "model",
    both_bad: BothBad = "tie",
    **filters: Any,
) -> Leaderboard:
    """Ratings of the models judged in ``project`` (filters: source, criterion, since, until, user)."""
    battles = extract_battles(store, project, by=by, both_bad=both_bad, **filters)
    return rate(
        battles, method=method, ci=ci, rounds=rounds, seed=seed, anchor=anchor, style_control=style_control
    )


def matrix(
    store: Store,
    project: str,
    *,
    kind: str = "winrate",
    by: By = "model",
    both_bad: BothBad = "tie",
    **filters: Any,
) -> Matrix:
    """The observed win-rate matrix (``winrate``) or the Bradley-Terry predicted one (``predicted``)."""
    battles = extract_battles(store, project, by=by, both_bad=both_bad, **filters)
    if kind == "winrate":
        return win_rate_matrix(battles)
    if kind == "predicted":
        return predicted_matrix(rate(battles, ci="none"), battles)
    from preflog.errors import ValidationError

    raise ValidationError(f"must be winrate or predicted, got {kind!r}", "matrix")


def head_to_head(
    store: Store,
    project: str,
    model_a: str,
    model_b: str,
    *,
    power: float = 0.8,
    alpha: float = 0.05,
    segment: Segment | None = None,
    by: By = "model",
    both_bad: BothBad = "tie",
    **filters: Any,
) -> ABResult:
    """A/B comparison of two models (or versions, ``by="version"``: ``name@version``)."""
    battles = extract_battles(store, project, by=by, both_bad=both_bad, **filters)
    return compare(battles, model_a, model_b, power=power, alpha=alpha, segment=segment)


def report(
    store: Store,
    project: str,
    *,
    manifests: Sequence[str | Path] = (),
    window: Window = "week",
    both_bad: BothBad = "tie",
    **filters: Any,
) -> Report:
    """The monitoring report (position/length bias, agreement, latency, volume) of ``project``; the
    reward models' scores count for agreement with humans and length bias (per scorer)."""
    battles = extract_battles(store, project, both_bad=both_bad, scores=True, **filters)
    return build_report(battles, manifests=manifests, window=window)


def judges(store: Store, project: str, *, both_bad: BothBad = "tie", **filters: Any) -> JudgesReport:
    """Each reward model and AI judge of ``project`` (its preferences and its scores), by name and
    version: agreement with the human majority and length bias, beside the humans' length bias."""
    battles = extract_battles(store, project, both_bad=both_bad, scores=True, **filters)
    return judges_report(battles)
