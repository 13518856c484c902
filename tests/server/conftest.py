"""Server fixtures: a real SQLite file per test, keys in it, and the app behind a TestClient.

``TestClient`` drives the ASGI app in process (httpx underneath, no socket) for the many small
cases; ``test_live.py`` runs the real ``preflog serve`` on loopback.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from preflog.server.app import create_app
from preflog.server.keys import KeyStore, create_key, open_key_store
from preflog.server.settings import ServerSettings
from preflog.store import open_store
from preflog.store.base import Store

PROJECT = "p1"
OTHER = "p2"

KeyMaker = Callable[..., str]


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "events.db"


@pytest.fixture
def store(db_path: Path) -> Iterator[Store]:
    s = open_store(str(db_path))
    yield s
    s.close()


@pytest.fixture
def keys(store: Store) -> Iterator[KeyStore]:
    ks = open_key_store(store)
    yield ks
    if ks is not store:
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
