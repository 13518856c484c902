"""Charts for the leaderboard and the report (matplotlib, Agg backend): PNG or SVG files in a folder."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from preflog.analytics.ratings import Leaderboard
from preflog.analytics.report import Report
from preflog.analytics.stats import DURATION_UNITS, duration_unit
from preflog.errors import ConfigError, ValidationError


def _pyplot() -> Any:
    try:
        import matplotlib
    except ImportError as exc:  # the plot extra is not installed
        raise ConfigError(f"plots need the plot extra: pip install 'preflog[plot]' ({exc})") from exc
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig: Any, folder: Path, name: str, fmt: str) -> Path:
    path = folder / f"{name}.{fmt}"
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    fig.clf()
    return path


#: Where a latency axis may put a tick (seconds): round durations people read at a glance.
_TICKS = (1, 10, 60, 600, 3600, 6 * 3600, 86400, 7 * 86400, 30 * 86400, 365 * 86400)


@dataclass(frozen=True)
class LatencyAxis:
    """How the latency chart draws its x axis (every value in seconds)."""

    scale: str  # "log", or "linear" when a delay is zero or negative
    limits: tuple[float, float]
    ticks: list[tuple[float, str]]  # (seconds, label in the label's own unit)


def latency_axis(values: list[float]) -> LatencyAxis:
    """A log axis from a third of the smallest to three times the largest delay, so no point sits
    on an edge, ticked at round durations each labelled in its own unit (the rule of
    :func:`~preflog.analytics.stats.duration_unit` for values, as the report's table); when a delay is zero
    or negative (the judge's clock behind the inference's) a linear axis in the unit of the
    largest value, from below the smallest.

    >>> axis = latency_axis([42.4, 86.1, 91628.9, 256476.8])
    >>> axis.scale, [label for _, label in axis.ticks]
    ('log', ['1 min', '10 min', '1 h', '6 h', '1 d', '7 d'])
    >>> latency_axis([-30.0, 120.0]).scale
    'linear'
    """
    lo, hi = (min(values), max(values)) if values else (1.0, 60.0)
    if lo > 0:
        limits = (lo / 3, hi * 3)
        ticks = [(float(t), _tick_label(t)) for t in _TICKS if limits[0] <= t <= limits[1]]
        return LatencyAxis("log", limits, ticks)
    unit = duration_unit(max(abs(lo), abs(hi)))
    span = (hi - lo) or 1.0
    limits = (lo - 0.05 * span, hi + 0.05 * span)
    steps = np.linspace(limits[0], limits[1], 6)
    return LatencyAxis("linear", limits, [(float(t), f"{t / unit.seconds:.1f} {unit.symbol}") for t in steps])


def _tick_label(seconds: int) -> str:
    """A round duration in the largest unit that divides it: 3600 → "1 h"."""
    unit = next(u for u in reversed(DURATION_UNITS) if seconds >= u.seconds and seconds % u.seconds == 0)
    return f"{seconds // int(unit.seconds)} {unit.symbol}"


def latency_figure(plt: Any, report: Report) -> Any:
    """The latency chart: p50, p90 and p99 of each latency row on the axis of :func:`latency_axis`."""
    lat = [r for r in report.latency if r.p50 is not None]
    values = [float(v) for r in lat for v in (r.p50, r.p90, r.p99) if v is not None]
    axis = latency_axis(values)
    fig, ax = plt.subplots(figsize=(6.5, 0.45 * len(lat) + 1.4))
    for y, row in enumerate(lat):
        xs = [float(v) for v in (row.p50, row.p90, row.p99) if v is not None]
        ax.plot(xs, [y] * len(xs), "o-")
    ax.set_yticks(range(len(lat)), [f"{row.stage}: {row.group} (n={row.n})" for row in lat], fontsize=8)
    ax.set_xscale(axis.scale)
    ax.set_xlim(*axis.limits)
    ax.set_xticks([t for t, _ in axis.ticks], [label for _, label in axis.ticks])
    ax.minorticks_off()
    ax.set_ylim(-0.6, max(len(lat), 1) - 0.4)
    ax.set_xlabel("feedback latency (p50, p90, p99)")
    ax.grid(axis="x", alpha=0.3)
    return fig


def plot_leaderboard(board: Leaderboard, folder: str | Path, *, fmt: str = "png", top: int = 40) -> Path:
    """Ratings with their intervals, best at the top (a forest plot)."""
    plt = _pyplot()
    folder = _folder(folder, fmt)
    rows = board.rows[:top][::-1]
    fig, ax = plt.subplots(figsize=(7, 0.25 * len(rows) + 1.2))
    ys = range(len(rows))
    ratings = [r.rating for r in rows]
    lows = [r.rating - r.ci_low if r.ci_low is not None else 0.0 for r in rows]
    highs = [r.ci_high - r.rating if r.ci_high is not None else 0.0 for r in rows]
    ax.errorbar(ratings, ys, xerr=[lows, highs], fmt="o", ms=3, capsize=2)  # no interval: a point
    ax.set_yticks(list(ys), [f"{r.rank}. {r.model}" for r in rows], fontsize=7)
    ax.set_xlabel(f"rating ({board.method}, {board.ci} {board.level:.0%} interval)")
    ax.grid(axis="x", alpha=0.3)
    return _save(fig, folder, "leaderboard", fmt)


def _folder(folder: str | Path, fmt: str) -> Path:
    if fmt not in ("png", "svg"):
        raise ValidationError(f"must be png or svg, got {fmt!r}", "format")
    path = Path(folder)
    path.mkdir(parents=True, exist_ok=True)
    return path


def plot_report(report: Report, folder: str | Path, *, fmt: str = "png") -> list[Path]:
    """One chart per monitor: position bias, length bias over time, latency, volume per day."""
    plt = _pyplot()
    out_dir = _folder(folder, fmt)
    paths = []

    rows = [r for r in report.position_bias if r.first_wins.rate is not None]
    fig, ax = plt.subplots(figsize=(6, 0.4 * len(rows) + 1.2))
    for y, r in enumerate(rows):
        rate = r.first_wins.rate or 0.0
        low, high = r.first_wins.ci_low or 0.0, r.first_wins.ci_high or 0.0
        ax.errorbar([rate], [y], xerr=[[rate - low], [high - rate]], fmt="o")
    ax.axvline(0.5, color="grey", ls="--", lw=1)
    ax.set_yticks(range(len(rows)), [f"{r.group} (n={r.first_wins.n})" for r in rows], fontsize=8)
    ax.set_xlabel("share of decisive battles won by the first-shown output")
    paths.append(_save(fig, out_dir, "position_bias", fmt))

    fig, ax = plt.subplots(figsize=(7, 3.2))
    series: dict[str, list[tuple[str, float]]] = {}
    for lb in report.length_bias:
        if lb.window is not None and lb.chosen_longer.rate is not None:
            series.setdefault(lb.group, []).append((lb.window, lb.chosen_longer.rate))
    for group, points in series.items():
        ax.plot([p[0] for p in points], [p[1] for p in points], "o-", label=group)
    ax.axhline(0.5, color="grey", ls="--", lw=1)
    ax.set_ylabel("chosen output is the longer one")
    ax.tick_params(axis="x", labelrotation=45, labelsize=7)
    if series:
        ax.legend(fontsize=7)
    paths.append(_save(fig, out_dir, "length_bias", fmt))

    paths.append(_save(latency_figure(plt, report), out_dir, "latency", fmt))

    fig, ax = plt.subplots(figsize=(7, 3))
    days = list(report.volume.per_day.items())
    ax.bar([d[0] for d in days], [d[1] for d in days])
    ax.set_ylabel("judgments per day")
    ax.tick_params(axis="x", labelrotation=45, labelsize=7)
    paths.append(_save(fig, out_dir, "volume", fmt))
    plt.close("all")
    return paths
