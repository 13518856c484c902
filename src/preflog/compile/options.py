"""The options of a compile, with their checks. Every option is a keyword of
:func:`preflog.compile.compile_dataset` and a flag of ``preflog compile`` (see docs/datasets.md)."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any, Final, Literal, TypeAlias

from preflog.errors import ConfigError
from preflog.events import SIGNAL_KINDS, SOURCE_KINDS, normalize_time

Aggregate: TypeAlias = Literal["majority", "unanimous", "latest"]
AGGREGATES: Final = ("majority", "unanimous", "latest")
IMPLICIT_RULES: Final = ("thumbs", "regenerate")  # see preflog.compile.implicit


@dataclass(frozen=True)
class CompileOptions:
    """What to compile and how (defaults in brackets).

    - ``aggregate`` [majority]: how several judgments of one candidate pair become one pair:
      ``majority`` (more votes for one direction than the other, and at least ``min_agreement`` of
      all votes, ties included), ``unanimous`` (no vote the other way), ``latest`` (the latest
      judgment decides).
    - ``min_agreement`` [0.5]: the share of votes the winning direction needs under ``majority``.
    - ``min_margin`` [0.0]: the score gap a reward-score pair needs; the gap becomes its margin.
    - ``sources``, ``criteria``, ``models``, ``users``: keep only judgments of these source kinds /
      criteria, pairs with an output of these models, requests of these users (empty: all).
    - ``since`` / ``until``: keep judgments with ``since <= occurred_at < until`` (RFC 3339).
    - ``group_by`` [None]: ``"user"`` writes one dataset per user.
    - ``max_per_prompt`` / ``max_per_user``: caps; ``prefer_low_margin`` keeps the smallest margins.
    - ``balance_position`` / ``balance_length``: drop pairs of the larger class so the chosen output
      was shown first as often as second / is longer as often as shorter.
    - ``unpaired_from_pairs`` [False]: for unpaired formats, also label each pair's chosen output
      good and its rejected output bad.
    - ``implicit_pairs`` [()]: implicit signals as weak pairs (pair formats), by rule: ``thumbs``
      (a liked candidate over a disliked one of the same request), ``regenerate`` (a candidate
      accepted after another was regenerated over that one); see :mod:`preflog.compile.implicit`.
      Off by default: such pairs enter a dataset only when asked.
    - ``implicit_accept`` [("copy",)]: the signals that accept a candidate for ``regenerate``.
    - ``implicit_min_evidence`` [1]: signals a weak pair needs: net thumbs each way, accepts after
      the regenerate.
    - ``drop_empty`` [False]: drop items with an empty answer (:func:`preflog.events.is_empty_answer`:
      a blank final text and no tool call or refusal in the final turn), counted as
      ``empty_output``. Off, an empty answer is an answer like any other (usually the rejected one).
    - ``test_fraction`` [0.0]: the share of prompts (by hash of the normalized prompt) in ``test``.
    - ``seed`` [0]: every random choice is a hash of the seed and the item, so order does not matter.
    - ``parquet`` [False]: write Parquet instead of JSONL.
    """

    aggregate: Aggregate = "majority"
    min_agreement: float = 0.5
    min_margin: float = 0.0
    sources: tuple[str, ...] = ()
    criteria: tuple[str, ...] = ()
    models: tuple[str, ...] = ()
    users: tuple[str, ...] = ()
    since: str | None = None
    until: str | None = None
    group_by: Literal["user"] | None = None
    max_per_prompt: int | None = None
    max_per_user: int | None = None
    prefer_low_margin: bool = False
    balance_position: bool = False
    balance_length: bool = False
    unpaired_from_pairs: bool = False
    drop_empty: bool = False
    implicit_pairs: tuple[str, ...] = ()
    implicit_accept: tuple[str, ...] = ("copy",)
    implicit_min_evidence: int = 1
    test_fraction: float = 0.0
    seed: int = 0
    parquet: bool = False

    def __post_init__(self) -> None:
        check_options(self)

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        for key, value in out.items():
            if isinstance(value, tuple):
                out[key] = list(value)
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CompileOptions:
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        for key in ("sources", "criteria", "models", "users", "implicit_pairs", "implicit_accept"):
            if key in known and known[key] is not None:
                known[key] = tuple(known[key])
        return cls(**known)


def check_options(o: CompileOptions) -> None:
    """Raise :class:`ConfigError` naming the first bad option (by its field name: the CLI says its flag)."""
    if o.aggregate not in AGGREGATES:
        raise ConfigError(f"aggregate: must be one of {', '.join(AGGREGATES)}, got {o.aggregate!r}")
    if not (0.0 <= o.min_agreement <= 1.0):
        raise ConfigError(f"min_agreement: must be between 0 and 1, got {o.min_agreement}")
    if not math.isfinite(o.min_margin) or o.min_margin < 0:
        raise ConfigError(f"min_margin: must be a finite number >= 0, got {o.min_margin}")
    if not (0.0 <= o.test_fraction < 1.0):
        raise ConfigError(f"test_fraction: must be in [0, 1), got {o.test_fraction}")
    for kind in o.sources:
        if kind not in SOURCE_KINDS:
            raise ConfigError(f"sources: must be one of {', '.join(SOURCE_KINDS)}, got {kind!r}")
    for name, value in (("max_per_prompt", o.max_per_prompt), ("max_per_user", o.max_per_user)):
        if value is not None and value < 1:
            raise ConfigError(f"{name}: must be at least 1, got {value}")
    _check_implicit(o)
    if o.group_by not in (None, "user"):
        raise ConfigError(f"group_by: only 'user' is supported, got {o.group_by!r}")
    for flag, when in (("since", o.since), ("until", o.until)):
        if when is not None:
            try:
                normalize_time(when)
            except ValueError as exc:
                raise ConfigError(f"{flag}: not an RFC 3339 timestamp with offset: {when!r}") from exc


def _check_implicit(o: CompileOptions) -> None:
    for rule in o.implicit_pairs:
        if rule not in IMPLICIT_RULES:
            raise ConfigError(f"implicit_pairs: must be {' or '.join(IMPLICIT_RULES)}, got {rule!r}")
    for kind in o.implicit_accept:
        if kind not in SIGNAL_KINDS or kind in ("regenerate", "thumbs_down"):
            raise ConfigError(f"implicit_accept: not a signal that accepts a candidate: {kind!r}")
    if isinstance(o.implicit_min_evidence, bool) or o.implicit_min_evidence < 1:
        raise ConfigError(f"implicit_min_evidence: must be at least 1, got {o.implicit_min_evidence}")


def time_bounds(o: CompileOptions) -> tuple[str | None, str | None]:
    """``since`` and ``until`` in the store's normalized form (comparable as strings)."""
    return (
        normalize_time(o.since) if o.since else None,
        normalize_time(o.until) if o.until else None,
    )
