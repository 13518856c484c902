"""CLI tests run on real SQLite files; until the SQLite backend exists they skip (and fail in CI)."""

from __future__ import annotations

import importlib.util

import pytest

from tests.conftest import require


@pytest.fixture
def needs_store() -> None:
    require(
        importlib.util.find_spec("preflog.store.sqlite") is not None, "preflog.store.sqlite is not built yet"
    )
