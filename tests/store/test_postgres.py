"""PostgreSQL-only behaviour: commit order for tailing readers, recovery after a server restart,
migrations, errors, and API keys in the same database. Needs PREFLOG_TEST_POSTGRES_URL."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import psycopg
import pytest
from psycopg import errors as pg_errors
from psycopg_pool import PoolTimeout

from preflog.errors import StoreError, StoreFull, StoreUnavailable
from preflog.events import new_id
from preflog.store import open_store
from preflog.store.postgres import PostgresStore, translate_error
from tests import factories as f
from tests.conftest import require
from tests.pg_cluster import own_cluster
from tests.store.conftest import POSTGRES_URL
from tests.store.pg_isolation import fresh_store


@pytest.fixture
def pg_url() -> str:
    require(
        POSTGRES_URL is not None, "PREFLOG_TEST_POSTGRES_URL is not set (scripts/pg-test-cluster.sh start)"
    )
    assert POSTGRES_URL is not None
    return POSTGRES_URL


@pytest.fixture
def pg_store(pg_url: str) -> Iterator[PostgresStore]:
    """An empty store in a schema of its own."""
    store = fresh_store(pg_url)
    yield store
    store.close()


@pytest.fixture
def fresh_db(pg_url: str) -> Iterator[str]:
    """A database of its own, for tests that change the schema."""
    name = "t_" + new_id().replace("-", "")[:16]
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    yield pg_url.rsplit("/", 1)[0] + "/" + name
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def test_tailing_reader_never_skips_an_event_under_concurrent_appends(pg_store: PostgresStore) -> None:
    """Fails without the append lock: a writer's later position commits before an earlier one
    and the tail moves past the earlier one for good (20 to 300 of the 1,200 rows went missing
    in every run we tried)."""
    project, store = "tail", pg_store
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


def test_a_batch_mixing_stored_ids_and_new_ones(pg_store: PostgresStore) -> None:
    """An id already stored stops the fast path's COPY: the batch is answered all the same."""
    project, store = "mixed", pg_store
    old, other = f.inference(), f.inference()
    first = store.append([old, other], project=project)
    new1, new2, bad = f.inference(), f.inference(), f.inference(outputs=("fine", "bad\x00"))
    batch = [new1, dict(old), bad, dict(other, prompt="changed"), new2, dict(new1)]
    results = store.append(batch, project=project)
    expected = ["stored", "duplicate", "rejected", "conflict", "stored", "duplicate"]
    assert [r.status for r in results] == expected
    assert results[1].position == first[0].position and results[3].position == first[1].position
    assert results[5].position == results[0].position
    ids = [e.event_id for e in store.read(project=project)]
    assert ids == [old["event_id"], other["event_id"], new1["event_id"], new2["event_id"]]
    assert store.append([dict(old), dict(other)], project=project)[0].status == "duplicate"


def test_store_recovers_after_the_server_restarts() -> None:
    with own_cluster() as cluster:  # restarted by this test: never the cluster the others use
        store = fresh_store(cluster.url)
        try:
            assert store.append([f.inference()], project="restart")[0].status == "stored"
            cluster.run("restart")
            # Every pooled connection died with the old server; the pool checks each one before
            # lending it, so the very first call after the restart already works.
            assert store.append([f.inference()], project="restart")[0].status == "stored"
            assert len(store.read(project="restart")) == 2
        finally:
            store.close()


def test_a_connection_killed_mid_transaction_is_unavailable_then_replaced(
    pg_url: str, pg_store: PostgresStore
) -> None:
    killed = pytest.raises(StoreUnavailable, match="terminating connection")
    with killed, pg_store.transaction("test") as conn:
        row = conn.execute("SELECT pg_backend_pid()").fetchone()
        assert row is not None
        with psycopg.connect(pg_url, autocommit=True) as admin:
            admin.execute("SELECT pg_terminate_backend(%s)", (row[0],))
        conn.execute("SELECT 1")
    assert pg_store.append([f.inference()], project="killed")[0].status == "stored"


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (pg_errors.DiskFull("could not extend file"), StoreFull),
        (pg_errors.AdminShutdown("terminating connection"), StoreUnavailable),
        (pg_errors.CannotConnectNow("the database system is starting up"), StoreUnavailable),
        (PoolTimeout("couldn't get a connection after 3.00 sec"), StoreUnavailable),
        (psycopg.OperationalError("connection refused"), StoreUnavailable),
        (pg_errors.UniqueViolation("duplicate key"), StoreError),
        (pg_errors.UndefinedTable("no events"), StoreError),
    ],
)
def test_driver_errors_become_preflog_errors(error: Exception, expected: type[StoreError]) -> None:
    translated = translate_error(error, "append")
    assert type(translated) is expected and "postgres: append" in str(translated)


def test_unreachable_server_is_store_unavailable() -> None:
    with pytest.raises(StoreUnavailable, match="Connection refused"):  # the reason, not a pool timeout
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


def test_api_keys_live_in_the_same_database(pg_store: PostgresStore) -> None:
    """In a schema of its own: the shared database's own schema may have been migrated by newer
    code (another checkout), which this one would rightly refuse."""
    from preflog.server.keys import create_key, open_key_store, revoke_key, verify_key

    store = pg_store
    keys = open_key_store(store)
    project = "keys-" + new_id()[:8]
    token, key = create_key(keys, project=project, scope="ingest", name="ci")
    assert verify_key(keys, token) is not None
    assert [k.key_id for k in keys.list_keys(project)] == [key.key_id]
    revoke_key(keys, key.key_id, project=project)
    assert verify_key(keys, token) is None
    with store.connection("test") as tx:
        assert tx.one("SELECT COUNT(*) FROM api_keys")[0] == 1  # the store's own table
