"""PostgreSQL-only behaviour: commit order for tailing readers, recovery after a server restart,
migrations, errors, and API keys in the same database. Needs PREFLOG_TEST_POSTGRES_URL."""

from __future__ import annotations

import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from preflog.errors import StoreError, StoreUnavailable
from preflog.events import new_id
from preflog.store import open_store
from tests import factories as f
from tests.conftest import require
from tests.store.conftest import POSTGRES_URL

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def pg_url() -> str:
    require(
        POSTGRES_URL is not None, "PREFLOG_TEST_POSTGRES_URL is not set (scripts/pg-test-cluster.sh start)"
    )
    assert POSTGRES_URL is not None
    return POSTGRES_URL


@pytest.fixture
def fresh_db(pg_url: str) -> Iterator[str]:
    """A database of its own, for tests that change the schema."""
    name = "t_" + new_id().replace("-", "")[:16]
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    yield pg_url.rsplit("/", 1)[0] + "/" + name
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def test_tailing_reader_never_skips_an_event_under_concurrent_appends(pg_url: str) -> None:
    project = "tail-" + new_id()[:8]
    store = open_store(pg_url)
    writers, batches, size = 4, 15, 20
    done = threading.Event()
    seen: list[int] = []

    def write() -> None:
        for _ in range(batches):
            store.append([f.inference() for _ in range(size)], project=project)

    def tail() -> None:
        after = 0
        while True:
            finished = done.is_set()
            page = store.read(project=project, after=after, limit=50)
            seen.extend(e.position for e in page)
            if page:
                after = page[-1].position
            elif finished:
                return

    reader = threading.Thread(target=tail)
    reader.start()
    threads = [threading.Thread(target=write) for _ in range(writers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    done.set()
    reader.join(timeout=60)
    everything = [e.position for e in store.read(project=project, limit=10_000)]
    assert len(everything) == writers * batches * size
    assert seen == everything  # the tail saw every row, in order, none skipped
    store.close()


def test_store_recovers_after_the_server_restarts(pg_url: str) -> None:
    store = open_store(pg_url)
    project = "restart-" + new_id()[:8]
    assert store.append([f.inference()], project=project)[0].status == "stored"
    subprocess.run([str(ROOT / "scripts" / "pg-test-cluster.sh"), "restart"], check=True, capture_output=True)
    results = None
    for _ in range(20):  # the first use of a dead pooled connection may fail once; then it heals
        try:
            results = store.append([f.inference()], project=project)
            break
        except StoreUnavailable:
            continue
    assert results is not None and results[0].status == "stored"
    assert len(store.read(project=project)) == 2
    store.close()


def test_unreachable_server_is_store_unavailable() -> None:
    with pytest.raises(StoreUnavailable):
        open_store("postgresql://postgres@127.0.0.1:9/postgres?connect_timeout=1")


def test_newer_schema_is_refused(fresh_db: str) -> None:
    open_store(fresh_db).close()
    with psycopg.connect(fresh_db, autocommit=True) as conn:
        conn.execute("INSERT INTO preflog_migrations (version) VALUES (999)")
    with pytest.raises(StoreError, match="newer than this preflog"):
        open_store(fresh_db)


def test_two_stores_migrating_one_new_database_at_once(fresh_db: str) -> None:
    errors: list[BaseException] = []

    def opener() -> None:
        try:
            open_store(fresh_db).close()
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=opener) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with psycopg.connect(fresh_db) as conn:
        versions = [r[0] for r in conn.execute("SELECT version FROM preflog_migrations ORDER BY version")]
    assert versions == sorted(set(versions)) and versions[0] == 1


def test_api_keys_live_in_the_same_database(pg_url: str) -> None:
    from preflog.server.keys import create_key, open_key_store, revoke_key, verify_key

    store = open_store(pg_url)
    keys = open_key_store(store)
    project = "keys-" + new_id()[:8]
    token, key = create_key(keys, project=project, scope="ingest", name="ci")
    assert verify_key(keys, token) is not None
    assert [k.key_id for k in keys.list_keys(project)] == [key.key_id]
    revoke_key(keys, key.key_id, project=project)
    assert verify_key(keys, token) is None
    store.close()
