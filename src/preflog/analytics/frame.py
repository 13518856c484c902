"""The battle table every analysis reads: one comparison of two models per entry, as parallel
numpy arrays (:class:`Battles`), with categorical columns (:class:`Column`) for who judged and on
what. :mod:`preflog.analytics.battles` fills it from the store; see its docstring for the mapping.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, fields, replace
from typing import Any

import numpy as np
from numpy.typing import NDArray

from preflog.errors import ValidationError

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
    ``scored`` flags battles derived from ``score`` events (:mod:`preflog.analytics.scored`): their
    judge is the scorer (``source_id`` its name, ``source_version`` its version).
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
    scored: NDArray[np.bool_] = field(default_factory=lambda: np.zeros(0, bool))
    source_kind: Column = field(default_factory=_empty_column)
    source_id: Column = field(default_factory=_empty_column)
    source_version: Column = field(default_factory=_empty_column)
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
            "scored": np.zeros(n, bool),
        }
        for name, value in defaults.items():
            if len(getattr(self, name)) != n:
                object.__setattr__(self, name, value)
        for name in ("source_kind", "source_id", "source_version", "criterion", "user", "pair"):
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
