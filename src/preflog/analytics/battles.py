"""Battles: judgments turned into compact per-comparison arrays for every analysis.

A *battle* is one comparison of two models on one request: model ``a`` against model ``b`` with an
``outcome`` of 1 (a won), 0 (b won) or 0.5 (tie). Judgments map to battles like this:

- ``chosen``/``rejected``: one battle, a decisive win.
- ``ranking`` (best first, tie groups allowed): every pair of candidates in different groups is a
  decisive battle (the better group wins) and every pair inside one group is a tie, so a ranking of
  ``k`` candidates gives ``k(k-1)/2`` battles. A ranking therefore weighs more than one pairwise
  judgment — it does say more.
- ``outcome: tie`` over ``candidates``: every pair ties. ``outcome: both_bad``: the same, flagged,
  and dropped entirely with ``both_bad="drop"``.
- Retracted judgments, orphans (no inference yet), candidates that are not in the inference, and
  pairs of the same model (or version, with ``by="version"``) are left out and counted in ``skipped``.

Each battle is oriented so that ``a`` is the candidate shown first when the presentation order is
known (``presented`` of the judgment, else of the inference); otherwise in the inference's candidate
order. ``first`` records it: 1 when ``a`` was shown first, 0 when ``b`` was, -1 when unknown.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from datetime import datetime
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

from preflog.errors import ValidationError
from preflog.events import parse_time, ranking_groups
from preflog.store.base import Store, StoredEvent

By = Literal["model", "version"]
BothBad = Literal["tie", "drop"]

_HEADER_RE = re.compile(r"^#{1,6}\s", re.MULTILINE)
_LIST_RE = re.compile(r"^\s*(?:[-*+]|\d+[.)])\s", re.MULTILINE)
_BOLD_RE = re.compile(r"\*\*[^*\n]+\*\*|__[^_\n]+__")

StyleCounts = tuple[int, int, int, int]  # characters, markdown headers, list items, bold spans


def style_counts(text: str) -> StyleCounts:
    """Length in characters and markdown element counts, the raw style-control features.

    >>> style_counts("# Title\\n- one\\n- **two**")
    (23, 1, 2, 1)
    """
    return len(text), len(_HEADER_RE.findall(text)), len(_LIST_RE.findall(text)), len(_BOLD_RE.findall(text))


@dataclass(frozen=True)
class Column:
    """A categorical per-battle column: ``labels[codes[k]]`` is battle k's value ("" when unknown)."""

    labels: tuple[str, ...]
    codes: NDArray[np.int32]

    @classmethod
    def from_values(cls, values: Sequence[str]) -> Column:
        labels: dict[str, int] = {}
        codes = np.fromiter((labels.setdefault(v, len(labels)) for v in values), np.int32, len(values))
        return cls(tuple(labels), codes)

    def values(self) -> list[str]:
        return [self.labels[c] for c in self.codes]

    def mask(self, wanted: str | Iterable[str]) -> NDArray[np.bool_]:
        want = {wanted} if isinstance(wanted, str) else set(wanted)
        hit = np.array([label in want for label in self.labels], dtype=bool)
        out: NDArray[np.bool_] = hit[self.codes] if len(self.labels) else np.zeros(0, dtype=bool)
        return out

    def take(self, index: NDArray[Any]) -> Column:
        return Column(self.labels, self.codes[index])


def _empty_column() -> Column:
    return Column((), np.zeros(0, np.int32))


def _f64() -> NDArray[np.float64]:
    return np.zeros(0, np.float64)


def _i64() -> NDArray[np.int64]:
    return np.zeros(0, np.int64)


