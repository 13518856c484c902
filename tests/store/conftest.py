"""The store fixture: every test in the conformance suite runs once per backend.

A backend is a factory taking a fresh temporary directory and returning ``(store, project)``: an
empty store, or a project no other test uses. PostgreSQL runs when ``PREFLOG_TEST_POSTGRES_URL``
points at a server (``scripts/pg-test-cluster.sh start`` prints one); without it the postgres
cases skip locally and fail in CI.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from preflog.events import new_id
from preflog.store import Store, open_store
from tests.conftest import require

POSTGRES_URL = os.environ.get("PREFLOG_TEST_POSTGRES_URL")


def _sqlite(tmp: Path) -> Store:
    return open_store(str(tmp / "events.db"))


def _postgres(tmp: Path) -> Store:
    require(
        POSTGRES_URL is not None, "PREFLOG_TEST_POSTGRES_URL is not set (scripts/pg-test-cluster.sh start)"
    )
    assert POSTGRES_URL is not None
    from tests.store.pg_isolation import fresh_schema_url  # psycopg only when postgres runs

    return open_store(fresh_schema_url(POSTGRES_URL))  # an empty schema of its own per test


BACKENDS: dict[str, Callable[[Path], Store]] = {"sqlite": _sqlite, "postgres": _postgres}


@pytest.fixture(params=["postgres", "sqlite"], ids=["postgres", "sqlite"])
def backend(request: pytest.FixtureRequest) -> str:
    if request.param == "postgres":
        request.applymarker(pytest.mark.postgres)
    return str(request.param)


@pytest.fixture
def store(backend: str, tmp_path: Path) -> Iterator[Store]:
    opened = BACKENDS[backend](tmp_path)
    yield opened
    opened.close()


@pytest.fixture
def project() -> str:
    """A project of its own for each test, so tests sharing one PostgreSQL database never meet."""
    return "p-" + new_id()[:12]
