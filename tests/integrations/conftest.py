"""Fixtures of the integration tests: a real SQLite store per test (the importers' fixture) and
Debian's Chromium driven by Playwright (the web UI tests' fixture)."""

from __future__ import annotations

from tests.importers.conftest import store
from tests.ui.conftest import browser

__all__ = ["browser", "store"]
