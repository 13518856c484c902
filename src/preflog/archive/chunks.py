"""One chunk of an archive run: at most ``batch`` consecutive events of a project, written as one
file per UTC day (``project=P/day=D/part-<first>-<last>.parquet``).

A chunk is built piece by piece: each event of a page the store returns (:data:`PAGE`) becomes a
row of its day at once and its dict is dropped; every :data:`PIECE` rows of a day become Arrow
columns. So a chunk of 200,000 events holds its Arrow columns (~1.1 KB an event), at most a
piece of rows per day and one page of events, not 200,000 event dicts (~1.5 GB at peak when the
whole chunk was kept as Python objects). Each day's pieces are written as they are, a table of
several chunks of columns (joining them into contiguous columns first copied them: peak 715 MB
against 540 MB at 100k). The rows are those of the whole chunk built at once, and the bytes
depend only on the chunk's events (a day's pieces count from its first event in the chunk), so
one process and several write the same files (``tests/archive/test_archive_workers.py``).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, Final, TypeVar

import pyarrow as pa

from preflog.archive.rows import Stamps, table_of_values, values_of
from preflog.archive.target import Target, commit_table
from preflog.store.base import Scanned, StoredEvent

T = TypeVar("T")

# Rows of a day turned into Arrow columns at a time: 20,000 rows hold ~30 MB of Python objects
# (their strings), a tenth of a 200,000-event chunk, and columns of 20,000 values convert as fast.
PIECE: Final = 20_000
# Events read from the store at a time; each is made a row at once and its dict dropped. Small
# pages let the next page reuse the memory the last one freed: reading 200,000 events in pages of
# 20,000 took 94,000 page faults (fresh memory for every page), in pages of 1,000 12,000.
PAGE: Final = 1_000


@dataclass
class Erased:
    """The requests and users erased by the events of one run."""

    requests: set[str] = field(default_factory=set)
    users: set[str] = field(default_factory=set)

    def note(self, item: StoredEvent) -> None:
        event = item.event
        if item.erased and event["type"] == "inference" and event.get("request_id"):
            self.requests.add(event["request_id"])  # stored blanked: its whole request is erased
        elif event["type"] == "erasure":
            if event.get("request_id"):
                self.requests.add(str(event["request_id"]))
            if event.get("user_id"):
                self.users.add(str(event["user_id"]))

    def update(self, other: Erased) -> None:
        self.requests |= other.requests
        self.users |= other.users

    def __bool__(self) -> bool:
        return bool(self.requests or self.users)


@dataclass
class ChunkResult:
    """What writing one chunk did (sent back by a worker process: plain data only)."""

    files: list[str] = field(default_factory=list)
    events: int = 0
    erased: Erased = field(default_factory=Erased)


@dataclass
class _Day:
    first: int
    last: int
    rows: list[tuple[Any, ...]] = field(default_factory=list)
    tables: list[pa.Table] = field(default_factory=list)

    def convert(self) -> None:
        self.tables.append(table_of_values(self.rows))
        self.rows = []


class Chunk:
    """The events of one chunk, kept as Arrow tables per day until :meth:`commit`."""

    def __init__(self, target: Target, project: str) -> None:
        self.target, self.project = target, project
        self.stamps = Stamps()
        self.result = ChunkResult()
        self._days: dict[str, _Day] = {}

    def add(self, items: list[Scanned], *, note: bool = True) -> None:
        """Add events that follow the ones added before (position order), each with its JSON text
        when the store gave it (:meth:`preflog.store.Store.scan_texts`): each becomes a row of its
        day at once; every :data:`PIECE` rows of a day become Arrow columns."""
        stamps, days, erased = self.stamps, self._days, self.result.erased
        day_of = stamps.days_seen  # Stamps.day_of's answers, read before calling it
        for item, text in items:
            day = day_of.get(item.event.get("occurred_at")) or stamps.day_of(item)
            entry = days.get(day)
            if entry is None:
                entry = days[day] = _Day(item.position, item.position)
            entry.last = item.position
            entry.rows.append(values_of(item, stamps, text))
            if len(entry.rows) >= PIECE:
                entry.convert()
            if note and (item.erased or item.event["type"] == "erasure"):
                erased.note(item)  # what it notes; a call an event less
        self.result.events += len(items)

    def commit(self) -> ChunkResult:
        """Write each day's file (days in order), each committed by a move; what was written."""
        for day in sorted(self._days):
            entry = self._days.pop(day)
            if entry.rows or not entry.tables:
                entry.convert()
            table = pa.concat_tables(entry.tables)  # no copy
            entry.tables.clear()
            relative = part_name(self.project, day, entry.first, entry.last)
            commit_table(self.target, table, relative)
            self.result.files.append(relative)
        return self.result


def write_chunks(
    target: Target, project: str, events: Iterable[Scanned], *, batch: int
) -> Iterator[ChunkResult]:
    """Write ``events`` (position order) as chunks of ``batch`` events, one after the other."""
    chunk, size = Chunk(target, project), 0
    for piece, ends in pieces(events, batch=batch, piece=PAGE):
        chunk.add(piece)
        size += len(piece)
        if ends:
            yield chunk.commit()
            chunk, size = Chunk(target, project), 0
    if size:
        yield chunk.commit()


def pieces(items: Iterable[T], *, batch: int, piece: int) -> Iterator[tuple[list[T], bool]]:
    """Lists of at most ``piece`` events, each flagged when it ends a chunk of ``batch`` events.

    >>> [(len(p), ends) for p, ends in pieces(range(5), batch=3, piece=2)]
    [(2, False), (1, True), (2, False)]
    """
    current: list[T] = []
    in_chunk = 0
    for item in items:
        current.append(item)
        in_chunk += 1
        if in_chunk >= batch:
            yield current, True
            current, in_chunk = [], 0
        elif len(current) >= piece:
            yield current, False
            current = []
    if current:
        yield current, False


def part_name(project: str, day: str, first: int, last: int) -> str:
    """``project=P/day=D/part-<first>-<last>.parquet``, positions zero-padded to 12 digits so that
    names sort in position order.

    >>> part_name("chat", "2026-03-01", 1, 250)
    'project=chat/day=2026-03-01/part-000000000001-000000000250.parquet'
    """
    return f"project={project}/day={day}/part-{first:012d}-{last:012d}.parquet"
