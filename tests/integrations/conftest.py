"""Fixtures of the integration tests: a real SQLite store per test (the importers' fixture).
The ``browser`` fixture (Debian's Chromium) is the root conftest's."""

from __future__ import annotations

from tests.importers.conftest import store

__all__ = ["store"]
