"""The archive read as a store (:class:`preflog.archive.ArchiveStore`): its reads skip the row groups
the files' statistics rule out and read a row group's ``event`` texts only when a row of it is
kept — and still give exactly the store's events for every window and every list of types, on
files of many small row groups, with and without statistics."""

from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq
import pytest
from pyarrow import fs as pafs

from preflog.archive import ArchiveStore, archive_events
from preflog.archive.target import open_target, part_files, writer_options
from preflog.store import Store
from tests import factories as f
from tests.archive.conftest import PROJECT, day_events
from tests.compile.helpers import append_all

WINDOWS = [(0, None), (5, None), (0, 17), (11, 30), (29, 29), (40, None)]
TYPES: list[list[str] | None] = [
    None,
    ["inference"],
    ["preference"],
    ["score"],
    ["signal"],
    ["retraction"],
    ["erasure"],
    ["preference", "score"],
    ["signal", "inference"],
]


def _events(store: Store) -> None:
    for day in (2, 3):
        events = day_events(5, day=day)
        append_all(store, events, PROJECT)
        inferences = [e for e in events if e["type"] == "inference"]
        judged = [
            f.score(inferences[0]["request_id"], value=0.25),
            f.signal(inferences[1]["request_id"]),
            f.score(inferences[2]["request_id"], value=0.75),
        ]
        append_all(store, judged, PROJECT)
    first = next(e for e in store.iter_events(project=PROJECT) if e.type == "preference")
    append_all(store, [f.retraction(str(first.event["request_id"]), first.event_id)], PROJECT)


def _rewrite(archive: Path, *, statistics: bool) -> None:
    """Every part file written again in row groups of 3 rows (the archive writes one a day)."""
    target = open_target(str(archive))
    assert isinstance(target.fs, pafs.LocalFileSystem)
    for _, _, path in part_files(target, PROJECT):
        table = pq.read_table(path)
        options = writer_options(table.schema) | ({} if statistics else {"write_statistics": False})
        pq.write_table(table, path, row_group_size=3, **options)
        assert pq.ParquetFile(path).metadata.num_row_groups > 1


@pytest.mark.parametrize("statistics", [True, False])
def test_reads_over_small_row_groups_are_the_stores(store: Store, tmp_path: Path, statistics: bool) -> None:
    _events(store)
    archive = tmp_path / "archive"
    archive_events(store, project=PROJECT, out=str(archive), workers=1)
    _rewrite(archive, statistics=statistics)
    reader = ArchiveStore(str(archive), project=PROJECT)
    last = store.last_position(project=PROJECT)
    assert reader.watermark == last
    for after, until in WINDOWS:
        for types in TYPES:
            expected = [
                (e.position, e.event, e.erased)
                for e in store.iter_events(project=PROJECT, after=after, types=types)
                if until is None or e.position <= until
            ]
            got = [
                (e.position, e.event, e.erased)
                for e in reader.iter_events(project=PROJECT, after=after, types=types, until_position=until)
            ]
            assert got == expected, (after, until, types)
    every = list(reader.iter_events(project=PROJECT))
    assert {e.type for e in every} == {"inference", "preference", "score", "signal", "retraction"}
    assert len(every) == last
