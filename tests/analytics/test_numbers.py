"""Numbers and charts (#12.7): the latency axis, one duration unit rule everywhere, no interval for
a fit without variance, and the report table with a missing interval."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from preflog import analytics
from preflog.analytics import battles_from_arena, rate
from preflog.analytics.plots import latency_axis, latency_figure
from preflog.analytics.stats import duration_unit
from preflog.cli import main
from preflog.cli.analytics_cmds import _print_report
from preflog.events import format_time, parse_time
from preflog.server.ui.trends import trends
from preflog.store.sqlite import SQLiteStore
from tests import factories as f
from tests.analytics.helpers import MemoryStore

P = "numbers"
T0 = parse_time(f.T0).timestamp()
DAY = 86400.0


def _delayed_store(*, skew: float | None = None) -> MemoryStore:
    """Humans judge 1-3 days after the inference, end users 30-50 s after; ``skew``: one end-user
    judgment that many seconds *before* its inference (the judge's clock behind)."""
    store = MemoryStore()
    events: list[dict[str, Any]] = []
    for k in range(20):
        inf = f.inference(models=("alpha", "beta"), outputs=("a long answer " * (k + 2), "short"))
        rid = inf["request_id"]
        human_at = format_time(T0 + DAY * (1 + (k % 3)))
        user_at = format_time(T0 + 30 + k)
        events += [
            inf,
            f.preference(rid, "c0", "c1", occurred_at=human_at, source={"kind": "human", "id": f"h{k % 3}"}),
            f.preference(rid, "c1", "c0", occurred_at=user_at, source={"kind": "end_user", "id": f"u{k}"}),
        ]
    if skew is not None:
        inf = f.inference(models=("alpha", "beta"))
        early = format_time(T0 - skew)
        events += [inf, f.preference(inf["request_id"], occurred_at=early, source={"kind": "end_user"})]
    store.append(events, project=P)
    return store


def test_latency_chart_axis_is_positive_and_holds_every_point() -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    report = analytics.report(_delayed_store(), P)
    values = [v for r in report.latency for v in (r.p50, r.p90, r.p99) if v is not None]
    fig = latency_figure(plt, report)
    (ax,) = fig.axes
    low, high = ax.get_xlim()
    assert ax.get_xscale() == "log" and 0 < low < min(values) and high > max(values)  # no point on an edge
    labels = [t.get_text() for t in ax.get_xticklabels()]
    assert labels and all(re.fullmatch(r"\d+ (s|min|h|d)", label) for label in labels), labels
    plt.close(fig)


def test_negative_latency_gets_a_linear_axis_that_shows_it() -> None:
    axis = latency_axis([-30.0, 40.0, 2 * DAY])
    assert axis.scale == "linear" and axis.limits[0] < -30.0 and axis.limits[1] > 2 * DAY
    assert all(label.endswith(" d") for _, label in axis.ticks)  # the unit of the largest value


def test_latency_unit_by_magnitude_in_the_table_json_and_dashboard(
    capsys: pytest.CaptureFixture[str],
) -> None:
    store = _delayed_store()
    assert main(["--db", str(store.path), "--project", P, "report"]) == 0
    table = capsys.readouterr().out
    human = next(line for line in table.splitlines() if "judgment" in line and "source=human" in line)
    assert re.search(r"p50 +2\.0 d", human), human  # 1, 2 or 3 days: the median is 2 days
    user = next(line for line in table.splitlines() if "judgment" in line and "source=end_user" in line)
    assert re.search(r"p50 +39\.5 s", user), user
    assert main(["--db", str(store.path), "--project", P, "report", "--format", "json"]) == 0
    rows = {r["group"]: r for r in json.loads(capsys.readouterr().out)["latency"]}
    assert rows["source=human"]["p50"] == pytest.approx(2 * DAY)  # JSON stays in seconds
    battles = analytics.extract_battles(store, P)
    unit = trends(battles, window="day").latency_unit  # what the dashboard draws in
    largest = max(p.p90_s for p in trends(battles, window="day").latency if p.p90_s is not None)
    assert unit == duration_unit(largest)
    assert unit.name == "days"


def test_a_bootstrap_of_one_battle_has_no_interval() -> None:
    one = battles_from_arena([{"model_a": "x", "model_b": "y", "winner": "model_a"}])
    board = rate(one, ci="bootstrap", rounds=50, seed=1)
    assert [(r.ci_low, r.ci_high) for r in board.rows] == [(None, None), (None, None)]
    sandwich = rate(one)  # the sandwich still has a variance (the weak prior keeps it finite)
    assert all(r.ci_low is not None and r.ci_low < r.rating < r.ci_high for r in sandwich.rows)


def test_the_anchor_keeps_its_pinned_interval() -> None:
    rows = [{"model_a": "x", "model_b": "y", "winner": w} for w in ("model_a", "model_b", "model_a", "tie")]
    board = rate(battles_from_arena(rows), anchor={"y": 1100.0}, ci="bootstrap", rounds=30)
    pinned = next(r for r in board.rows if r.model == "y")
    assert pinned.ci_low == pinned.ci_high == pytest.approx(1100.0)


def _no_zero_width(text: str) -> None:
    zero = re.findall(r"\[([-+]?\d+\.\d+), \1\]", text)
    assert not zero, f"zero-width intervals printed: {zero}"


def test_demo_report_has_no_zero_width_interval_and_the_month_table_prints(tmp_path: Path) -> None:
    from preflog.demo import load_demo

    store = SQLiteStore(tmp_path / "demo.db")
    load_demo(store, "demo")
    rows = analytics.report(store, "demo", window="month").length_bias
    judge = next(r for r in rows if r.group == "source=ai_judge" and r.window is None)
    # cirrus-70b never lost to the AI judge: the fit has a coefficient but no variance
    assert judge.coef is not None and judge.ci_low is None and judge.ci_high is None
    for r in rows:
        if r.ci_low is not None:
            assert r.ci_high is not None and r.ci_high - r.ci_low > 1e-6
    assert main(["--db", str(tmp_path / "demo.db"), "--project", "demo", "report", "--window", "month"]) == 0


def test_report_table_prints_a_coefficient_without_interval(capsys: pytest.CaptureFixture[str]) -> None:
    # the `report --window month` crash: a length coefficient whose interval is null
    rate_ = {"successes": 3, "n": 4, "rate": 0.75, "ci_low": 0.3, "ci_high": 0.95}
    data = {
        "position_bias": [],
        "length_bias": [
            {
                "group": "source=human",
                "window": "2026-11",
                "chosen_longer": rate_,
                "coef": 0.4,
                "ci_low": None,
                "ci_high": None,
            }
        ],
        "agreement": {
            "units": 0,
            "annotators": 0,
            "krippendorff_alpha": None,
            "fleiss_kappa": None,
            "judges": [],
        },
        "latency": [
            {"stage": "judgment", "group": "all", "n": 0, "p50": None, "p90": None, "p99": None, "pending": 0}
        ],
        "volume": {
            "judgments": 0,
            "battles": 0,
            "per_day": {},
            "per_source": {},
            "per_model": {},
            "per_user": {},
        },
    }
    _print_report(data)
    out = capsys.readouterr().out
    assert "coef +0.400 [—]" in out
    _no_zero_width(out)


def test_style_coefficients_keep_real_intervals() -> None:
    from tests.analytics.helpers import synthetic

    battles, _ = synthetic(600, 4, seed=2)
    rng = np.random.default_rng(0)
    n = len(battles)
    styled = type(battles)(
        battles.models,
        battles.a,
        battles.b,
        battles.outcome,
        style_a=rng.integers(0, 40, (n, 4)),
        style_b=rng.integers(0, 40, (n, 4)),
    )
    board = rate(styled, style_control=True)
    assert board.style and all(c.ci_low is not None and c.ci_low < c.coef < c.ci_high for c in board.style)
