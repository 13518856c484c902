"""Fixtures of the integration tests: a real SQLite store per test (the importers' fixture).
The ``browser`` fixture (Debian's Chromium) is the root conftest's."""

from __future__ import annotations

from tests.importers.conftest import store
from tests.integrations.stub_llm import client, db, stub  # the LLM-client wrappers' tests

__all__ = ["client", "db", "store", "stub"]
