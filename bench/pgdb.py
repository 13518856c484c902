"""A fresh PostgreSQL database for one benchmark run, dropped afterwards.

Benchmarks must not measure a table that earlier runs have grown (the test cluster's ``postgres``
database fills up with every run): each measurement gets ``CREATE DATABASE`` on the server of the
URL given, and ``DROP DATABASE ... WITH (FORCE)`` at the end, even when the run fails.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg


@contextmanager
def fresh_database(url: str, tag: str = "bench") -> Iterator[str]:
    """The URL of a new, empty database on the server of ``url``; dropped on exit."""
    name = f"preflog_{tag}_{os.getpid()}"
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    base, _, rest = url.rpartition("/")
    query = "?" + rest.split("?", 1)[1] if "?" in rest else ""
    try:
        yield f"{base}/{name}{query}"
    finally:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def is_postgres(url: str | None) -> bool:
    return url is not None and url.startswith(("postgresql://", "postgres://"))
