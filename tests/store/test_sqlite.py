"""SQLite-only behaviour: several processes on one file, migrations, durability settings."""

from __future__ import annotations

import json
import multiprocessing
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from preflog.errors import StoreError, StoreFull, StoreUnavailable
from preflog.store import open_store
from preflog.store.sqlite import SQLiteStore
from preflog.store.sqlite_checkpoint import INLINE_CHECKPOINT_PAGES
from preflog.store.sqlite_schema import LATEST, MIGRATIONS
from tests import factories as f

WRITER = """
import sys
sys.path.insert(0, {root!r})
from preflog.store import open_store
from tests import factories as f
store = open_store(sys.argv[1])
for _ in range(40):
    results = store.append([f.inference() for _ in range(10)], project="shared")
    assert all(r.status == "stored" for r in results), results
print("ok")
"""


def test_two_writer_processes_share_one_file(tmp_path: Path) -> None:
    db = tmp_path / "shared.db"
    open_store(str(db)).close()  # created and migrated once; the writers race on appends
    root = str(Path(__file__).resolve().parents[2])
    script = WRITER.format(root=root)
    procs = [
        subprocess.Popen([sys.executable, "-c", script, str(db)], stdout=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    outputs = [p.communicate(timeout=120)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outputs
    store = open_store(str(db))
    events = store.read(project="shared", limit=10_000)
    positions = [e.position for e in events]
    assert len(events) == 800
    assert positions == sorted(set(positions))
    assert len({e.event_id for e in events}) == 800


def test_two_processes_creating_a_new_file_at_once(tmp_path: Path) -> None:
    db = tmp_path / "fresh.db"
    root = str(Path(__file__).resolve().parents[2])
    script = WRITER.format(root=root)
    procs = [subprocess.Popen([sys.executable, "-c", script, str(db)]) for _ in range(2)]
    assert [p.wait(timeout=120) for p in procs] == [0, 0]
    assert len(open_store(str(db)).read(project="shared", limit=10_000)) == 800


def test_new_file_is_at_the_latest_schema_version_in_wal_mode(tmp_path: Path) -> None:
    db = tmp_path / "v.db"
    open_store(f"sqlite:///{db}").close()
    conn = sqlite3.connect(db)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == LATEST
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_older_file_is_migrated_on_open(tmp_path: Path) -> None:
    db = tmp_path / "old.db"
    sqlite3.connect(db).close()  # version 0: an empty file from before any migration
    store = SQLiteStore(db)
    assert store.read(project="p") == []
    assert sqlite3.connect(db).execute("PRAGMA user_version").fetchone()[0] == LATEST


def test_newer_file_is_refused_with_a_clear_error(tmp_path: Path) -> None:
    db = tmp_path / "future.db"
    open_store(str(db)).close()
    conn = sqlite3.connect(db)
    conn.execute(f"PRAGMA user_version = {LATEST + 1}")
    conn.close()
    with pytest.raises(StoreError, match="newer than this preflog"):
        open_store(str(db))


def test_synchronous_setting_is_checked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PREFLOG_SQLITE_SYNCHRONOUS", "sometimes")
    with pytest.raises(StoreError, match="PREFLOG_SQLITE_SYNCHRONOUS"):
        open_store(str(tmp_path / "x.db"))
    with pytest.raises(StoreError, match="synchronous: must be"):
        SQLiteStore(tmp_path / "x.db", synchronous="sometimes")
    monkeypatch.setenv("PREFLOG_SQLITE_SYNCHRONOUS", "full")
    store = open_store(str(tmp_path / "y.db"))  # the edge reads the environment
    assert isinstance(store, SQLiteStore) and store.synchronous == "FULL"
    assert store._conn().execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    store.close()
    assert SQLiteStore(tmp_path / "z.db").synchronous == "NORMAL"  # a store reads no environment
    assert SQLiteStore(tmp_path / "w.db", synchronous="full").synchronous == "FULL"


def test_url_forms(tmp_path: Path) -> None:
    from preflog.errors import ConfigError

    assert isinstance(open_store(f"sqlite:///{tmp_path}/a.db"), SQLiteStore)
    assert isinstance(open_store(str(tmp_path / "b.db")), SQLiteStore)
    with pytest.raises(ConfigError, match="unsupported URL scheme"):
        open_store("mysql://x")


def test_a_file_at_version_one_with_events_is_migrated_and_keeps_them(tmp_path: Path) -> None:
    db = tmp_path / "v1.db"
    conn = sqlite3.connect(db, isolation_level=None)
    conn.executescript(MIGRATIONS[0])
    conn.execute("PRAGMA user_version = 1")
    event = f.inference()
    body = json.dumps(event)
    conn.execute(
        "INSERT INTO events (project, event_id, type, request_id, occurred_at, received_at, "
        "schema_version, body) VALUES ('p', ?, 'inference', ?, ?, ?, 1, ?)",
        (event["event_id"], event["request_id"], event["occurred_at"], event["occurred_at"], body),
    )
    conn.close()
    store = SQLiteStore(db)
    assert sqlite3.connect(db).execute("PRAGMA user_version").fetchone()[0] == LATEST
    (got,) = store.read(project="p")
    assert got.event["prompt"] == event["prompt"] and got.position == 1
    assert store.append([f.inference()], project="p")[0].position == 2
    store.close()


def test_wal_checkpoints_run_on_their_own_thread(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "c.db")
    store._checkpointer.every_bytes = 2_000  # a checkpoint after every few events
    conn = store._conn()
    assert conn.execute("PRAGMA wal_autocheckpoint").fetchone()[0] == INLINE_CHECKPOINT_PAGES
    assert conn.execute("PRAGMA cache_size").fetchone()[0] < -2000  # more than the 2 MiB default
    for _ in range(20):
        store.append([f.inference() for _ in range(5)], project="p")
    deadline = time.monotonic() + 10
    while store._checkpointer.runs == 0 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert store._checkpointer.runs > 0
    thread = store._checkpointer._thread
    store.close()
    assert thread is not None and not thread.is_alive()  # this store's thread (other tests' may run)
    assert len(open_store(str(tmp_path / "c.db")).read(project="p", limit=1000)) == 100


def _append_in_child(store: SQLiteStore, queue: Any) -> None:
    """Runs in a forked child, on the parent's store object: its thread did not survive the fork."""
    before = store._checkpointer.runs
    for _ in range(10):
        store.append([f.inference() for _ in range(5)], project="child")
    deadline = time.monotonic() + 10
    while store._checkpointer.runs == before and time.monotonic() < deadline:
        time.sleep(0.01)
    queue.put(store._checkpointer.runs - before)


def test_a_forked_child_checkpoints_with_a_thread_of_its_own(tmp_path: Path) -> None:
    db = tmp_path / "fork.db"
    parent = SQLiteStore(db)
    parent._checkpointer.every_bytes = 2_000
    parent.append([f.inference() for _ in range(10)], project="parent")  # the parent's thread runs
    ctx = multiprocessing.get_context("fork")
    queue = ctx.Queue()
    child = ctx.Process(target=_append_in_child, args=(parent, queue))
    child.start()
    child.join(60)
    assert child.exitcode == 0 and queue.get(timeout=5) > 0
    assert len(parent.read(project="child", limit=100)) == 50
    parent.close()


def test_connections_of_ended_threads_are_closed(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "threads.db")
    for _ in range(50):  # one short-lived thread after another, each with its own connection
        worker = threading.Thread(target=lambda: store.append([f.inference()], project="p"))
        worker.start()
        worker.join()
    assert len(store._all) <= 2  # this thread's, and the last worker's until the next connect
    assert len(store.read(project="p", limit=100)) == 50
    store.close()


def test_a_writer_holding_the_lock_past_the_timeout_is_unavailable(tmp_path: Path) -> None:
    db = tmp_path / "busy.db"
    store = SQLiteStore(db, busy_timeout_s=0.2)
    blocker = sqlite3.connect(db, isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")  # another process mid-append, for longer than the timeout
    with pytest.raises(StoreUnavailable, match="locked") as caught:
        store.append([f.inference()], project="p")
    assert isinstance(caught.value.__cause__, sqlite3.OperationalError)
    blocker.execute("ROLLBACK")
    assert store.append([f.inference()], project="p")[0].status == "stored"  # fine once released
    store.close()


def test_a_full_database_is_store_full_and_keeps_what_was_stored(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "full.db")
    first = f.inference()
    store.append([first], project="p")
    (pages,) = store._conn().execute("PRAGMA page_count").fetchone()
    store._conn().execute(f"PRAGMA max_page_count = {pages + 2}")  # a disk that is about to fill
    with pytest.raises(StoreFull):
        store.append([f.inference(outputs=("x" * 50_000, "y" * 50_000))], project="p")
    assert [e.event_id for e in store.read(project="p")] == [first["event_id"]]
    store.close()


def _read_steps(store: SQLiteStore, read: Callable[[], list[Any]]) -> tuple[int, int]:
    """Events ``read()`` returns, and the SQLite VM steps (in hundreds) it took."""
    steps = [0]

    def count() -> int:
        steps[0] += 1
        return 0

    with store.connection("read") as tx:
        tx.raw.set_progress_handler(count, 100)
    try:
        got = len(read())
    finally:
        with store.connection("read") as tx:
            tx.raw.set_progress_handler(None, 100)
    return got, steps[0]


def _fill(store: SQLiteStore, total: int) -> None:
    while store.last_position(project="big") < total:
        inf = f.inference()
        store.append([inf, f.preference(inf["request_id"]), f.signal(inf["request_id"])], project="big")


def test_a_page_of_every_type_costs_a_page_not_the_rest_of_the_project(tmp_path: Path) -> None:
    # Paging every type through the (project, type, position) index used to sort every remaining
    # event of the project for each page: 0.84-1.16 s a page of 1,000 at 1M + 1M.
    store = SQLiteStore(tmp_path / "events.db")
    costs = {}
    for total in (400, 4000):
        _fill(store, total)
        got, costs[total] = _read_steps(store, lambda: store.read(project="big", limit=20))
        assert got == 20
    store.close()
    assert costs[4000] <= 2 * costs[400] + 5, costs  # the old plan: 43 against 403 (x100 steps)


def test_several_types_cost_what_each_type_alone_costs(tmp_path: Path) -> None:
    # A page of several types read its types' rows several times over and sorted them (300,000
    # events of three types at 1M + 1M: 11.3-14.8 s paged, 2.4-2.9 s one stream per type).
    store = SQLiteStore(tmp_path / "events.db")
    _fill(store, 3000)

    def walk(kinds: list[str] | None) -> Callable[[], list[Any]]:
        return lambda: list(store.iter_events(project="big", types=kinds, batch=50))

    alone = {t: _read_steps(store, walk([t])) for t in ("inference", "preference", "signal")}
    for types in (["inference", "signal"], None):
        got, together = _read_steps(store, walk(types))
        each = [alone[t] for t in types or alone]
        assert got == sum(n for n, _ in each)
        assert together <= 1.3 * sum(steps for _, steps in each) + 5, (types, together, each)
    store.close()