@dataclass(frozen=True)
class Battles:
    """Battles as parallel arrays (one entry per battle) plus the model names they index.

    ``style_a``/``style_b`` hold :func:`style_counts` per side (shape ``(n, 4)``, -1 when the text is
    unknown, e.g. erased or imported without outputs). Times are Unix seconds (NaN when unknown):
    ``time`` of the judgment, ``inferred_at`` of its inference, ``received_at`` of the judgment.
    ``judgment`` is the store position of the judgment event (unique per judgment, shared by the
    battles of one ranking). ``pair`` identifies the compared item across annotators: the request
    and the two candidate ids (for agreement). ``both_bad`` flags ties that were both-bad verdicts.
    """

    models: tuple[str, ...]
    a: NDArray[np.int64]
    b: NDArray[np.int64]
    outcome: NDArray[np.float64]
    first: NDArray[np.int8] = field(default_factory=lambda: np.zeros(0, np.int8))
    style_a: NDArray[np.int64] = field(default_factory=lambda: np.zeros((0, 4), np.int64))
    style_b: NDArray[np.int64] = field(default_factory=lambda: np.zeros((0, 4), np.int64))
    time: NDArray[np.float64] = field(default_factory=_f64)
    inferred_at: NDArray[np.float64] = field(default_factory=_f64)
    received_at: NDArray[np.float64] = field(default_factory=_f64)
    judgment: NDArray[np.int64] = field(default_factory=_i64)
    both_bad: NDArray[np.bool_] = field(default_factory=lambda: np.zeros(0, bool))
    source_kind: Column = field(default_factory=_empty_column)
    source_id: Column = field(default_factory=_empty_column)
    criterion: Column = field(default_factory=_empty_column)
    user: Column = field(default_factory=_empty_column)
    pair: Column = field(default_factory=_empty_column)
    skipped: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        n = len(self.a)
        defaults: dict[str, Any] = {
            "first": np.full(n, -1, np.int8),
            "style_a": np.full((n, 4), -1, np.int64),
            "style_b": np.full((n, 4), -1, np.int64),
            "time": np.full(n, np.nan),
            "inferred_at": np.full(n, np.nan),
            "received_at": np.full(n, np.nan),
            "judgment": np.arange(n, dtype=np.int64),
            "both_bad": np.zeros(n, bool),
        }
        for name, value in defaults.items():
            if len(getattr(self, name)) != n:
                object.__setattr__(self, name, value)
        for name in ("source_kind", "source_id", "criterion", "user", "pair"):
            if len(getattr(self, name).codes) != n:
                object.__setattr__(self, name, Column(("",), np.zeros(n, np.int32)))

    def __len__(self) -> int:
        return len(self.a)

    @property
    def n_models(self) -> int:
        return len(self.models)

    def subset(self, index: NDArray[Any]) -> Battles:
        """The battles selected by a boolean mask or an index array (models are kept)."""
        changes: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, np.ndarray):
                changes[f.name] = value[index]
            elif isinstance(value, Column):
                changes[f.name] = value.take(index)
        return replace(self, **changes)

    def compact(self) -> Battles:
        """Drop models that have no battle and renumber the rest (order kept)."""
        used = np.zeros(self.n_models, bool)
        used[self.a] = True
        used[self.b] = True
        if used.all():
            return self
        new_index = np.cumsum(used) - 1
        models = tuple(m for m, u in zip(self.models, used, strict=True) if u)
        return replace(self, models=models, a=new_index[self.a], b=new_index[self.b])

    def model_index(self, name: str) -> int:
        try:
            return self.models.index(name)
        except ValueError:
            raise ValidationError(
                f"unknown model {name!r}; known: {', '.join(self.models[:20])}", "model"
            ) from None

    def battle_counts(self) -> NDArray[np.int64]:
        """Battles per model."""
        counts: NDArray[np.int64] = np.bincount(self.a, minlength=self.n_models) + np.bincount(
            self.b, minlength=self.n_models
        )
        return counts


# ---------------------------------------------------------------------------------------------- filters


def _epoch(value: str | float | datetime | None) -> float | None:
    if value is None:
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, datetime):
        return value.timestamp()
    try:
        return parse_time(value).timestamp()
    except ValueError:
        try:  # a bare date means midnight UTC
            return parse_time(value + "T00:00:00Z").timestamp()
        except ValueError as exc:
            raise ValidationError(f"not an RFC 3339 time or a date: {value!r}", "since/until") from exc


def select(
    battles: Battles,
    *,
    source: str | Sequence[str] | None = None,
    criterion: str | Sequence[str] | None = None,
    since: str | float | datetime | None = None,
    until: str | float | datetime | None = None,
    user: str | Sequence[str] | None = None,
    models: Sequence[str] | None = None,
) -> Battles:
    """Battles matching every filter given. ``source`` matches the source kind (``human``) or its
    id (``annotator-7``) or ``kind:id``; ``since <= judgment time < until`` (RFC 3339 or a date);
    ``user`` is the inference's ``user_id``; ``models`` keeps battles with both sides in the list."""
    keep = np.ones(len(battles), bool)
    if source is not None:
        wanted = [source] if isinstance(source, str) else list(source)
        full = Column.from_values(
            [
                f"{k}:{i}"
                for k, i in zip(battles.source_kind.values(), battles.source_id.values(), strict=True)
            ]
        )
        keep &= battles.source_kind.mask(wanted) | battles.source_id.mask(wanted) | full.mask(wanted)
    if criterion is not None:
        keep &= battles.criterion.mask(criterion)
    if user is not None:
        keep &= battles.user.mask(user)
    lo, hi = _epoch(since), _epoch(until)
    if lo is not None:
        keep &= battles.time >= lo
    if hi is not None:
        keep &= battles.time < hi
    if models is not None:
        idx = np.array([battles.model_index(m) for m in models], np.int64)
        keep &= np.isin(battles.a, idx) & np.isin(battles.b, idx)
    return battles if keep.all() else battles.subset(keep)


