"""Charts for the leaderboard and the report (matplotlib, Agg backend): PNG or SVG files in a folder."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from preflog.analytics.ratings import Leaderboard
from preflog.analytics.report import Report
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


def plot_leaderboard(board: Leaderboard, folder: str | Path, *, fmt: str = "png", top: int = 40) -> Path:
    """Ratings with their intervals, best at the top (a forest plot)."""
    plt = _pyplot()
    folder = _folder(folder, fmt)
    rows = board.rows[:top][::-1]
    fig, ax = plt.subplots(figsize=(7, 0.25 * len(rows) + 1.2))
    ys = range(len(rows))
    ratings = [r.rating for r in rows]
    if all(r.ci_low is not None and r.ci_high is not None for r in rows):
        lows = [r.rating - float(r.ci_low or 0) for r in rows]
        highs = [float(r.ci_high or 0) - r.rating for r in rows]
        ax.errorbar(ratings, ys, xerr=[lows, highs], fmt="o", ms=3, capsize=2)
    else:
        ax.plot(ratings, ys, "o", ms=3)
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

    fig, ax = plt.subplots(figsize=(6, 3))
    lat = [r for r in report.latency if r.p50 is not None]
    for y, row in enumerate(lat):
        ax.plot([row.p50, row.p90, row.p99], [y] * 3, "o-")
    ax.set_yticks(range(len(lat)), [f"{row.stage}: {row.group}" for row in lat], fontsize=8)
    ax.set_xscale("symlog")
    ax.set_xlabel("seconds (p50, p90, p99)")
    paths.append(_save(fig, out_dir, "latency", fmt))

    fig, ax = plt.subplots(figsize=(7, 3))
    days = list(report.volume.per_day.items())
    ax.bar([d[0] for d in days], [d[1] for d in days])
    ax.set_ylabel("judgments per day")
    ax.tick_params(axis="x", labelrotation=45, labelsize=7)
    paths.append(_save(fig, out_dir, "volume", fmt))
    plt.close("all")
    return paths
