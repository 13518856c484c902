"""Versioned migrations of the PostgreSQL schema, applied in order under an advisory lock so that
several service workers starting at once apply each step exactly once."""

from __future__ import annotations

from typing import Any, Final

import psycopg

from preflog.store.common import PERSON_SOURCES
from preflog.store.tables import (
    API_KEYS,
    FEEDBACK_ORIGINS,
    ColumnTypes,
    audit_log,
    events_and_erasures,
    steps_to_apply,
)

MIGRATE_LOCK: Final = 0x70666C6F67_01  # "pflog" 1: migrations
APPEND_LOCK: Final = 0x70666C6F67_02  # "pflog" 2: appends, so insert order is commit order

TYPES: Final = ColumnTypes(
    serial="BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY", flag="BOOLEAN NOT NULL DEFAULT false"
)

_PEOPLE: Final = "(" + ", ".join(f"'{kind}'" for kind in PERSON_SOURCES) + ")"  # SQL list

MIGRATIONS: Final[tuple[str, ...]] = (
    # 1: the event log and the erasures; tailing reads by project go by (project, position).
    events_and_erasures(
        TYPES, extra_indexes=("CREATE INDEX events_project_position ON events (project, position)",)
    ),
    API_KEYS,  # 2: the service's API keys (preflog.server.keys)
    audit_log(TYPES),  # 3: the audit log of admin actions (preflog.server.audit)
    # 4: erasure reaches judgments by source.id (store.common.subject_id): rows stored before
    # carry it in the user_id column too, and blanked ones lose the id of the person who judged.
    f"""
    UPDATE events SET user_id = body::jsonb #>> '{{source,id}}'
     WHERE type IN ('preference', 'retraction') AND user_id IS NULL AND NOT erased
       AND body::jsonb #>> '{{source,id}}' IS NOT NULL;
    UPDATE events SET body = (body::jsonb #- '{{source,id}}')::text
     WHERE type IN ('preference', 'retraction') AND erased
       AND body::jsonb #>> '{{source,kind}}' IN {_PEOPLE}
       AND body::jsonb #>> '{{source,id}}' IS NOT NULL;
    """,
    FEEDBACK_ORIGINS,  # 5: the origins allowed to send browser feedback (preflog.server.feedback_origins)
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
    for version in steps_to_apply(found, LATEST, what="this database"):
        conn.execute(MIGRATIONS[version - 1])  # a constant script, not user input
        conn.execute("INSERT INTO preflog_migrations (version) VALUES (%s)", (version,))
    return found