# ---------------------------------------------------------------------------------------------- the store


@dataclass
class _Candidate:
    model: str | None
    style: StyleCounts | None


@dataclass
class _Inference:
    candidates: dict[str, _Candidate]
    order: list[str]
    presented: list[str] | None
    user: str
    time: float


_ROW_KEYS = (
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
    "source_kind",
    "source_id",
    "criterion",
    "user",
    "pair",
)


@dataclass
class _Builder:
    """Accumulates battle rows as Python lists, then freezes them into :class:`Battles`."""

    both_bad: BothBad
    models: dict[str, int] = field(default_factory=dict)
    rows: dict[str, list[Any]] = field(default_factory=lambda: {k: [] for k in _ROW_KEYS})
    skipped: Counter[str] = field(default_factory=Counter)

    def add(self, row: Mapping[str, Any]) -> None:
        for key in _ROW_KEYS:
            self.rows[key].append(row[key])

    def model(self, name: str) -> int:
        return self.models.setdefault(name, len(self.models))

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
            source_kind=Column.from_values(r["source_kind"]),
            source_id=Column.from_values(r["source_id"]),
            criterion=Column.from_values(r["criterion"]),
            user=Column.from_values(r["user"]),
            pair=Column.from_values(r["pair"]),
            skipped=dict(sorted(self.skipped.items())),
        )


def _model_label(candidate: Mapping[str, Any], by: By) -> str | None:
    model = candidate.get("model")
    if not isinstance(model, dict) or not model.get("name"):
        return None
    name = str(model["name"])
    if by == "version" and model.get("version"):
        return f"{name}@{model['version']}"
    return name


def _read_inference(event: Mapping[str, Any], by: By) -> _Inference:
    candidates: dict[str, _Candidate] = {}
    for cand in event.get("candidates", []):
        output = cand.get("output")
        style = style_counts(output) if isinstance(output, str) and output else None
        candidates[str(cand.get("candidate_id"))] = _Candidate(_model_label(cand, by), style)
    presented = event.get("presented")
    return _Inference(
        candidates=candidates,
        order=list(candidates),
        presented=list(presented) if isinstance(presented, list) else None,
        user=str(event.get("user_id") or ""),
        time=_time(event.get("occurred_at")),
    )


def _time(value: Any) -> float:
    if not isinstance(value, str):
        return float("nan")
    try:
        return parse_time(value).timestamp()
    except ValueError:
        return float("nan")


def _judged_pairs(event: Mapping[str, Any]) -> Iterator[tuple[str, str, float]]:
    """(x, y, outcome for x) for every battle a preference event implies."""
    if event.get("chosen") is not None:
        yield str(event["chosen"]), str(event["rejected"]), 1.0
    elif event.get("ranking") is not None:
        groups = ranking_groups(event["ranking"])
        for gi, group in enumerate(groups):
            for i, x in enumerate(group):
                for y in group[i + 1 :]:
                    yield x, y, 0.5
                for later in groups[gi + 1 :]:
                    for y in later:
                        yield x, y, 1.0
    else:
        ids = [str(c) for c in event.get("candidates", [])]
        for i, x in enumerate(ids):
            for y in ids[i + 1 :]:
                yield x, y, 0.5


def _orient(
    inf: _Inference, presented: list[str] | None, x: str, y: str, out: float
) -> tuple[str, str, float, int]:
    """Put the candidate shown first on side a; report whether the order was known."""
    order = presented or inf.presented
    if order and x in order and y in order:
        if order.index(x) < order.index(y):
            return x, y, out, 1
        return y, x, 1.0 - out, 1
    if inf.order.index(x) <= inf.order.index(y):
        return x, y, out, -1
    return y, x, 1.0 - out, -1


def _add_judgment(builder: _Builder, stored: StoredEvent, inf: _Inference) -> None:
    event = stored.event
    both_bad = event.get("outcome") == "both_bad"
    if both_bad and builder.both_bad == "drop":
        builder.skipped["both_bad dropped"] += 1
        return
    source = event.get("source") or {}
    presented = event.get("presented") if isinstance(event.get("presented"), list) else None
    for x, y, outcome in _judged_pairs(event):
        cx, cy = inf.candidates.get(x), inf.candidates.get(y)
        if cx is None or cy is None:
            builder.skipped["unknown candidate"] += 1
            continue
        if cx.model is None or cy.model is None:
            builder.skipped["no model name"] += 1
            continue
        if cx.model == cy.model:
            builder.skipped["same model"] += 1
            continue
        ka, kb, out, known = _orient(inf, presented, x, y, outcome)
        ca, cb = inf.candidates[ka], inf.candidates[kb]
        builder.add(
            {
                "a": builder.model(str(ca.model)),
                "b": builder.model(str(cb.model)),
                "outcome": out,
                "first": 1 if known == 1 else -1,
                "style_a": ca.style,
                "style_b": cb.style,
                "time": _time(event.get("occurred_at")),
                "inferred_at": inf.time,
                "received_at": _time(event.get("received_at")),
                "judgment": stored.position,
                "both_bad": both_bad,
                "source_kind": str(source.get("kind") or ""),
                "source_id": str(source.get("id") or ""),
                "criterion": str(event.get("criterion") or ""),
                "user": inf.user,
                "pair": "\x1f".join([str(stored.request_id), *sorted((ka, kb))]),
            }
        )


