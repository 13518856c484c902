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
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from typing import Any, Final

import pyarrow.parquet as pq

from preflog.archive.chunks import PAGE, Chunk, ChunkResult, Erased, part_name, write_chunks
from preflog.archive.rows import format_of
from preflog.archive.target import (
    S3Options,
    Target,
    open_target,
    part_files,
    read_state,
    temporaries,
    write_state,
)
from preflog.archive.workers import Workers, chunk_ends, reopen_url
from preflog.errors import ConfigError
from preflog.store.base import Scanned, Store

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


def archive_events(
    store: Store,
    *,
    project: str,
    out: str,
    s3: S3Options | None = None,
    batch: int = BATCH,
    workers: int | None = None,
) -> ArchiveReport:
    """Archive ``project``'s events after the archive's watermark to ``out`` (a local path or
    ``s3://bucket/prefix``) and apply the erasures among them to the files written before.

    ``workers``: processes writing chunks at once (default: the machine's cores). Used only when
    the run has more than one chunk and the store can be opened again by a worker (SQLite and
    PostgreSQL); the files are the same for any number."""
    if workers is not None and workers < 1:
        raise ConfigError(f"workers: must be at least 1, got {workers}")
    with _collector_paused():
        return _archive(store, project=project, out=out, s3=s3, batch=batch, workers=workers)


@contextmanager
def _collector_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector: a piece holds 20,000 events as ~40 objects each, all
    alive until converted, and the collections their allocation triggered walked them again and
    again (a fifth of the archive's time in the 100k bench); events hold no cycles to collect."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _archive(
    store: Store, *, project: str, out: str, s3: S3Options | None, batch: int, workers: int | None
) -> ArchiveReport:
    target = open_target(out, s3=s3)
    before = read_state(target, project)
    previous = int(before.get("position", 0))
    report = ArchiveReport(project, out, previous, previous)
    report.leftovers_removed = _remove_uncommitted(target, project, previous)
    until = store.last_position(project=project)
    erased = Erased()
    for result in _chunk_results(store, target, s3, project, previous, until, batch, workers):
        erased.update(result.erased)
        report.events += result.events
        report.files_written += result.files
    if erased:
        report.files_rewritten = _rewrite_erased(store, target, project, previous, erased)
    state = {
        "version": STATE_VERSION,
        "format": format_of(before),
        "project": project,
        "position": until,
        "events_archived": report.events,
    }
    if until != previous or not before:
        write_state(target, project, state)
    report.watermark = until
    return report


def _chunk_results(
    store: Store,
    target: Target,
    s3: S3Options | None,
    project: str,
    after: int,
    until: int,
    batch: int,
    workers: int | None,
) -> Iterator[ChunkResult]:
    """Every chunk of the run written, in position order: in worker processes when there are
    several chunks (positions are unique, so a range of at most ``batch`` positions is one chunk)."""
    count = workers if workers is not None else (os.cpu_count() or 1)
    url = reopen_url(store) if count > 1 and until - after > batch else None
    if url is None:
        events = store.scan_texts(project=project, after=after, until_position=until, batch=PAGE)
        yield from write_chunks(target, project, events, batch=batch)
        return
    with Workers(url, target, s3, project=project, count=count) as pool:
        ends = chunk_ends(store, project=project, after=after, until=until, batch=batch)
        yield from pool.run(list(zip([after, *ends[:-1]], ends, strict=True)))


def _remove_uncommitted(target: Target, project: str, watermark: int) -> int:
    leftovers = temporaries(target, project)
    leftovers += [path for first, _, path in part_files(target, project) if first > watermark]
    for path in leftovers:
        target.fs.delete_file(path)
    return len(leftovers)


def _rewrite_erased(store: Store, target: Target, project: str, watermark: int, erased: Erased) -> list[str]:
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
    chunk = Chunk(target, project)
    page: list[Scanned] = []
    for scanned in store.scan_texts(project=project, after=first - 1, until_position=last, batch=PAGE):
        if chunk.stamps.day_of(scanned[0]) == day:
            page.append(scanned)
        if len(page) >= PAGE:
            chunk.add(page, note=False)
            page = []
    chunk.add(page, note=False)
    (relative,) = chunk.commit().files  # the file's own name: its day's first and last position
    return relative


__all__ = ["BATCH", "ArchiveReport", "archive_events", "part_name"]
