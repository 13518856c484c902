"""Server fixtures: a real store per test (SQLite and PostgreSQL), keys in it, and the app behind a
TestClient.

The store, its keys and its audit log come from the store conformance suite's backends
(tests/store/conftest.py): every test that takes ``store`` (or ``client``, ``keys``...) runs once
per backend, the PostgreSQL run in a fresh schema of its own. A module whose checks are pure HTTP
(the store behind them does not change what they assert) runs on SQLite only by overriding
``backend``:

    @pytest.fixture
    def backend() -> str:
        return "sqlite"

``TestClient`` drives the ASGI app in process (httpx underneath, no socket) for the many small
cases; ``test_live.py`` runs the real ``preflog serve`` on loopback.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from starlette.testclient import TestClient
from tests.conftest import require
from tests.store.conftest import BACKENDS, POSTGRES_URL, backend

from preflog.server.app import create_app
from preflog.server.keys import KeyStore, create_key, open_key_store
from preflog.server.settings import ServerSettings
from preflog.store.base import Store

PROJECT = "p1"
OTHER = "p2"

KeyMaker = Callable[..., str]

__all__ = ["backend"]  # the parametrized fixture, shared with the store suite


@pytest.fixture
def store(backend: str, tmp_path: Path) -> Iterator[Store]:
    s = BACKENDS[backend](tmp_path)
    yield s
    s.close()


@pytest.fixture
def db_url(backend: str, tmp_path: Path) -> str:
    """A store URL for the CLI and ``preflog serve`` in a subprocess: a fresh SQLite file, or a
    fresh PostgreSQL schema (``options=-csearch_path=...`` in the URL)."""
    if backend == "sqlite":
        return str(tmp_path / "events.db")
    require(
        POSTGRES_URL is not None, "PREFLOG_TEST_POSTGRES_URL is not set (scripts/pg-test-cluster.sh start)"
    )
    assert POSTGRES_URL is not None
    from tests.store.pg_isolation import fresh_schema_url

    return fresh_schema_url(POSTGRES_URL)


@pytest.fixture
def keys(store: Store) -> Iterator[KeyStore]:
    ks = open_key_store(store)
    yield ks
    ks.close()


@pytest.fixture
def make_key(keys: KeyStore) -> KeyMaker:
    def make(scope: str = "admin", project: str = PROJECT) -> str:
        token, _ = create_key(keys, project=project, scope=scope, name=f"test {scope}")
        return token

    return make


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def make_client(store: Store, keys: KeyStore, settings: ServerSettings | None = None) -> TestClient:
    app = create_app(store, settings=settings, key_store=keys)
    return TestClient(app, raise_server_exceptions=False)


@pytest.fixture
def client(store: Store, keys: KeyStore) -> Iterator[TestClient]:
    with make_client(store, keys) as c:
        yield c


@pytest.fixture
def admin(make_key: KeyMaker) -> dict[str, str]:
    return auth(make_key("admin"))
