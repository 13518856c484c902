"""SDK test helpers: every client writes into a real SQLite file in the test's temporary directory."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

import preflog
from preflog.store import open_store
from preflog.store.base import StoredEvent

PROJECT = "sdk-test"


@pytest.fixture
def db(tmp_path: Path) -> str:
    return str(tmp_path / "events.db")


@pytest.fixture
def make_client(db: str) -> Iterator[Callable[..., preflog.Client]]:
    """Build clients on the test's file (``db=`` and ``project=`` may be overridden); all are
    closed at the end of the test."""
    made: list[preflog.Client] = []

    def make(**options: Any) -> preflog.Client:
        options.setdefault("db", db)
        options.setdefault("project", PROJECT)
        client = preflog.Client(**options)
        made.append(client)
        return client

    yield make
    for client in made:
        client.close(timeout=10)


def stored(db: str, project: str = PROJECT) -> list[StoredEvent]:
    """Every event in the file, in position order."""
    store = open_store(db)
    try:
        return list(store.iter_events(project=project))
    finally:
        store.close()


@contextmanager
def write_locked(db: str) -> Iterator[None]:
    """Hold the SQLite file's write lock from another connection: the store's appends wait (its
    busy timeout) until the lock is released — a real stuck backend, produced on demand."""
    conn = sqlite3.connect(db, isolation_level=None, timeout=30)
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield
    finally:
        conn.execute("ROLLBACK")
        conn.close()


def wait_until(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    import time

    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        time.sleep(0.01)
