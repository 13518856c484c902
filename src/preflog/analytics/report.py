"""The monitoring report: position bias, length bias, agreement, feedback latency and volume.

Every section is a plain function over :class:`~preflog.analytics.battles.Battles` returning
JSON-able dataclasses, and :func:`build_report` gathers them. See ``docs/analytics.md`` for how to
read each figure.
"""

from __future__ import annotations

import json
import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

from preflog.analytics.battles import Battles
from preflog.analytics.stats import (
    Proportion,
    binomial_test,
    fleiss_kappa,
    krippendorff_alpha_nominal,
    quantiles,
    wilson,
)
from preflog.errors import ValidationError

Window = Literal["day", "week", "month"]
JUDGE_KINDS = ("reward_model", "ai_judge")


# ---------------------------------------------------------------------------------------------- position


@dataclass(frozen=True)
class PositionBias:
    """How often the candidate shown first wins its decisive battles (0.5 = no position bias)."""

    group: str
    battles: int  # with a known presentation order
    ties: int
    first_wins: Proportion
    p_value: float | None


def _by_source(battles: Battles) -> list[tuple[str, NDArray[np.bool_]]]:
    """ "all" and each source kind, over the judgments (battles from scores are apart)."""
    judged = ~battles.scored
    groups = [("all", judged)]
    for code, label in enumerate(battles.source_kind.labels):
        groups.append((f"source={label or '(none)'}", judged & (battles.source_kind.codes == code)))
    return [(name, mask) for name, mask in groups if mask.any()]


def _by_scorer(battles: Battles) -> list[tuple[str, NDArray[np.bool_]]]:
    """One group per scorer (``scorer=name@version``) of the battles derived from scores."""
    if not battles.scored.any():
        return []
    labels = np.array(judge_labels(battles), dtype=object)
    names = sorted(set(labels[battles.scored].tolist()))
    return [(f"scorer={name.split(':', 1)[1]}", battles.scored & (labels == name)) for name in names]


def judge_labels(battles: Battles) -> list[str]:
    """Who gave each battle's verdict: ``kind:id``, and ``@version`` for reward models and AI judges
    (a new version of a judge is another judge; an annotator's guideline version is not)."""
    kinds, ids = battles.source_kind.values(), battles.source_id.values()
    versions = battles.source_version.values()
    return [
        f"{k}:{i}@{v}" if v and (k in JUDGE_KINDS or scored) else f"{k}:{i}"
        for k, i, v, scored in zip(kinds, ids, versions, battles.scored.tolist(), strict=True)
    ]


def position_bias(battles: Battles, *, level: float = 0.95) -> list[PositionBias]:
    """First-presented win rate with a Wilson interval and a sign test, overall and per source kind."""
    known = battles.first >= 0
    first_won = np.where(battles.first == 1, battles.outcome, 1.0 - battles.outcome)
    out = []
    for name, mask in _by_source(battles):
        sel = mask & known
        decisive = sel & (battles.outcome != 0.5)
        wins = int((first_won[decisive] == 1.0).sum())
        n = int(decisive.sum())
        out.append(
            PositionBias(
                name, int(sel.sum()), int(sel.sum()) - n, wilson(wins, n, level), binomial_test(wins, n)
            )
        )
    return out


# ---------------------------------------------------------------------------------------------- length


@dataclass(frozen=True)
class LengthBias:
    """``chosen_longer``: share of decisive battles (with different known lengths) won by the
    longer output. ``coef``: the fitted length coefficient (logits per standard deviation of the
    normalized length difference, with the models as covariates), with its sandwich interval."""

    group: str
    window: str | None
    chosen_longer: Proportion
    coef: float | None
    ci_low: float | None
    ci_high: float | None


