"""A PostgreSQL store of its own for each test: a fresh schema in the test server's database,
reached through ``search_path`` in the URL, so every test starts from an empty store (as a fresh
SQLite file does) and ``projects()`` or ``last_position()`` see nothing of other tests or runs.

A schema plus the migrations takes a few milliseconds, a database per test far longer. The
schemas made by a test process are dropped when it exits.
"""

from __future__ import annotations

import atexit
import contextlib
from urllib.parse import quote

import psycopg
from psycopg import sql

from preflog.events import new_id
from preflog.store.postgres import PostgresStore

_created: list[tuple[str, str]] = []  # (server URL, schema)


def schema_url(url: str, schema: str) -> str:
    """``url`` with ``search_path`` set to ``schema`` (a libpq ``options`` parameter)."""
    separator = "&" if "?" in url else "?"
    return f"{url}{separator}options={quote(f'-csearch_path={schema}', safe='')}"


def fresh_schema_url(url: str) -> str:
    """Create an empty schema on the server at ``url``; return a URL that works inside it."""
    schema = "t_" + new_id().replace("-", "")[:16]
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
    _created.append((url, schema))
    return schema_url(url, schema)


def fresh_store(url: str) -> PostgresStore:
    """An empty, migrated store in a schema of its own."""
    return PostgresStore(fresh_schema_url(url))


@atexit.register
def _drop_schemas() -> None:
    for url, schema in _created:
        with contextlib.suppress(psycopg.Error), psycopg.connect(url, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))
