"""``Store.scan``, the archive's read: the same events as ``iter_events`` over a position range on
SQLite and PostgreSQL (two projects interleaved, every page size), and on SQLite a plan that walks
the primary key instead of sorting the project's events for each page."""

from __future__ import annotations

from pathlib import Path

import pytest

from preflog.store import Store
from preflog.store.sqlite import SQLiteStore
from tests.archive.conftest import day_events
from tests.compile.helpers import append_all
from tests.store.conftest import BACKENDS


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_scan_gives_the_events_of_iter_events(backend: str, tmp_path: Path) -> None:
    store = BACKENDS[backend](tmp_path)
    try:
        for day in (2, 3):  # positions of "a" and "b" interleave
            append_all(store, day_events(6, day=day, tag="a"), "a")
            append_all(store, day_events(4, day=day, tag="b"), "b")
        last = store.last_position()
        for after, until in [(0, last), (3, last - 5), (last, last), (last - 1, last)]:
            expected = [
                (i.position, i.event, i.erased)
                for i in store.iter_events(project="a", after=after)
                if i.position <= until
            ]
            for batch in (1, 5, 24, 1000):
                got = [
                    (i.position, i.event, i.erased)
                    for i in store.scan(project="a", after=after, until_position=until, batch=batch)
                ]
                assert got == expected, (after, until, batch)
        assert len(list(store.scan(project="a", after=0, until_position=last))) == 24
    finally:
        store.close()


def _plan(store: Store, sql: str) -> str:
    assert isinstance(store, SQLiteStore)
    with store.connection("read") as tx:
        return " ".join(str(row[-1]) for row in tx.all(f"EXPLAIN QUERY PLAN {sql}", ("a", 0, 10, 10)))


def test_sqlite_scans_the_primary_key_without_sorting(tmp_path: Path) -> None:
    store = BACKENDS["sqlite"](tmp_path)
    try:
        append_all(store, day_events(3, day=2), "a")
        scan = (
            f"SELECT position FROM {SQLiteStore.SCAN_FROM} WHERE project = ? AND position > ? "
            "AND position <= ? ORDER BY position LIMIT ?"
        )
        assert "PRIMARY KEY" in _plan(store, scan)
        assert "TEMP B-TREE" not in _plan(store, scan)
    finally:
        store.close()
