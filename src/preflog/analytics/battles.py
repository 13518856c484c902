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

from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any

import numpy as np
from numpy.typing import NDArray

from preflog.analytics.builder import (
    BothBad,
    Builder,
    By,
    Inference,
    Judge,
    Verdict,
    event_time,
    read_inference,
)
from preflog.analytics.frame import Battles, Column, StyleCounts, style_counts
from preflog.analytics.scored import ScoreSheet
from preflog.errors import ValidationError
from preflog.events import parse_time, ranking_groups
from preflog.store.base import Store, StoredEvent

PREFERENCE_TYPES = ("inference", "preference", "retraction")

__all__ = [
    "Battles",
    "BothBad",
    "By",
    "Column",
    "StyleCounts",
    "battles_from_arena",
    "battles_from_events",
    "extract_battles",
    "select",
    "style_counts",
]

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
    id (``annotator-7``) or ``kind:id`` (a scorer: its name, with or without ``@version``);
    ``since <= judgment time < until`` (RFC 3339 or a date);
    ``user`` is the inference's ``user_id``; ``models`` keeps battles with both sides in the list."""
    keep = np.ones(len(battles), bool)
    if source is not None:
        keep &= _source_mask(battles, [source] if isinstance(source, str) else list(source))
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


def _source_mask(battles: Battles, wanted: list[str]) -> NDArray[np.bool_]:
    """Battles whose judge is named by one of ``wanted``: its kind, its id, ``kind:id``, or with
    the version: ``id@version``, ``kind:id@version``."""
    keep = battles.source_kind.mask(wanted) | battles.source_id.mask(wanted)
    versioned = battles.source_version.values()
    labels = zip(battles.source_kind.values(), battles.source_id.values(), versioned, strict=True)
    spelled = [(f"{k}:{i}", f"{i}@{v}", f"{k}:{i}@{v}") for k, i, v in labels]
    for names in zip(*spelled, strict=True) if spelled else ():
        keep |= Column.from_values(list(names)).mask(wanted)
    return keep


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


def _add_judgment(builder: Builder, stored: StoredEvent, inf: Inference) -> None:
    event = stored.event
    both_bad = event.get("outcome") == "both_bad"
    if both_bad and builder.both_bad == "drop":
        builder.skipped["both_bad dropped"] += 1
        return
    source = event.get("source") or {}
    judge = Judge(
        str(source.get("kind") or ""), str(source.get("id") or ""), str(source.get("version") or "")
    )
    presented = event.get("presented") if isinstance(event.get("presented"), list) else None
    time, received = event_time(event.get("occurred_at")), event_time(event.get("received_at"))
    criterion = str(event.get("criterion") or "")
    for x, y, outcome in _judged_pairs(event):
        if builder.comparable(inf, x, y):
            verdict = Verdict(
                x, y, outcome, judge, stored.position, time, received, criterion, presented, both_bad
            )
            builder.add_verdict(inf, verdict)


def battles_from_events(
    events: Iterable[StoredEvent], *, by: By = "model", both_bad: BothBad = "tie", scores: bool = False
) -> Battles:
    """Battles from stored events (inference, preference, retraction, and ``score`` events when
    ``scores`` is true; other types are ignored). Judgments may come before their inference:
    everything is read first, then joined.
    """
    if by not in ("model", "version"):
        raise ValidationError(f"must be model or version, got {by!r}", "by")
    if both_bad not in ("tie", "drop"):
        raise ValidationError(f"must be tie or drop, got {both_bad!r}", "both_bad")
    inferences: dict[str, Inference] = {}
    judgments: list[StoredEvent] = []
    retracted: set[str] = set()
    sheet = ScoreSheet()
    for stored in events:
        if stored.type == "inference" and stored.request_id is not None:
            inferences.setdefault(stored.request_id, read_inference(stored.event, by))
        elif stored.type == "preference":
            judgments.append(stored)
        elif stored.type == "retraction":
            retracted.add(str(stored.event.get("retracts")))
        elif stored.type == "score" and scores:
            sheet.add(stored)
    builder = Builder(both_bad)
    for stored in judgments:
        inf = inferences.get(str(stored.request_id))
        if stored.event_id in retracted:
            builder.skipped["retracted"] += 1
        elif inf is None:
            builder.skipped["orphan (no inference yet)"] += 1
        else:
            _add_judgment(builder, stored, inf)
    sheet.add_battles(builder, inferences, retracted)
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
    scores: bool | None = None,
) -> Battles:
    """Read one project's judgments from ``store`` and return its battles, filtered (see :func:`select`).

    ``scores``: also turn reward-model (and judge) ``score`` events into battles (see
    :mod:`preflog.analytics.scored`). By default (None) only when a ``source`` filter is given, so
    the leaderboard of every judgment stays the one of people and judges' verdicts, and
    ``source="reward_model"`` (or a scorer's name) rates the models by their scores.
    """
    with_scores = source is not None if scores is None else scores
    types = ("inference", "preference", "retraction", "score") if with_scores else PREFERENCE_TYPES
    events = store.iter_events(project=project, types=types)
    battles = battles_from_events(events, by=by, both_bad=both_bad, scores=with_scores)
    return select(battles, source=source, criterion=criterion, since=since, until=until, user=user)


# ---------------------------------------------------------------------------------------------- arena rows

_ARENA_OUTCOMES = {"model_a": 1.0, "model_b": 0.0, "tie": 0.5, "tie (bothbad)": 0.5}


def battles_from_arena(rows: Iterable[Mapping[str, Any]], *, both_bad: BothBad = "tie") -> Battles:
    """Battles from Chatbot-Arena battle rows ``{model_a, model_b, winner, ...}``; ``model_a`` was shown
    first. ``winner`` is ``model_a``, ``model_b``, ``tie`` or ``tie (bothbad)``. Optional fields read:
    ``tstamp`` (Unix seconds), ``judge`` (the annotator id), ``question_id`` (the pair key)."""
    builder = Builder(both_bad)
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
                "scored": False,
                "source_kind": "human",
                "source_id": str(row.get("judge") or ""),
                "source_version": "",
                "criterion": "",
                "user": "",
                "pair": str(row.get("question_id") or k),
            }
        )
    return builder.build()