def _length_fit(battles: Battles, level: float) -> tuple[float | None, float | None, float | None]:
    from preflog.analytics.board import interval, z_value
    from preflog.analytics.style import fit_style, style_design, style_sandwich

    sub = battles.compact()
    if len(sub) < 10 or sub.n_models < 2:
        return None, None, None
    design = style_design(sub, ("length",))
    if not design.names:
        return None, None, None
    try:
        params = fit_style(design)
    except np.linalg.LinAlgError:
        return None, None, None
    if not np.isfinite(params).all():
        return None, None, None
    coef = float(params[-1])
    try:
        cov = style_sandwich(design, params, strict=True)
    except np.linalg.LinAlgError:
        # A small window can leave the design degenerate (a model that only ever won there, or
        # two groups of models that never met): the estimate stands, its interval does not.
        return coef, None, None
    half = z_value(level) * math.sqrt(max(float(cov[-1, -1]), 0.0))
    return (coef, *interval(coef - half, coef + half, coef))  # no width: a fit without variance


def length_row(
    battles: Battles, mask: NDArray[np.bool_], group: str, window: str | None, level: float
) -> LengthBias:
    la, lb = battles.style_a[:, 0], battles.style_b[:, 0]
    usable = mask & (la >= 0) & (lb >= 0) & (la != lb) & (battles.outcome != 0.5)
    longer_won = np.where(la > lb, battles.outcome, 1.0 - battles.outcome)[usable]
    coef, low, high = _length_fit(battles.subset(mask), level)
    return LengthBias(
        group, window, wilson(int((longer_won == 1.0).sum()), int(usable.sum()), level), coef, low, high
    )


def window_labels(times: NDArray[np.float64], window: Window) -> list[str]:
    """UTC calendar buckets: ``2026-11-26`` (day), the Monday of the ISO week, or ``2026-11``."""
    if window not in ("day", "week", "month"):
        raise ValidationError(f"must be day, week or month, got {window!r}", "window")
    out = []
    for t in times.tolist():
        if math.isnan(t):
            out.append("(unknown)")
            continue
        day = datetime.fromtimestamp(t, UTC).date()
        if window == "week":
            day = day.fromordinal(day.toordinal() - day.weekday())
        out.append(day.strftime("%Y-%m") if window == "month" else day.isoformat())
    return out


def length_bias(battles: Battles, *, window: Window = "week", level: float = 0.95) -> list[LengthBias]:
    """Length bias overall, per source kind, per scorer (battles from scores), and per time window
    for each source kind and scorer."""
    sources, scorers = _by_source(battles), _by_scorer(battles)
    rows = [length_row(battles, mask, name, None, level) for name, mask in sources + scorers]
    labels = np.array(window_labels(battles.time, window))
    for name, mask in (sources[1:] or sources) + scorers:
        for label in sorted(set(labels[mask].tolist())):
            rows.append(length_row(battles, mask & (labels == label), name, label, level))
    return rows


# ---------------------------------------------------------------------------------------------- agreement


@dataclass(frozen=True)
class JudgeAgreement:
    """How often one reward model / AI judge gives the human majority's verdict (a, b or tie)."""

    judge: str
    units: int
    agreement: Proportion


@dataclass(frozen=True)
class Agreement:
    """Inter-annotator reliability on items (request + candidate pair) judged by 2+ human annotators,
    verdicts nominal (first wins / second wins / tie)."""

    units: int
    annotators: int
    krippendorff_alpha: float | None
    fleiss_kappa: float | None
    judges: list[JudgeAgreement] = field(default_factory=list)


def _verdicts(battles: Battles, mask: NDArray[np.bool_], key: Sequence[str]) -> dict[int, dict[str, str]]:
    """pair code → {rater: verdict}; a rater's later verdict on the same item replaces the earlier.
    A verdict names the winning model (or ``tie``), never a side: two annotators shown the pair
    in different orders still agree when they pick the same output."""
    out: dict[int, dict[str, str]] = defaultdict(dict)
    order = np.argsort(battles.judgment, kind="stable")
    for k in order[mask[order]].tolist():
        y = float(battles.outcome[k])
        winner = "tie" if y == 0.5 else battles.models[int(battles.a[k] if y == 1.0 else battles.b[k])]
        out[int(battles.pair.codes[k])][key[k]] = winner
    return out


