"""Appending NDJSON (one JSON event per line) to a store, answering per line: ``preflog log``.

Lines are parsed one by one and appended in batches, so a file of any length streams in bounded
memory. Every non-blank line gets one :class:`LineResult`, in input order, naming its line number:
``stored``, ``duplicate``, ``conflict`` or ``rejected`` (with the field and the reason; a line that
is not JSON is rejected with field ``""``). Valid lines are stored even when others are not.

Two other shapes people have at hand are read too, whole (so they are for files that fit in
memory): a JSON array of events (``[...]`` on one line or pretty-printed) and pretty-printed
events one after another (``jq .`` output: the first line is a lone ``{``). Each event's result
then names its ``item`` (1-based) and the line it starts on. A UTF-8 byte order mark is skipped.

:func:`parse_json_line` and :func:`json_error` are also the service's (``POST /v1/events``), so a
bad line gets the same message from both: ``invalid JSON: Unterminated string starting at column 2``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final

from preflog.progress import ProgressCallback, report

if TYPE_CHECKING:
    from preflog.store.base import AppendResult, AppendStatus, Store

__all__ = ["DEFAULT_BATCH", "LineResult", "LogSummary", "append_ndjson", "json_error", "parse_json_line"]

DEFAULT_BATCH: Final = 500
STATUSES: Final = ("stored", "duplicate", "conflict", "rejected")
BOM: Final = "\ufeff"
_DECODER: Final = json.JSONDecoder()
_WHITESPACE: Final = " \t\r\n"


@dataclass(frozen=True)
class LineResult:
    """The store's answer for one input line (1-based ``line``); for an array or a pretty-printed
    file, ``item`` is the event's 1-based number and ``line`` the line it starts on."""

    line: int
    status: AppendStatus
    event_id: str | None = None
    position: int | None = None
    field: str | None = None
    reason: str | None = None
    item: int | None = None

    @property
    def ok(self) -> bool:
        return self.status in ("stored", "duplicate")

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if v is not None}

    @classmethod
    def from_append(cls, line: int, result: AppendResult, item: int | None = None) -> LineResult:
        return cls(line, result.status, result.event_id, result.position, result.field, result.reason, item)


@dataclass
class LogSummary:
    """Counts of line results by status."""

    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(STATUSES, 0))

    def add(self, result: LineResult) -> None:
        self.counts[result.status] += 1

    @property
    def lines(self) -> int:
        return sum(self.counts.values())

    @property
    def ok(self) -> bool:
        """True when every line was stored or a duplicate."""
        return self.counts["rejected"] == 0 and self.counts["conflict"] == 0


def json_error(exc: json.JSONDecodeError, *, line_offset: int = 0) -> str:
    """Where and why ``exc`` happened, in the words users see from ``log`` and the API.

    >>> try:
    ...     json.loads('{"oops')
    ... except json.JSONDecodeError as exc:
    ...     json_error(exc)
    'Unterminated string starting at column 2'
    """
    at = "" if exc.msg.endswith(" at") else " at"
    line = exc.lineno + line_offset
    where = f"line {line}, column {exc.colno}" if line > 1 else f"column {exc.colno}"
    return f"{exc.msg}{at} {where}"


def parse_json_line(raw: bytes | str) -> tuple[Any, str | None]:
    """The JSON value of one NDJSON line, or why it is not JSON. The line's end (``\\n``,
    ``\\r\\n``) is not part of its JSON.

    >>> parse_json_line(b'{"oops\\n')
    (None, 'invalid JSON: Unterminated string starting at column 2')
    """
    try:
        text = raw.decode("utf-8") if isinstance(raw, bytes) else raw
    except UnicodeDecodeError as exc:
        return None, f"invalid JSON: not UTF-8 (byte {exc.start + 1})"
    try:
        return json.loads(text.rstrip("\r\n")), None
    except json.JSONDecodeError as exc:
        return None, f"invalid JSON: {json_error(exc)}"
    except RecursionError:
        return None, "invalid JSON: nested too deeply"


