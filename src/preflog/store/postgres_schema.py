"""Versioned migrations of the PostgreSQL schema, applied in order under an advisory lock so that
several service workers starting at once apply each step exactly once."""

from __future__ import annotations

from typing import Any, Final

import psycopg

MIGRATE_LOCK: Final = 0x70666C6F67_01  # "pflog" 1: migrations
APPEND_LOCK: Final = 0x70666C6F67_02  # "pflog" 2: appends, so insert order is commit order

MIGRATIONS: Final[tuple[str, ...]] = (
    """
    CREATE TABLE events (
        position       BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
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
        erased         BOOLEAN NOT NULL DEFAULT false,
        content_hash   TEXT,
        UNIQUE (project, event_id)
    );
    CREATE INDEX events_request ON events (project, request_id);
    CREATE INDEX events_type ON events (project, type, position);
    CREATE INDEX events_project_position ON events (project, position);
    CREATE INDEX events_user ON events (project, user_id) WHERE user_id IS NOT NULL;
    CREATE TABLE erasures (
        project TEXT NOT NULL,
        kind    TEXT NOT NULL CHECK (kind IN ('request', 'user')),
        target  TEXT NOT NULL,
        PRIMARY KEY (project, kind, target)
    );
    """,
    # 2: API keys of the service (see preflog.server.keys), in the same database as the events.
    """
    CREATE TABLE api_keys (
        key_id      TEXT PRIMARY KEY,
        project     TEXT NOT NULL,
        scope       TEXT NOT NULL,
        name        TEXT,
        salt        TEXT NOT NULL,
        secret_hash TEXT NOT NULL,
        created_at  TEXT NOT NULL,
        revoked_at  TEXT
    );
    CREATE INDEX api_keys_project ON api_keys (project, created_at);
    """,
    # 3: the audit log of admin actions (key creation and revocation, erasure): preflog.server.audit.
    """
    CREATE TABLE audit_log (
        id      BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
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


def migrate(conn: psycopg.Connection[Any]) -> int:
    """Apply the missing steps inside the caller's transaction; return the version found."""
    conn.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATE_LOCK,))
    conn.execute(
        "CREATE TABLE IF NOT EXISTS preflog_migrations "
        "(version INTEGER PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())"
    )
    row = conn.execute("SELECT COALESCE(MAX(version), 0) FROM preflog_migrations").fetchone()
    found = int(row[0]) if row else 0
    if found > LATEST:
        from preflog.errors import StoreError

        raise StoreError(
            f"this database has preflog schema version {found}, newer than this preflog understands "
            f"({LATEST}); upgrade preflog"
        )
    for version in range(found + 1, LATEST + 1):
        conn.execute(MIGRATIONS[version - 1])  # a constant script, not user input
        conn.execute("INSERT INTO preflog_migrations (version) VALUES (%s)", (version,))
    return found
