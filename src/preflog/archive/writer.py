"""``archive_events``: bring a project's Parquet archive up to date with the store, incrementally.

One run, in this order (docs/scaling.md, "The archive", has the crash semantics):

1. read the project's watermark (``_preflog/<project>/state.json``; 0 when new) and remove what a
   crashed run left: temporaries, and part files starting after the watermark (never committed);
2. read the events after the watermark in batches of :data:`BATCH` and write each batch's events
   of one day as ``project=P/day=D/part-<first>-<last>.parquet`` (positions, zero-padded);
3. rewrite, blanked from the store, the earlier files holding a request or a user erased by an
   event of this run;
4. write the watermark, last.

A crash anywhere before 4 leaves the watermark where it was; the rerun removes the uncommitted
parts and writes the same files again, so there is never a partial or a duplicate file.
"""

from __future__ import annotations

import gc
from collections import defaultdict
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from typing import Any, Final

import pyarrow.parquet as pq

from preflog.archive.rows import Stamps, table_of
from preflog.archive.target import (
    S3Options,
    Target,
    commit_table,
    open_target,
    part_files,
    read_state,
    temporaries,
    write_state,
)
from preflog.store.base import Store, StoredEvent

# Events per batch: 200,000 events of ~1 KB hold ~0.5 GB as Python objects at peak, under the
# 2 GB the archive may use, and give files of ~20 MB (zstd), large enough for fast scans.
BATCH: Final = 200_000
STATE_VERSION: Final = 1


@dataclass
class ArchiveReport:
    """What one :func:`archive_events` run did."""

    project: str
    uri: str
    previous: int
    watermark: int
    events: int = 0
    files_written: list[str] = field(default_factory=list)
    files_rewritten: list[str] = field(default_factory=list)
    leftovers_removed: int = 0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class _Erased:
    """The requests and users erased by the events of one run."""

    requests: set[str] = field(default_factory=set)
    users: set[str] = field(default_factory=set)

    def note(self, item: StoredEvent) -> None:
        event = item.event
        if item.type == "erasure":
            if event.get("request_id"):
                self.requests.add(str(event["request_id"]))
            if event.get("user_id"):
                self.users.add(str(event["user_id"]))
        elif item.type == "inference" and item.erased and item.request_id:
            self.requests.add(item.request_id)  # stored blanked: its whole request is erased

    def __bool__(self) -> bool:
        return bool(self.requests or self.users)


def archive_events(
    store: Store,
    *,
    project: str,
    out: str,
    s3: S3Options | None = None,
    batch: int = BATCH,
) -> ArchiveReport:
    """Archive ``project``'s events after the archive's watermark to ``out`` (a local path or
    ``s3://bucket/prefix``) and apply the erasures among them to the files written before."""
    with _collector_paused():
        return _archive(store, project=project, out=out, s3=s3, batch=batch)


@contextmanager
def _collector_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector: a chunk holds 200,000 events as ~40 objects each, all
    alive until written, and the collections their allocation triggered walked them again and
    again (a fifth of the archive's time in the 100k bench); events hold no cycles to collect."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _archive(store: Store, *, project: str, out: str, s3: S3Options | None, batch: int) -> ArchiveReport:
    target = open_target(out, s3=s3)
    previous = int(read_state(target, project).get("position", 0))
    report = ArchiveReport(project, out, previous, previous)
    report.leftovers_removed = _remove_uncommitted(target, project, previous)
    until = store.last_position(project=project)
    erased = _Erased()
    events = store.scan(project=project, after=previous, until_position=until, batch=batch)
    for chunk in _chunks(events, batch):
        for item in chunk:
            erased.note(item)
        report.events += len(chunk)
        report.files_written += _write_days(target, project, chunk)
    if erased:
        report.files_rewritten = _rewrite_erased(store, target, project, previous, erased)
    state = {
        "version": STATE_VERSION,
        "project": project,
        "position": until,
        "events_archived": report.events,
    }
    if until != previous or not read_state(target, project):
        write_state(target, project, state)
    report.watermark = until
    return report


def _remove_uncommitted(target: Target, project: str, watermark: int) -> int:
    leftovers = temporaries(target, project)
    leftovers += [path for first, _, path in part_files(target, project) if first > watermark]
    for path in leftovers:
        target.fs.delete_file(path)
    return len(leftovers)


def _chunks(items: Iterable[StoredEvent], size: int) -> Iterable[list[StoredEvent]]:
    chunk: list[StoredEvent] = []
    for item in items:
        chunk.append(item)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _write_days(target: Target, project: str, chunk: list[StoredEvent]) -> list[str]:
    stamps = Stamps()
    by_day: dict[str, list[StoredEvent]] = defaultdict(list)
    for item in chunk:
        by_day[stamps.day_of(item)].append(item)
    written = []
    for day in sorted(by_day):
        items = by_day[day]
        relative = part_name(project, day, items[0].position, items[-1].position)
        commit_table(target, table_of(items, stamps), relative)
        written.append(relative)
    return written


def part_name(project: str, day: str, first: int, last: int) -> str:
    """``project=P/day=D/part-<first>-<last>.parquet``, positions zero-padded to 12 digits so that
    names sort in position order.

    >>> part_name("chat", "2026-03-01", 1, 250)
    'project=chat/day=2026-03-01/part-000000000001-000000000250.parquet'
    """
    return f"project={project}/day={day}/part-{first:012d}-{last:012d}.parquet"


def _rewrite_erased(store: Store, target: Target, project: str, watermark: int, erased: _Erased) -> list[str]:
    """Rewrite from the store (which has blanked them) the files up to ``watermark`` that hold an
    erased request or a user's event or request."""
    files = [(first, last, path) for first, last, path in part_files(target, project) if last <= watermark]
    heads = {
        path: pq.read_table(path, filesystem=target.fs, columns=["request_id", "user_id"])
        for _, _, path in files
    }
    requests = set(erased.requests)
    for table in heads.values():  # a user's requests: every event of them is blanked
        for request_id, user_id in zip(
            table["request_id"].to_pylist(), table["user_id"].to_pylist(), strict=True
        ):
            if user_id in erased.users and request_id:
                requests.add(request_id)
    rewritten = []
    for first, last, path in files:
        table = heads[path]
        hit = any(
            r in requests or u in erased.users
            for r, u in zip(table["request_id"].to_pylist(), table["user_id"].to_pylist(), strict=True)
        )
        if hit:
            rewritten.append(_rewrite_file(store, target, project, first, last, path))
    return rewritten


def _rewrite_file(store: Store, target: Target, project: str, first: int, last: int, path: str) -> str:
    day = path.rsplit("/", 2)[-2].removeprefix("day=")
    stamps = Stamps()
    items = [
        item
        for item in store.scan(project=project, after=first - 1, until_position=last, batch=BATCH)
        if stamps.day_of(item) == day
    ]
    relative = part_name(project, day, first, last)
    commit_table(target, table_of(items, stamps), relative)
    return relative


__all__ = ["BATCH", "ArchiveReport", "archive_events", "part_name"]
