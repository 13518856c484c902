"""The store fixtures of the conformance suite (one run per backend: SQLite and PostgreSQL)."""

from tests.store.conftest import backend, project, store

__all__ = ["backend", "project", "store"]