def agreement(battles: Battles, *, level: float = 0.95) -> Agreement:
    """Krippendorff's alpha and Fleiss' kappa among humans, and each judge (AI judges, reward models
    and the scorers of score events, by name and version) against the human majority."""
    raters = judge_labels(battles)
    human = battles.source_kind.mask("human") & ~battles.scored
    humans = _verdicts(battles, human, raters)
    units = [list(v.values()) for v in humans.values() if len(v) >= 2]
    annotators = {r for v in humans.values() if len(v) >= 2 for r in v}
    majority = {}
    for code, votes in humans.items():
        top = Counter(votes.values()).most_common(2)
        if len(top) == 1 or top[0][1] > top[1][1]:
            majority[code] = top[0][0]
    judges: dict[str, list[bool]] = defaultdict(list)
    judged_by = (battles.source_kind.mask(JUDGE_KINDS) & ~battles.scored) | battles.scored
    for code, votes in _verdicts(battles, judged_by, raters).items():
        if code in majority:
            for judge, verdict in votes.items():
                judges[judge].append(verdict == majority[code])
    return Agreement(
        units=len(units),
        annotators=len(annotators),
        krippendorff_alpha=krippendorff_alpha_nominal(units),
        fleiss_kappa=fleiss_kappa(units),
        judges=[JudgeAgreement(j, len(v), wilson(sum(v), len(v), level)) for j, v in sorted(judges.items())],
    )


# ---------------------------------------------------------------------------------------------- latency


@dataclass(frozen=True)
class Latency:
    """Seconds from inference to judgment (per source kind), or from judgment to its first compiled
    dataset (``stage="compiled"``); ``pending`` counts judgments not in any manifest yet."""

    stage: str
    group: str
    n: int
    p50: float | None
    p90: float | None
    p99: float | None
    pending: int = 0


def _judgments(battles: Battles) -> NDArray[np.int64]:
    """Index of one battle per judgment."""
    _, first = np.unique(battles.judgment, return_index=True)
    out: NDArray[np.int64] = first.astype(np.int64)
    return out


@dataclass(frozen=True)
class Manifest:
    """What the latency section reads from a compile ``manifest.json``: the event-position watermark
    (``watermark`` as an integer, or an object with ``position``/``last_position``/``to``; or top-level
    ``watermark_position``/``last_position``) and the creation time (``created_at``, else
    ``compiled_at``/``created``, RFC 3339)."""

    path: str
    watermark: int
    created_at: float


def _first_int(obj: Any, keys: Iterable[str]) -> int | None:
    if isinstance(obj, int) and not isinstance(obj, bool):
        return obj
    if isinstance(obj, dict):
        for key in keys:
            value = obj.get(key)
            if isinstance(value, int) and not isinstance(value, bool):
                return value
            if isinstance(value, dict):
                found = _first_int(value, keys)
                if found is not None:
                    return found
    return None


def read_manifest(path: str | Path) -> Manifest:
    from preflog.events import parse_time

    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ValidationError(f"cannot read manifest: {exc}", str(path)) from exc
    keys = ("position", "last_position", "to", "watermark_position", "event_position")
    mark = _first_int(data.get("watermark"), keys) if isinstance(data, dict) else None
    if mark is None and isinstance(data, dict):
        mark = _first_int(data, ("watermark_position", "last_position"))
    created = next(
        (
            data.get(k)
            for k in ("created_at", "compiled_at", "created")
            if isinstance(data, dict) and data.get(k)
        ),
        None,
    )
    if mark is None or not isinstance(created, str):
        raise ValidationError("manifest has no readable watermark position and created_at", str(path))
    return Manifest(str(path), mark, parse_time(created).timestamp())


