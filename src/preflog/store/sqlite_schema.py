"""Versioned migrations of the SQLite file. ``PRAGMA user_version`` holds the version applied;
each step runs once, in order, inside one ``BEGIN IMMEDIATE`` transaction so two processes
opening a new file at once cannot both apply it. A file newer than this code is refused."""

from __future__ import annotations

import sqlite3
from contextlib import suppress
from typing import Final

from preflog.store.common import PERSON_SOURCES
from preflog.store.tables import (
    API_KEYS,
    FEEDBACK_ORIGINS,
    ColumnTypes,
    audit_log,
    events_and_erasures,
    steps_to_apply,
)

TYPES: Final = ColumnTypes(serial="INTEGER PRIMARY KEY AUTOINCREMENT", flag="INTEGER NOT NULL DEFAULT 0")

_PEOPLE: Final = "(" + ", ".join(f"'{kind}'" for kind in PERSON_SOURCES) + ")"  # SQL list

MIGRATIONS: Final[tuple[str, ...]] = (
    events_and_erasures(TYPES),  # 1: the event log and the erasures
    audit_log(TYPES),  # 2: the audit log of admin actions
    API_KEYS,  # 3: the service's API keys (the key store used to create this table itself)
    # 4: erasure reaches judgments by source.id (store.common.subject_id): rows stored before
    # carry it in the user_id column too, and blanked ones lose the id of the person who judged.
    f"""
    UPDATE events SET user_id = json_extract(body, '$.source.id')
     WHERE type IN ('preference', 'retraction') AND user_id IS NULL AND erased = 0
       AND json_extract(body, '$.source.id') IS NOT NULL;
    UPDATE events SET body = json_remove(body, '$.source.id')
     WHERE type IN ('preference', 'retraction') AND erased = 1
       AND json_extract(body, '$.source.kind') IN {_PEOPLE}
       AND json_extract(body, '$.source.id') IS NOT NULL
    """,
    FEEDBACK_ORIGINS,  # 5: the origins allowed to send browser feedback
)
LATEST: Final = len(MIGRATIONS)


def migrate(conn: sqlite3.Connection) -> int:
    """Bring the file to :data:`LATEST`; return the version found before."""
    (found,) = conn.execute("PRAGMA user_version").fetchone()
    if not steps_to_apply(found, LATEST, what="this SQLite file"):
        return int(found)
    conn.execute("BEGIN IMMEDIATE")
    try:
        (current,) = conn.execute("PRAGMA user_version").fetchone()  # another process may have won
        for version in steps_to_apply(current, LATEST, what="this SQLite file"):
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
