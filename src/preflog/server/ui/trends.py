"""Time series for the dashboards, per window (day, week or month), from one set of battles.

The report (:func:`preflog.analytics.build_report`) gives position bias, latency and volume for
the whole period; charts over time need them per window. Same definitions as the report:
position bias is the share of decisive battles won by the candidate shown first (Wilson interval),
length bias is the share of decisive battles (outputs of different known length) won by the longer
output — the report's ``chosen_longer``, without its regression coefficient, which needs more
battles than one window of one source often has. Feedback latency is judgment time minus
inference time per judgment, drawn in the unit of the largest 90th percentile
(:func:`~preflog.analytics.stats.duration_unit`, the rule of the report's table); volume counts
judgments.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from preflog.analytics.battles import Battles
from preflog.analytics.report import Window, window_labels
from preflog.analytics.stats import DurationUnit, Proportion, duration_unit, quantiles, wilson


@dataclass(frozen=True)
class PositionPoint:
    window: str
    first_wins: Proportion


@dataclass(frozen=True)
class LatencyPoint:
    window: str
    n: int
    p50_s: float | None
    p90_s: float | None


@dataclass(frozen=True)
class LengthPoint:
    group: str  # "all" or a source kind
    window: str
    chosen_longer: Proportion


@dataclass(frozen=True)
class Trends:
    window: str
    windows: list[str]
    position: list[PositionPoint]
    length: list[LengthPoint]
    latency: list[LatencyPoint]
    volume: dict[str, dict[str, int]]  # source kind -> window -> judgments
    latency_unit: DurationUnit  # the unit the latency chart is drawn in (of its largest value)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def trends(battles: Battles, *, window: Window = "week") -> Trends:
    labels = np.array(window_labels(battles.time, window), dtype=object)
    windows = sorted(set(labels.tolist()) - {"(unknown)"})
    first_won = np.where(battles.first == 1, battles.outcome, 1.0 - battles.outcome)
    decisive = (battles.first >= 0) & (battles.outcome != 0.5)
    _, first_of = np.unique(battles.judgment, return_index=True)  # one battle per judgment
    one = np.zeros(len(battles), bool)
    one[first_of] = True
    delay = battles.time - battles.inferred_at
    kinds = np.array([label or "(none)" for label in battles.source_kind.values()], dtype=object)
    la, lb = battles.style_a[:, 0], battles.style_b[:, 0]
    sized = (la >= 0) & (lb >= 0) & (la != lb) & (battles.outcome != 0.5)
    longer_won = np.where(la > lb, battles.outcome, 1.0 - battles.outcome) == 1.0
    groups = [("all", np.ones(len(battles), bool))] + [
        (kind, kinds == kind) for kind in sorted(set(kinds.tolist()))
    ]
    position, latency, length = [], [], []
    volume: dict[str, dict[str, int]] = {}
    for w in windows:
        in_w = labels == w
        sel = in_w & decisive
        position.append(PositionPoint(w, wilson(int((first_won[sel] == 1.0).sum()), int(sel.sum()))))
        d = delay[in_w & one & np.isfinite(delay)]
        q = quantiles(d.tolist())
        latency.append(LatencyPoint(w, len(d), q["p50"], q["p90"]))
        for group, mask in groups:
            sel = in_w & mask & sized
            if sel.any():
                length.append(LengthPoint(group, w, wilson(int(longer_won[sel].sum()), int(sel.sum()))))
        for kind in sorted(set(kinds[in_w & one].tolist())):
            volume.setdefault(kind, {})[w] = int((in_w & one & (kinds == kind)).sum())
    largest = max((p.p90_s for p in latency if p.p90_s is not None), default=None)
    return Trends(window, windows, position, length, latency, volume, duration_unit(largest))
