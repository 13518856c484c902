"""One stored event as one archive row: typed columns for what engines join and filter on, and the
full normalized event as JSON text, so nothing is lost (:func:`event_of` gives it back).

The columns (``docs/scaling.md``): ``position``, ``event_id``, ``type``, ``request_id``,
``occurred_at`` and ``received_at`` (UTC timestamps), ``user_id`` (the subject an erasure of a user
reaches: ``user_id``, else a judgment's ``source.id``), ``candidate_ids``, ``models`` and
``model_versions`` (one entry per candidate), ``chosen``, ``rejected``, ``outcome``,
``source_kind``, ``score``, ``signal``, ``erased`` and ``event``. The partition columns
``project`` and ``day`` are in the path (hive style), not in the files.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any, Final

import pyarrow as pa

from preflog.store.base import StoredEvent
from preflog.store.common import subject_id

_TS: Final = pa.timestamp("us", tz="UTC")
_TEXTS: Final = pa.list_(pa.string())

SCHEMA: Final = pa.schema(
    [
        ("position", pa.int64()),
        ("event_id", pa.string()),
        ("type", pa.string()),
        ("request_id", pa.string()),
        ("occurred_at", _TS),
        ("received_at", _TS),
        ("user_id", pa.string()),
        ("candidate_ids", _TEXTS),
        ("models", _TEXTS),
        ("model_versions", _TEXTS),
        ("chosen", pa.string()),
        ("rejected", pa.string()),
        ("outcome", pa.string()),
        ("source_kind", pa.string()),
        ("score", pa.float64()),
        ("signal", pa.string()),
        ("erased", pa.bool_()),
        ("event", pa.string()),
    ]
)


def utc(stamp: str | None) -> datetime | None:
    """An RFC 3339 stamp as an aware UTC datetime (None stays None)."""
    if not stamp:
        return None
    return datetime.fromisoformat(stamp).astimezone(UTC)


def day_of(item: StoredEvent) -> str:
    """The partition day of an event: the UTC date of its ``occurred_at``.

    >>> from preflog.store.base import StoredEvent
    >>> day_of(StoredEvent(1, {"occurred_at": "2026-03-01T23:30:00-02:00"}))
    '2026-03-02'
    """
    when = utc(item.event.get("occurred_at"))
    return when.date().isoformat() if when else "unknown"


def row_of(item: StoredEvent) -> dict[str, Any]:
    """The archive row of one stored event."""
    event = item.event
    listed = event.get("candidates") or []
    candidates = [c for c in listed if isinstance(c, dict)]  # an inference's (an outcome lists ids)
    source = event.get("source") or {}
    score = event.get("score")
    return {
        "position": item.position,
        "event_id": item.event_id,
        "type": item.type,
        "request_id": item.request_id,
        "occurred_at": utc(event.get("occurred_at")),
        "received_at": utc(event.get("received_at")),
        "user_id": subject_id(event),
        "candidate_ids": _candidate_ids(event, candidates),
        "models": [str((c.get("model") or {}).get("name") or "") for c in candidates] or None,
        "model_versions": [str((c.get("model") or {}).get("version") or "") for c in candidates] or None,
        "chosen": _text(event.get("chosen")),
        "rejected": _text(event.get("rejected")),
        "outcome": _text(event.get("outcome")),
        "source_kind": _text(source.get("kind")) if isinstance(source, dict) else None,
        "score": float(score) if isinstance(score, int | float) and not isinstance(score, bool) else None,
        "signal": _text(event.get("signal")),
        "erased": item.erased,
        "event": json.dumps(event, ensure_ascii=False, sort_keys=True, separators=(",", ":")),
    }


def table_of(items: list[StoredEvent]) -> pa.Table:
    """The events as one table in :data:`SCHEMA`, in the order given."""
    return pa.Table.from_pylist([row_of(i) for i in items], schema=SCHEMA)


def event_of(position: int, body: str, erased: bool) -> StoredEvent:
    """A row's event back as the store gives it (the JSON holds ``project`` and ``received_at``)."""
    return StoredEvent(int(position), json.loads(body), bool(erased))


def _candidate_ids(event: dict[str, Any], candidates: list[Any]) -> list[str] | None:
    if candidates and isinstance(candidates[0], dict):
        return [str(c.get("candidate_id")) for c in candidates]
    named = event.get("candidates") or event.get("ranking")  # an outcome's pair, a ranking
    if isinstance(named, list):
        return [str(x) for x in _flatten(named)]
    single = event.get("candidate_id")
    return [str(single)] if single is not None else None


def _flatten(items: list[Any]) -> list[Any]:
    out: list[Any] = []
    for item in items:
        out.extend(_flatten(item) if isinstance(item, list) else [item])
    return out


def _text(value: Any) -> str | None:
    return None if value is None else str(value)
