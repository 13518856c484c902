"""Compile tests run on real stores: SQLite always, PostgreSQL too where a test asks for every
backend (``any_store``; it skips locally without ``PREFLOG_TEST_POSTGRES_URL`` and fails in CI)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from preflog.events import new_id
from preflog.store import Store, open_store
from tests.store.conftest import BACKENDS


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    opened = open_store(str(tmp_path / "events.db"))
    yield opened
    opened.close()


@pytest.fixture(params=sorted(BACKENDS))
def any_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    opened = BACKENDS[str(request.param)](tmp_path / str(request.param))
    yield opened
    opened.close()


@pytest.fixture
def project() -> str:
    return "c-" + new_id()[:12]
