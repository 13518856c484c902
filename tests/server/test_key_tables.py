"""API keys and the audit log on the store's own connections, on both stores: their tables come
from the store's migrations, their errors are the store's translation (a bug is a StoreError, an
outage StoreUnavailable), and older SQLite files keep the keys their key store created itself."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from tests.server.conftest import PROJECT
from tests.server.flaky import FlakyStore

from preflog.errors import ConfigError, StoreError, StoreUnavailable
from preflog.server.audit import SQLAuditLog, open_audit_log, record
from preflog.server.keys import SQLKeyStore, create_key, open_key_store, verify_key
from preflog.store.base import Store
from preflog.store.sql import SQLStore
from preflog.store.sqlite import SQLiteStore
from preflog.store.sqlite_schema import LATEST, MIGRATIONS


def test_keys_and_audit_live_in_the_stores_tables(store: Store) -> None:
    keys, audit = open_key_store(store), open_audit_log(store)
    assert isinstance(keys, SQLKeyStore) and isinstance(audit, SQLAuditLog)
    token, key = create_key(keys, project=PROJECT, scope="read", name="ci")
    first = record(audit, "key.create", project=PROJECT, actor="cli:test", via="cli", target=key.key_id)
    second = record(audit, "key.revoke", project=PROJECT, actor="cli:test", via="cli", target=key.key_id)
    assert 0 < first.id < second.id  # ids handed out by the database, in order
    assert isinstance(store, SQLStore)
    with store.connection("test") as tx:
        (stored_keys,) = tx.one("SELECT COUNT(*) FROM api_keys")
        actions = [r[0] for r in tx.all("SELECT action FROM audit_log ORDER BY id")]
    assert stored_keys == 1 and actions == ["key.create", "key.revoke"]
    assert verify_key(keys, token) == key
    assert [e.id for e in audit.entries(PROJECT, after=first.id)] == [second.id]


def test_a_missing_table_is_a_store_error_not_an_outage(store: Store) -> None:
    """The old SQLite key store called every OperationalError "unavailable": a bug (here, a table
    that is not there) would have been answered 503 and retried forever."""
    assert isinstance(store, SQLStore)
    keys, audit = open_key_store(store), open_audit_log(store)
    with store.transaction("test") as tx:
        tx.execute("DROP TABLE api_keys")
        tx.execute("DROP TABLE audit_log")
    with pytest.raises(StoreError) as caught:
        keys.get_key("0123456789ab")
    assert type(caught.value) is StoreError and "api_keys" in str(caught.value)
    with pytest.raises(StoreError) as caught:
        record(audit, "key.create", project=PROJECT, actor="a", via="api")
    assert type(caught.value) is StoreError and "audit log" in str(caught.value)


def test_a_clashing_key_id_is_a_store_error(store: Store) -> None:
    keys = open_key_store(store)
    _, key = create_key(keys, project=PROJECT, scope="read")
    stored = keys.get_key(key.key_id)
    assert stored is not None
    with pytest.raises(StoreError):
        keys.add_key(stored)


def test_a_locked_sqlite_file_is_unavailable_for_keys_too(tmp_path: Path) -> None:
    """Key writes take the store's writers' turn and busy timeout, like appends."""
    db = tmp_path / "busy.db"
    store = SQLiteStore(db, busy_timeout_s=0.2)
    keys = open_key_store(store)
    blocker = sqlite3.connect(db, isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")  # another process mid-write, past the timeout
    with pytest.raises(StoreUnavailable, match="locked"):
        create_key(keys, project=PROJECT, scope="read")
    blocker.execute("ROLLBACK")
    token, _ = create_key(keys, project=PROJECT, scope="read")
    assert verify_key(keys, token) is not None
    store.close()


def test_an_older_file_keeps_the_keys_its_key_store_made(tmp_path: Path) -> None:
    """Before keys were a migration, the SQLite key store created ``api_keys`` itself, beside a
    file at schema version 2: migration 3 must leave that table and its rows alone."""
    db = tmp_path / "v2.db"
    store = SQLiteStore(db)
    token, key = create_key(open_key_store(store), project=PROJECT, scope="admin")
    store.close()
    conn = sqlite3.connect(db, isolation_level=None)
    conn.execute("PRAGMA user_version = 2")  # as the file was, with the table the key store made
    conn.close()
    reopened = SQLiteStore(db)
    assert sqlite3.connect(db).execute("PRAGMA user_version").fetchone()[0] == LATEST == len(MIGRATIONS)
    assert verify_key(open_key_store(reopened), token) == key
    reopened.close()


def test_a_store_that_is_not_sql_has_no_key_table() -> None:
    class Elsewhere(FlakyStore):
        pass

    with pytest.raises(ConfigError, match="API keys are not supported"):
        open_key_store(Elsewhere(None))  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="audit logs are not supported"):
        open_audit_log(Elsewhere(None))  # type: ignore[arg-type]