# One parsed input unit: (line, item or None, value, problem or None).
_Parsed = tuple[int, int | None, Any, str | None]


def _text(raw: bytes | str) -> str:
    return raw.decode("utf-8", errors="replace") if isinstance(raw, bytes) else raw


def _skip(text: str, at: int) -> int:
    while at < len(text) and text[at] in _WHITESPACE:
        at += 1
    return at


def _documents(text: str, first_line: int, *, array: bool) -> Iterator[_Parsed]:
    """The events of a JSON array or of JSON values one after another, each with the line it
    starts on. A syntax error ends the file: what follows it cannot be told apart."""
    at = _skip(text, 0) + (1 if array else 0)
    item, line, counted = 0, first_line, 0
    closed = not array

    def line_at(position: int) -> int:
        nonlocal line, counted
        line += text.count("\n", counted, position)
        counted = position
        return line

    while (at := _skip(text, at)) < len(text):
        if array and text[at] == "]":
            closed, at = True, at + 1
            break
        try:
            value, end = _DECODER.raw_decode(text, at)
        except json.JSONDecodeError as exc:
            yield line_at(at), None, None, f"invalid JSON: {json_error(exc, line_offset=first_line - 1)}"
            return
        except RecursionError:
            yield line_at(at), None, None, "invalid JSON: nested too deeply"
            return
        item += 1
        yield line_at(at), item, value, None
        at = _skip(text, end)
        if array and at < len(text) and text[at] not in ",]":
            yield line_at(at), None, None, "invalid JSON: expecting ',' or ']' after an array item"
            return
        at += 1 if array and at < len(text) and text[at] == "," else 0
    if not closed:
        yield line_at(at), None, None, "invalid JSON: the array is not closed with ]"
    elif (at := _skip(text, at)) < len(text):
        yield line_at(at), None, None, "invalid JSON: more data after the array"


def _parse(lines: Iterable[bytes | str]) -> Iterator[_Parsed]:
    """NDJSON line by line; an array or pretty-printed events (told by their first line) whole."""
    numbered = enumerate(lines, start=1)
    for number, raw in numbered:
        if number == 1:
            raw = raw[3:] if isinstance(raw, bytes) and raw.startswith(BOM.encode()) else raw
            raw = raw.removeprefix(BOM) if isinstance(raw, str) else raw
        head = raw.strip()
        if not head:
            continue
        if head[:1] in (b"[", "[") or head in (b"{", "{"):
            text = _text(raw) + "".join(_text(r) for _, r in numbered)
            yield from _documents(text, number, array=head[:1] in (b"[", "["))
            return
        value, problem = parse_json_line(raw)
        yield number, None, value, problem
        break
    for number, raw in numbered:
        if raw.strip():
            value, problem = parse_json_line(raw)
            yield number, None, value, problem


def append_ndjson(
    store: Store,
    lines: Iterable[bytes | str],
    *,
    project: str,
    batch_size: int = DEFAULT_BATCH,
    progress: ProgressCallback | None = None,
) -> Iterator[LineResult]:
    """Append the events of ``lines`` to ``store`` in batches of ``batch_size``; yield one result per
    non-blank line (per event of an array), in order. Each batch is one atomic ``append`` call;
    ``progress`` hears the events answered after each (:mod:`preflog.progress`)."""
    pending: list[_Parsed] = []
    answered = 0
    for parsed in _parse(lines):
        pending.append(parsed)
        if len(pending) >= batch_size:
            yield from _flush(store, pending, project)
            answered += len(pending)
            report(progress, "logging", answered, unit="events")
            pending = []
    if pending:
        yield from _flush(store, pending, project)
        answered += len(pending)
    report(progress, "logging", answered, unit="events")


def _flush(store: Store, pending: list[_Parsed], project: str) -> Iterator[LineResult]:
    events = [value for _, _, value, problem in pending if problem is None]
    answers = iter(store.append(events, project=project) if events else [])
    for number, item, _value, problem in pending:
        if problem is not None:
            yield LineResult(number, "rejected", field="", reason=problem, item=item)
        else:
            yield LineResult.from_append(number, next(answers), item)
