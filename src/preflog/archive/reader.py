"""An archive read as a store: :class:`ArchiveStore` gives the events of a project's archive through
the store's read interface, so the compile pipeline and analytics run on it unchanged.

Only committed files count: those named by a position range up to the watermark in
``_preflog/<project>/state.json`` (a crashed run's later parts are invisible). With ``store=``,
opening refuses an archive that an erasure in the store has not reached yet (an erasure after
the archive's watermark: run ``preflog archive`` first), so no compile reads erased text.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from preflog.archive.rows import event_of, format_of
from preflog.archive.target import S3Options, Target, open_target, part_files, read_state
from preflog.errors import ConfigError, StoreError
from preflog.store.base import AppendResult, RequestView, Store, StoredEvent, StoreStats
from preflog.store.common import build_view


class ArchiveStale(ConfigError):
    """The store holds an erasure the archive has not applied yet."""


def check_fresh(store: Store, *, project: str, watermark: int) -> None:
    """Refuse an archive whose watermark is behind an erasure in ``store``."""
    later = store.read(project=project, after=watermark, limit=1, types=["erasure"])
    if later:
        raise ArchiveStale(
            f"from_archive: the store has an erasure (position {later[0].position}) after the archive's "
            f"watermark {watermark}; run preflog archive first so the archive is blanked too"
        )


class ArchiveStore(Store):
    """One project's archive, read-only, with the store's read methods."""

    def __init__(self, uri: str, *, project: str, s3: S3Options | None = None, store: Store | None = None):
        self.target: Target = open_target(uri, s3=s3, create=False)
        self.project = project
        state = read_state(self.target, project)
        if not state:
            raise ConfigError(f"from_archive: {uri!r} holds no archive of project {project!r}")
        self.watermark = int(state["position"])
        self.format = format_of(state)  # rows.FORMAT: which typed columns every file holds
        if store is not None:
            check_fresh(store, project=project, watermark=self.watermark)
        committed = [f for f in part_files(self.target, project) if f[1] <= self.watermark]
        self._groups = _overlapping(committed)

    # --- reads ---------------------------------------------------------------------------------
    def iter_events(
        self,
        *,
        project: str,
        after: int = 0,
        types: Iterable[str] | None = None,
        batch: int = 5000,
        until_position: int | None = None,
    ) -> Iterator[StoredEvent]:
        self._check(project)
        wanted = list(types) if types is not None else None
        top = self.watermark if until_position is None else min(until_position, self.watermark)
        for first, last, paths in self._groups:
            if last <= after or first > top:
                continue
            for position, body, erased in table_rows(self._scan(paths, after, top, wanted), _READ):
                yield event_of(position, body, erased)

    def _scan(self, paths: list[str], after: int, top: int, types: list[str] | None) -> pa.Table:
        """The group's rows in ``(after, top]`` of ``types`` (None: all), in position order: the
        row groups the footers' statistics rule out are not read, and a row group's ``event``
        texts only when one of its rows is kept (the compile's five judgment scans each read every
        text of the archive, four of them for no row at 1M + 1M)."""
        wanted = pa.array(types, pa.string()) if types is not None else None
        pieces = []
        for path in paths:
            with self.target.fs.open_input_file(path) as handle:
                file = pq.ParquetFile(handle)
                for index in _row_groups(file.metadata, after, top, types):
                    keys = file.read_row_group(index, columns=_KEYS)
                    keep = pc.and_(pc.greater(keys["position"], after), pc.less_equal(keys["position"], top))
                    if wanted is not None:
                        keep = pc.and_(keep, pc.is_in(keys["type"], value_set=wanted))
                    if not pc.any(keep).as_py():
                        continue
                    texts = file.read_row_group(index, columns=["event"])
                    pieces.append(keys.append_column("event", texts["event"]).filter(keep))
        if not pieces:
            return pa.table({name: pa.array([], type) for name, type in _COLUMNS})
        table = pa.concat_tables(pieces)
        return table if _ascending(table["position"]) else table.sort_by("position")

    def read(
        self,
        *,
        project: str,
        after: int = 0,
        limit: int = 1000,
        types: Iterable[str] | None = None,
        since: str | None = None,
        until: str | None = None,
    ) -> list[StoredEvent]:
        out = []
        for item in self.iter_events(project=project, after=after, types=types):
            stamp = str(item.event.get("occurred_at") or "")
            if (since and stamp < since) or (until and stamp >= until):
                continue
            out.append(item)
            if len(out) >= limit:
                break
        return out

    def get_request(self, request_id: str, *, project: str) -> RequestView:
        rows = [i for i in self.iter_events(project=project) if i.request_id == request_id]
        return build_view(request_id, rows)

    def get_event(self, event_id: str, *, project: str) -> StoredEvent | None:
        return next((i for i in self.iter_events(project=project) if i.event_id == event_id), None)

    def last_position(self, *, project: str | None = None) -> int:
        return self.watermark

    def projects(self) -> list[str]:
        return [self.project]

    def stats(self, *, project: str) -> StoreStats:
        raise StoreError("an archive answers reads only: preflog stats reads the store")

    def append(
        self, events: Sequence[Mapping[str, Any]], *, project: str, validated: bool = False
    ) -> list[AppendResult]:
        raise StoreError("an archive is read-only: append to the store, then run preflog archive")

    def close(self) -> None:
        return None

    def _check(self, project: str) -> None:
        if project != self.project:
            raise ConfigError(f"project: this archive reader is for {self.project!r}, not {project!r}")


_KEYS = ["position", "type", "erased"]
_READ = ("position", "event", "erased")
_COLUMNS = [("position", pa.int64()), ("type", pa.string()), ("erased", pa.bool_()), ("event", pa.string())]
# Rows turned into Python values at a time (table_rows): a group's texts as Python strings at once
# were ~130 MB at 1M + 1M.
_SLICE = 10_000


def table_rows(table: pa.Table, names: Sequence[str]) -> Iterator[tuple[Any, ...]]:
    """The values of ``names`` in each row of ``table``, made into Python objects a slice of
    :data:`_SLICE` rows at a time."""
    for start in range(0, table.num_rows, _SLICE):
        piece = table.slice(start, _SLICE)
        yield from zip(*(piece[name].to_pylist() for name in names), strict=True)


def _row_groups(meta: pq.FileMetaData, after: int, top: int, types: list[str] | None) -> list[int]:
    """The row groups of a file whose statistics allow a row in ``(after, top]`` of ``types``:
    ``position`` and ``type`` carry min and max (archive.target's writer options)."""
    leaves = [meta.schema.column(i).path for i in range(meta.num_columns)]
    where = {name: leaves.index(name) for name in ("position", "type") if name in leaves}
    kept = []
    for index in range(meta.num_row_groups):
        group = meta.row_group(index)
        if group.num_rows == 0:
            continue
        position = _bounds(group, where.get("position"))
        if position is not None and (position[1] <= after or position[0] > top):
            continue
        if types is not None:
            kind = _bounds(group, where.get("type"))
            if kind is not None and not any(kind[0] <= t <= kind[1] for t in types):
                continue
        kept.append(index)
    return kept


def _ascending(positions: pa.ChunkedArray) -> bool:
    """Whether ``positions`` are in order already (one file's rows are: its writer's order), so
    that no sorted copy is made (~120 MB of a group's inference texts at 1M + 1M)."""
    if len(positions) < 2:
        return True
    flat = positions.combine_chunks()
    return bool(pc.all(pc.less(flat[:-1], flat[1:])).as_py())


def _bounds(group: pq.RowGroupMetaData, column: int | None) -> tuple[Any, Any] | None:
    """(min, max) of a row group's column when its footer has them, else None (read it)."""
    if column is None:
        return None
    stats = group.column(column).statistics
    if stats is None or not stats.has_min_max or stats.null_count:
        return None
    return stats.min, stats.max


def _overlapping(files: list[tuple[int, int, str]]) -> list[tuple[int, int, list[str]]]:
    """Files grouped where their position ranges overlap (one archive run's days), in order: a
    group is read and sorted whole, so memory stays one run's batch."""
    groups: list[tuple[int, int, list[str]]] = []
    for first, last, path in files:
        if groups and first <= groups[-1][1]:
            start, end, paths = groups[-1]
            groups[-1] = (start, max(end, last), [*paths, path])
        else:
            groups.append((first, last, [path]))
    return groups