def battles_from_events(
    events: Iterable[StoredEvent], *, by: By = "model", both_bad: BothBad = "tie"
) -> Battles:
    """Battles from stored events (inference, preference, retraction; other types are ignored).

    Judgments may come before their inference: everything is read first, then joined.
    """
    if by not in ("model", "version"):
        raise ValidationError(f"must be model or version, got {by!r}", "by")
    if both_bad not in ("tie", "drop"):
        raise ValidationError(f"must be tie or drop, got {both_bad!r}", "both_bad")
    inferences: dict[str, _Inference] = {}
    judgments: list[StoredEvent] = []
    retracted: set[str] = set()
    for stored in events:
        if stored.type == "inference" and stored.request_id is not None:
            inferences.setdefault(stored.request_id, _read_inference(stored.event, by))
        elif stored.type == "preference":
            judgments.append(stored)
        elif stored.type == "retraction":
            retracted.add(str(stored.event.get("retracts")))
    builder = _Builder(both_bad)
    for stored in judgments:
        inf = inferences.get(str(stored.request_id))
        if stored.event_id in retracted:
            builder.skipped["retracted"] += 1
        elif inf is None:
            builder.skipped["orphan (no inference yet)"] += 1
        else:
            _add_judgment(builder, stored, inf)
    return builder.build()


def extract_battles(
    store: Store,
    project: str,
    *,
    by: By = "model",
    both_bad: BothBad = "tie",
    source: str | Sequence[str] | None = None,
    criterion: str | Sequence[str] | None = None,
    since: str | float | datetime | None = None,
    until: str | float | datetime | None = None,
    user: str | Sequence[str] | None = None,
) -> Battles:
    """Read one project's judgments from ``store`` and return its battles, filtered (see :func:`select`)."""
    events = store.iter_events(project=project, types=("inference", "preference", "retraction"))
    battles = battles_from_events(events, by=by, both_bad=both_bad)
    return select(battles, source=source, criterion=criterion, since=since, until=until, user=user)


# ---------------------------------------------------------------------------------------------- arena rows

_ARENA_OUTCOMES = {"model_a": 1.0, "model_b": 0.0, "tie": 0.5, "tie (bothbad)": 0.5}


def battles_from_arena(rows: Iterable[Mapping[str, Any]], *, both_bad: BothBad = "tie") -> Battles:
    """Battles from Chatbot-Arena battle rows ``{model_a, model_b, winner, ...}``; ``model_a`` was shown
    first. ``winner`` is ``model_a``, ``model_b``, ``tie`` or ``tie (bothbad)``. Optional fields read:
    ``tstamp`` (Unix seconds), ``judge`` (the annotator id), ``question_id`` (the pair key)."""
    builder = _Builder(both_bad)
    for k, row in enumerate(rows):
        winner = str(row.get("winner"))
        if winner not in _ARENA_OUTCOMES:
            raise ValidationError(f"unknown winner {winner!r}", f"rows[{k}].winner")
        if winner == "tie (bothbad)" and both_bad == "drop":
            builder.skipped["both_bad dropped"] += 1
            continue
        if row["model_a"] == row["model_b"]:
            builder.skipped["same model"] += 1
            continue
        tstamp = row.get("tstamp")
        builder.add(
            {
                "a": builder.model(str(row["model_a"])),
                "b": builder.model(str(row["model_b"])),
                "outcome": _ARENA_OUTCOMES[winner],
                "first": 1,
                "style_a": None,
                "style_b": None,
                "time": float(tstamp) if isinstance(tstamp, int | float) else float("nan"),
                "inferred_at": float("nan"),
                "received_at": float("nan"),
                "judgment": k,
                "both_bad": winner == "tie (bothbad)",
                "source_kind": "human",
                "source_id": str(row.get("judge") or ""),
                "criterion": "",
                "user": "",
                "pair": str(row.get("question_id") or k),
            }
        )
    return builder.build()