def latency(battles: Battles, manifests: Sequence[str | Path] = ()) -> list[Latency]:
    """Judgment delay after inference per source kind, then judgment → first compiled dataset."""
    idx = _judgments(battles)
    delay = (battles.time - battles.inferred_at)[idx]
    kinds = np.array(battles.source_kind.values(), dtype=object)[idx] if len(idx) else np.array([], object)
    rows = []
    for group in ["all", *sorted(set(kinds.tolist()))]:
        sel = np.isfinite(delay) & ((kinds == group) if group != "all" else True)
        q = quantiles(delay[sel].tolist())
        name = group if group == "all" else f"source={group or '(none)'}"
        rows.append(Latency("judgment", name, int(sel.sum()), q["p50"], q["p90"], q["p99"]))
    if manifests:
        rows.append(_compiled_latency(battles, idx, [read_manifest(p) for p in manifests]))
    return rows


def _compiled_latency(battles: Battles, idx: NDArray[np.int64], manifests: list[Manifest]) -> Latency:
    manifests = sorted(manifests, key=lambda m: m.created_at)
    marks = np.maximum.accumulate(np.array([m.watermark for m in manifests]))
    created = np.array([m.created_at for m in manifests])
    positions = battles.judgment[idx]
    start = np.where(np.isfinite(battles.received_at[idx]), battles.received_at[idx], battles.time[idx])
    first = np.searchsorted(marks, positions, side="left")  # first manifest whose watermark covers it
    done = first < len(manifests)
    delays = created[first[done]] - start[done]
    q = quantiles(delays[np.isfinite(delays)].tolist())
    return Latency(
        "compiled", "all", int(done.sum()), q["p50"], q["p90"], q["p99"], pending=int((~done).sum())
    )


# ---------------------------------------------------------------------------------------------- volume


@dataclass(frozen=True)
class Volume:
    """Judgments per UTC day, per source kind and per user; battles per model (as either side)."""

    judgments: int
    battles: int
    per_day: dict[str, int]
    per_source: dict[str, int]
    per_model: dict[str, int]
    per_user: dict[str, int]


def volume(battles: Battles) -> Volume:
    idx = _judgments(battles)
    days = window_labels(battles.time[idx], "day")
    sources = [battles.source_kind.labels[c] or "(none)" for c in battles.source_kind.codes[idx]]
    users = [battles.user.labels[c] or "(none)" for c in battles.user.codes[idx]]
    per_model = dict(zip(battles.models, battles.battle_counts().tolist(), strict=True))
    return Volume(
        judgments=len(idx),
        battles=len(battles),
        per_day=dict(sorted(Counter(days).items())),
        per_source=dict(Counter(sources).most_common()),
        per_model={k: v for k, v in sorted(per_model.items(), key=lambda kv: -kv[1]) if v},
        per_user=dict(Counter(users).most_common()),
    )


# ---------------------------------------------------------------------------------------------- report


@dataclass(frozen=True)
class Report:
    position_bias: list[PositionBias]
    length_bias: list[LengthBias]
    agreement: Agreement
    latency: list[Latency]
    volume: Volume
    skipped: dict[str, int]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def build_report(
    battles: Battles,
    *,
    manifests: Sequence[str | Path] = (),
    window: Window = "week",
    level: float = 0.95,
) -> Report:
    """Every monitor over ``battles`` (compiled-dataset latency only when ``manifests`` are given).
    Battles from score events (``scored``) count for agreement and length bias, per scorer; the
    other sections are about judgments."""
    judged = battles.subset(~battles.scored) if battles.scored.any() else battles
    return Report(
        position_bias=position_bias(judged, level=level),
        length_bias=length_bias(battles, window=window, level=level),
        agreement=agreement(battles, level=level),
        latency=latency(judged, manifests),
        volume=volume(judged),
        skipped=battles.skipped,
    )
