"""Appending NDJSON (one JSON event per line) to a store, answering per line: ``preflog log``.

Lines are parsed one by one and appended in batches, so a file of any length streams in bounded
memory. Every non-blank line gets one :class:`LineResult`, in input order, naming its line number:
``stored``, ``duplicate``, ``conflict`` or ``rejected`` (with the field and the reason; a line that
is not JSON is rejected with field ``""``). Valid lines are stored even when others are not.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, Final

from preflog.store.base import AppendResult, AppendStatus, Store

__all__ = ["DEFAULT_BATCH", "LineResult", "LogSummary", "append_ndjson"]

DEFAULT_BATCH: Final = 500
STATUSES: Final = ("stored", "duplicate", "conflict", "rejected")


@dataclass(frozen=True)
class LineResult:
    """The store's answer for one input line (1-based ``line``)."""

    line: int
    status: AppendStatus
    event_id: str | None = None
    position: int | None = None
    field: str | None = None
    reason: str | None = None

    @property
    def ok(self) -> bool:
        return self.status in ("stored", "duplicate")

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if v is not None}

    @classmethod
    def from_append(cls, line: int, result: AppendResult) -> LineResult:
        return cls(line, result.status, result.event_id, result.position, result.field, result.reason)


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


def _parse(raw: bytes | str) -> tuple[Any, str | None]:
    """The JSON value of one line, or the reason it is not JSON."""
    try:
        text = raw.decode("utf-8") if isinstance(raw, bytes) else raw
    except UnicodeDecodeError as exc:
        return None, f"not UTF-8 (byte {exc.start + 1})"
    try:
        return json.loads(text), None
    except json.JSONDecodeError as exc:
        return None, f"invalid JSON: {exc.msg} (column {exc.colno})"
    except RecursionError:
        return None, "invalid JSON: nested too deeply"


def append_ndjson(
    store: Store, lines: Iterable[bytes | str], *, project: str, batch_size: int = DEFAULT_BATCH
) -> Iterator[LineResult]:
    """Append the events of ``lines`` to ``store`` in batches of ``batch_size``; yield one result per
    non-blank line, in line order. Each batch is one atomic ``append`` call."""
    pending: list[tuple[int, Any, str | None]] = []
    for number, raw in enumerate(lines, start=1):
        if not raw.strip():
            continue
        value, problem = _parse(raw)
        pending.append((number, value, problem))
        if len(pending) >= batch_size:
            yield from _flush(store, pending, project)
            pending = []
    if pending:
        yield from _flush(store, pending, project)


def _flush(store: Store, pending: list[tuple[int, Any, str | None]], project: str) -> Iterator[LineResult]:
    events = [value for _, value, problem in pending if problem is None]
    answers = iter(store.append(events, project=project) if events else [])
    for number, _value, problem in pending:
        if problem is not None:
            yield LineResult(number, "rejected", field="", reason=problem)
        else:
            yield LineResult.from_append(number, next(answers))
