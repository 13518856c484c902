"""Battle rows as they are read from the store: the inference a judgment joins (its candidates'
models and style), and the builder that collects rows and freezes them into
:class:`~preflog.analytics.frame.Battles`. Preferences (:mod:`.battles`) and reward scores
(:mod:`.scored`) both add rows here.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from preflog.analytics.frame import Battles, Column, StyleCounts, style_counts
from preflog.events import candidate_text, parse_time

By = Literal["model", "version"]
BothBad = Literal["tie", "drop"]


@dataclass
class Candidate:
    model: str | None
    style: StyleCounts | None


@dataclass
class Inference:
    request_id: str
    candidates: dict[str, Candidate]
    order: list[str]
    presented: list[str] | None
    user: str
    time: float


@dataclass(frozen=True)
class Judge:
    """Who gave a verdict: a preference's ``source``, or the scorer of ``score`` events."""

    kind: str
    id: str = ""
    version: str = ""


@dataclass(frozen=True)
class Verdict:
    """One battle as a judgment gave it: candidate ``x`` against ``y`` with the outcome for ``x``."""

    x: str
    y: str
    outcome: float
    judge: Judge
    judgment: int  # the store position of the judgment (shared by the battles of a ranking)
    time: float
    received_at: float
    criterion: str = ""
    presented: list[str] | None = None  # the order the judge saw, when the judgment says
    both_bad: bool = False
    scored: bool = False


ROW_KEYS = (
    "a",
    "b",
    "outcome",
    "first",
    "style_a",
    "style_b",
    "time",
    "inferred_at",
    "received_at",
    "judgment",
    "both_bad",
    "scored",
    "source_kind",
    "source_id",
    "source_version",
    "criterion",
    "user",
    "pair",
)


@dataclass
class Builder:
    """Accumulates battle rows as Python lists, then freezes them into :class:`Battles`."""

    both_bad: BothBad
    models: dict[str, int] = field(default_factory=dict)
    rows: dict[str, list[Any]] = field(default_factory=lambda: {k: [] for k in ROW_KEYS})
    skipped: Counter[str] = field(default_factory=Counter)

    def add(self, row: Mapping[str, Any]) -> None:
        for key in ROW_KEYS:
            self.rows[key].append(row[key])

    def model(self, name: str) -> int:
        return self.models.setdefault(name, len(self.models))

    def comparable(self, inf: Inference, x: str, y: str) -> bool:
        """Whether candidates ``x`` and ``y`` of ``inf`` make a battle; counts why not."""
        cx, cy = inf.candidates.get(x), inf.candidates.get(y)
        if cx is None or cy is None:
            self.skipped["unknown candidate"] += 1
        elif cx.model is None or cy.model is None:
            self.skipped["no model name"] += 1
        elif cx.model == cy.model:
            self.skipped["same model"] += 1
        else:
            return True
        return False

    def add_verdict(self, inf: Inference, v: Verdict) -> None:
        """One battle row, the candidate shown first on side a (see :func:`orient`)."""
        ka, kb, out, known = orient(inf, v.presented, v.x, v.y, v.outcome)
        ca, cb = inf.candidates[ka], inf.candidates[kb]
        self.add(
            {
                "a": self.model(str(ca.model)),
                "b": self.model(str(cb.model)),
                "outcome": out,
                "first": 1 if known and not v.scored else -1,  # a scorer sees no order
                "style_a": ca.style,
                "style_b": cb.style,
                "time": v.time,
                "inferred_at": inf.time,
                "received_at": v.received_at,
                "judgment": v.judgment,
                "both_bad": v.both_bad,
                "scored": v.scored,
                "source_kind": v.judge.kind,
                "source_id": v.judge.id,
                "source_version": v.judge.version,
                "criterion": v.criterion,
                "user": inf.user,
                "pair": "\x1f".join([inf.request_id, *sorted((ka, kb))]),
            }
        )

    def build(self) -> Battles:
        r = self.rows
        n = len(r["a"])
        unknown = (-1, -1, -1, -1)
        return Battles(
            models=tuple(self.models),
            a=np.array(r["a"], np.int64),
            b=np.array(r["b"], np.int64),
            outcome=np.array(r["outcome"], np.float64),
            first=np.array(r["first"], np.int8),
            style_a=np.array([s or unknown for s in r["style_a"]], np.int64).reshape(n, 4),
            style_b=np.array([s or unknown for s in r["style_b"]], np.int64).reshape(n, 4),
            time=np.array(r["time"], np.float64),
            inferred_at=np.array(r["inferred_at"], np.float64),
            received_at=np.array(r["received_at"], np.float64),
            judgment=np.array(r["judgment"], np.int64),
            both_bad=np.array(r["both_bad"], bool),
            scored=np.array(r["scored"], bool),
            source_kind=Column.from_values(r["source_kind"]),
            source_id=Column.from_values(r["source_id"]),
            source_version=Column.from_values(r["source_version"]),
            criterion=Column.from_values(r["criterion"]),
            user=Column.from_values(r["user"]),
            pair=Column.from_values(r["pair"]),
            skipped=dict(sorted(self.skipped.items())),
        )


def orient(
    inf: Inference, presented: list[str] | None, x: str, y: str, out: float
) -> tuple[str, str, float, bool]:
    """Put the candidate shown first on side a (the judgment's order, else the inference's; else
    the inference's candidate order); say whether the shown order was known."""
    order = presented or inf.presented
    if order and x in order and y in order:
        if order.index(x) < order.index(y):
            return x, y, out, True
        return y, x, 1.0 - out, True
    if inf.order.index(x) <= inf.order.index(y):
        return x, y, out, False
    return y, x, 1.0 - out, False


def model_label(candidate: Mapping[str, Any], by: By) -> str | None:
    model = candidate.get("model")
    if not isinstance(model, dict) or not model.get("name"):
        return None
    name = str(model["name"])
    if by == "version" and model.get("version"):
        return f"{name}@{model['version']}"
    return name


def read_inference(event: Mapping[str, Any], by: By) -> Inference:
    candidates: dict[str, Candidate] = {}
    for cand in event.get("candidates", []):
        # A reply's length and style are its final text's (a continuation's last turn), as compile
        # balances lengths; an erased event has none.
        text = None if event.get("erased") else candidate_text(cand)
        style = style_counts(text) if text is not None else None
        candidates[str(cand.get("candidate_id"))] = Candidate(model_label(cand, by), style)
    presented = event.get("presented")
    return Inference(
        request_id=str(event.get("request_id")),
        candidates=candidates,
        order=list(candidates),
        presented=list(presented) if isinstance(presented, list) else None,
        user=str(event.get("user_id") or ""),
        time=event_time(event.get("occurred_at")),
    )


def event_time(value: Any) -> float:
    if not isinstance(value, str):
        return float("nan")
    try:
        return parse_time(value).timestamp()
    except ValueError:
        return float("nan")
