"""Versioned migrations of the SQLite file. ``PRAGMA user_version`` holds the version applied;
each step runs once, in order, inside one ``BEGIN IMMEDIATE`` transaction so two processes
opening a new file at once cannot both apply it. A file newer than this code is refused."""

from __future__ import annotations

import sqlite3
from contextlib import suppress
from typing import Final

from preflog.errors import StoreError

MIGRATIONS: Final[tuple[str, ...]] = (
    # 1: the event log, and the erasures that later events must honour.
    """
    CREATE TABLE events (
        position       INTEGER PRIMARY KEY AUTOINCREMENT,
        project        TEXT NOT NULL,
        event_id       TEXT NOT NULL,
        type           TEXT NOT NULL,
        request_id     TEXT,
        occurred_at    TEXT NOT NULL,
        received_at    TEXT NOT NULL,
        schema_version INTEGER NOT NULL,
        user_id        TEXT,
        source_kind    TEXT,
        body           TEXT NOT NULL,
        erased         INTEGER NOT NULL DEFAULT 0,
        content_hash   TEXT,
        UNIQUE (project, event_id)
    );
    CREATE INDEX events_request ON events (project, request_id);
    CREATE INDEX events_type ON events (project, type, position);
    CREATE INDEX events_user ON events (project, user_id) WHERE user_id IS NOT NULL;
    CREATE TABLE erasures (
        project TEXT NOT NULL,
        kind    TEXT NOT NULL CHECK (kind IN ('request', 'user')),
        target  TEXT NOT NULL,
        PRIMARY KEY (project, kind, target)
    );
    """,
    # 2: the audit log of admin actions (key creation and revocation, erasure): preflog.server.audit.
    """
    CREATE TABLE audit_log (
        id      INTEGER PRIMARY KEY AUTOINCREMENT,
        at      TEXT NOT NULL,
        project TEXT NOT NULL,
        actor   TEXT NOT NULL,
        via     TEXT NOT NULL,
        action  TEXT NOT NULL,
        target  TEXT,
        details TEXT NOT NULL DEFAULT '{}'
    );
    CREATE INDEX audit_log_project ON audit_log (project, id);
    """,
)
LATEST: Final = len(MIGRATIONS)


def migrate(conn: sqlite3.Connection) -> int:
    """Bring the file to :data:`LATEST`; return the version found before."""
    (found,) = conn.execute("PRAGMA user_version").fetchone()
    if found > LATEST:
        raise StoreError(
            f"this SQLite file has schema version {found}, newer than this preflog understands ({LATEST}); "
            "upgrade preflog"
        )
    if found == LATEST:
        return int(found)
    conn.execute("BEGIN IMMEDIATE")
    try:
        (current,) = conn.execute("PRAGMA user_version").fetchone()  # another process may have won
        for version in range(current + 1, LATEST + 1):
            for statement in _statements(MIGRATIONS[version - 1]):
                conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {version}")
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:  # SQLite may have rolled back already (e.g. a full disk)
            with suppress(sqlite3.Error):
                conn.execute("ROLLBACK")
        raise
    return int(found)


def _statements(script: str) -> list[str]:
    return [s.strip() for s in script.split(";") if s.strip()]
