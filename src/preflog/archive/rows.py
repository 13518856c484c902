"""One stored event as one archive row: typed columns for what engines join and filter on, and the
full normalized event as JSON text, so nothing is lost (:func:`event_of` gives it back).

The columns (``docs/scaling.md``): ``position``, ``event_id``, ``type``, ``request_id``,
``occurred_at`` and ``received_at`` (UTC timestamps), ``user_id`` (the subject an erasure of a user
reaches: ``user_id``, else a judgment's ``source.id``), ``candidate_ids``, ``models`` and
``model_versions`` (one entry per candidate), ``chosen``, ``rejected``, ``outcome``,
``source_kind``, ``score``, ``signal``, the texts and judgment fields the DuckDB engine's SQL
reads (format 2, :data:`FORMAT`), ``erased`` and ``event``. The partition columns ``project`` and
``day`` are in the path (hive style), not in the files.

``event`` is the store's own text where it has one (:meth:`preflog.store.Store.scan_texts`: the
stored body, exact JSON, with ``project`` and ``received_at`` put first), else the event written
by :func:`canonical_text`; either is the same event, exactly, to every JSON reader. Taking the
body as it is saves writing ~1 KB of JSON again and checking its floats: 17,000 of 165,000
instructions an event (10.6%) on a store of version-2 events.

Format 2's columns, so that no engine needs to parse ``event`` for a text compile:

* ``prompt_text``: an inference's prompt when it is one plain string (else null);
* ``outputs``: per candidate of an inference, its reply when that is one plain text
  (:func:`preflog.records.reply_of` gives a ``str``), else null;
* ``text_only``: an inference whose prompt is a string (or absent), with no system prompt and no
  candidate beyond one plain text answer (``messages``, ``refusal`` or ``tool_calls``): the
  inferences a compile may take from the typed columns alone (null on other events);
* ``criterion``, ``strength`` (its JSON text: ``1`` and ``1.0`` stay apart) and ``presented``
  (the candidate ids in the order shown) of a judgment, and ``presented`` of an inference.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from typing import Any, Final

import pyarrow as pa

from preflog.records import reply_of
from preflog.store.base import StoredEvent
from preflog.store.common import subject_id

try:
    import orjson as _orjson
except ImportError:  # pragma: no cover - the server extra brings it
    _orjson = None  # type: ignore[assignment]

_TS: Final = pa.timestamp("us", tz="UTC")
_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND: Final = timedelta(microseconds=1)
_TEXTS: Final = pa.list_(pa.string())
_NUMBER: Final = (int, float)
#: The archive's format, recorded in its state beside the watermark: 2 added the typed text and
#: judgment columns (``prompt_text`` ... ``presented``); an archive without a format is 1.
FORMAT: Final = 2

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
        ("prompt_text", pa.string()),
        ("outputs", _TEXTS),
        ("text_only", pa.bool_()),
        ("criterion", pa.string()),
        ("strength", pa.string()),
        ("presented", _TEXTS),
        ("erased", pa.bool_()),
        ("event", pa.string()),
    ]
)


def format_of(state: dict[str, Any]) -> int:
    """The format of the archive whose state is ``state``: a new archive is written in
    :data:`FORMAT`; an existing one keeps the format it was created in (1 before formats were
    recorded), since its earlier files lack the later columns.

    >>> format_of({}), format_of({"position": 9}), format_of({"position": 9, "format": 2})
    (2, 1, 2)
    """
    if not state:
        return FORMAT
    return int(state.get("format", 1))


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


class Stamps:
    """:func:`utc` and :func:`day_of` remembered per stamp: a batch of appends shares one
    ``received_at`` (a chunk of the 100k bench's 200,000 events held 12 distinct stamps), and
    parsing the 3 stamps of every event was 5% of the archive's time."""

    def __init__(self) -> None:
        self._seen: dict[str | None, datetime | None] = {}
        #: :meth:`day_of`'s answers by ``occurred_at`` (never empty strings)
        self.days_seen: dict[str | None, str] = {}
        #: :meth:`micros`' answers, read by :func:`values_of` before calling it
        self.micros_seen: dict[str | None, int | None] = {}

    def utc(self, stamp: str | None) -> datetime | None:
        try:
            return self._seen[stamp]
        except KeyError:
            when = self._seen[stamp] = utc(stamp)
            return when

    def micros(self, stamp: str | None) -> int | None:
        """The stamp as microseconds since 1970 UTC, what the timestamp columns hold: Arrow takes
        integers ~7x faster than aware datetimes (0.03 against 0.21 µs a value)."""
        try:
            return self.micros_seen[stamp]
        except KeyError:
            when = self.utc(stamp)
            count = self.micros_seen[stamp] = None if when is None else (when - _EPOCH) // _MICROSECOND
            return count

    def day_of(self, item: StoredEvent) -> str:
        stamp = item.event.get("occurred_at")
        try:
            return self.days_seen[stamp]
        except KeyError:
            when = self.utc(stamp)
            day = self.days_seen[stamp] = when.date().isoformat() if when else "unknown"
            return day


def row_of(item: StoredEvent, stamps: Stamps | None = None) -> dict[str, Any]:
    """The archive row of one stored event (timestamps as aware datetimes)."""
    row: dict[str, Any] = table_of([item], stamps).to_pylist()[0]
    return row


def table_of(items: list[StoredEvent], stamps: Stamps | None = None) -> pa.Table:
    """The events as one table in :data:`SCHEMA`, in the order given."""
    stamps = stamps or Stamps()
    return table_of_values([values_of(item, stamps) for item in items])


def table_of_values(values: list[tuple[Any, ...]]) -> pa.Table:
    """Rows of :func:`values_of` as one table, built column by column (a dict per row through
    ``Table.from_pylist`` took 3x as long)."""
    columns = zip(*values, strict=True) if values else ([] for _ in SCHEMA)
    arrays = [pa.array(column, type=f.type) for column, f in zip(columns, SCHEMA, strict=True)]
    return pa.Table.from_arrays(arrays, schema=SCHEMA)


def values_of(item: StoredEvent, stamps: Stamps, text: str | None = None) -> tuple[Any, ...]:
    """One event's row as a tuple in :data:`SCHEMA`'s order, for :func:`table_of_values`.
    ``text``: the event's JSON as the store gave it (:meth:`preflog.store.Store.scan_texts`),
    the ``event`` column as it is; None: :func:`canonical_text` writes it.

    The candidates are walked once for their ids, models, versions and (an inference's) outputs,
    and ``_text``, :meth:`Stamps.micros` and ``_presented`` are inlined: at
    1M + 1M this runs 2M times, and each call saved is ~0.1 µs of the ~20 an event takes."""
    event = item.event
    get = event.get
    listed = get("candidates")
    candidates = [c for c in listed if isinstance(c, dict)] if listed else []  # an outcome lists ids
    etype = str(event["type"])  # StoredEvent's properties, inlined (3 calls an event)
    inference = etype == "inference"
    if candidates:
        ids, models, versions, outputs, plain = _candidate_columns(candidates, inference)
    else:
        ids, models, versions, outputs, plain = _candidate_ids(event, candidates), None, None, [], True
    if inference:
        prompt = get("prompt", "")
        prompt_text = prompt if isinstance(prompt, str) and get("system") is None else None
        replies, text_only = outputs or None, plain and prompt_text is not None
    else:
        prompt_text = replies = text_only = None
    micros = stamps.micros_seen
    occurred, received = get("occurred_at"), get("received_at")
    try:
        occurred_us = micros[occurred]
    except KeyError:
        occurred_us = stamps.micros(occurred)
    try:
        received_us = micros[received]
    except KeyError:
        received_us = stamps.micros(received)
    source = get("source") or {}
    score = get("score")
    chosen, rejected, outcome, signal, criterion = (
        get("chosen"),
        get("rejected"),
        get("outcome"),
        get("signal"),
        get("criterion"),
    )
    kind = source.get("kind") if isinstance(source, dict) else None
    strength = get("strength")
    presented = get("presented")
    return (
        item.position,
        str(event["event_id"]),
        etype,
        get("request_id"),
        occurred_us,
        received_us,
        subject_id(event),  # called, not inlined: the rule of whom an erasure reaches lives there
        ids,
        models,
        versions,
        None if chosen is None else str(chosen),
        None if rejected is None else str(rejected),
        None if outcome is None else str(outcome),
        None if kind is None else str(kind),
        None if score is None or not isinstance(score, _NUMBER) or isinstance(score, bool) else float(score),
        None if signal is None else str(signal),
        prompt_text,
        replies,
        text_only,
        None if criterion is None else str(criterion),
        None if strength is None else json.dumps(strength),
        list(map(str, presented)) if isinstance(presented, list) else None,
        item.erased,
        canonical_text(event) if text is None else text,
    )


def _candidate_columns(candidates: list[dict[str, Any]], inference: bool) -> tuple[Any, ...]:
    """(ids, models, versions, outputs, every reply plain) of an event's candidate objects; outputs
    only for an inference: per candidate its reply when that is one plain text, else None."""
    ids, models, versions = [], [], []
    outputs: list[str | None] = []
    plain = True
    for c in candidates:
        ids.append(str(c.get("candidate_id")))
        model = c.get("model") or {}
        models.append(str(model.get("name") or ""))
        versions.append(str(model.get("version") or ""))
        if not inference:
            continue
        # reply_of's own test for one plain answer, inlined (1M inferences of 2 candidates)
        if c.get("messages") is None and not c.get("tool_calls") and c.get("refusal") is None:
            output = c.get("output")
            outputs.append(output if isinstance(output, str) else "")
        else:
            reply = reply_of(c)
            outputs.append(reply if isinstance(reply, str) else None)
            plain = False
    return ids, models, versions, outputs, plain


# Where orjson's text differs from the standard library's: floats under 1e-4, which orjson writes
# ``1.2e-7`` (not ``1.2e-07``) under 1e-5 and ``0.00001`` (not ``1e-05``) from 1e-5 to 1e-4; every
# other float, integer, string and key order comes out the same (checked on 1.2M random floats of
# every magnitude, and every code point class: tests/archive/test_archive_rows.py). A match, even
# one inside a string, only sends that event to the standard library (~15 µs). A number's last
# digit is followed by ``,``, ``}`` or ``]``: requiring one keeps ids like ``...4a3e-6f1...`` out
# (they sent 6% of the bench's events there, ~0.9 µs an event on average). Two patterns with a
# literal prefix: one alternation scanned 8x slower.
_SMALL_EXPONENT: Final = re.compile(rb"e-[6-9][,}\]]")
_SMALL_DECIMAL: Final = re.compile(rb"0\.0000[1-9]")


def canonical_text(event: dict[str, Any]) -> str:
    """The ``event`` column of an event the store gave no text for (:func:`values_of`; an upcast
    one): the event as JSON with sorted keys, no spaces, non-ASCII kept; the standard library's
    exact text. orjson writes it ~8x faster when installed (the server extra), so it is used
    wherever its text is provably the same."""
    if _orjson is not None:
        try:
            text = _orjson.dumps(event, option=_orjson.OPT_SORT_KEYS)
        except TypeError:
            pass  # an integer beyond 64 bits, a lone surrogate: the standard library handles them
        else:
            if _SMALL_EXPONENT.search(text) is None and _SMALL_DECIMAL.search(text) is None:
                # a str, not the bytes: orjson's buffer for ~1 KB holds ~8 KB of touched memory,
                # and keeping 20,000 of them for a piece cost 2 page faults an event; the str
                # is a tight copy (ASCII: Arrow reads its bytes as they are)
                return text.decode("utf-8")
    return json.dumps(event, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


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
