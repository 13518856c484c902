"""SQLite-only behaviour: several processes on one file, migrations, durability settings."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from preflog.errors import StoreError
from preflog.store import open_store
from preflog.store.sqlite import SQLiteStore
from preflog.store.sqlite_schema import LATEST

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
    monkeypatch.setenv("PREFLOG_SQLITE_SYNCHRONOUS", "full")
    store = SQLiteStore(tmp_path / "y.db")
    assert store.synchronous == "FULL"


def test_url_forms(tmp_path: Path) -> None:
    from preflog.errors import ConfigError

    assert isinstance(open_store(f"sqlite:///{tmp_path}/a.db"), SQLiteStore)
    assert isinstance(open_store(str(tmp_path / "b.db")), SQLiteStore)
    with pytest.raises(ConfigError, match="unsupported URL scheme"):
        open_store("mysql://x")
