"""The tables of every SQL store, written once. Each backend's migrations (:mod:`.sqlite_schema`,
:mod:`.postgres_schema`) fill in the two column types that differ between databases: an
increasing integer key, and a flag (0/1 in SQLite, a boolean in PostgreSQL).

Migrations are history: a step, once released, must keep creating exactly what it created. The
templates below produce the statements each backend's steps ran before they were shared (only
PostgreSQL's ``api_keys`` step gained ``IF NOT EXISTS``, which changes nothing where it runs).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from preflog.errors import StoreError


@dataclass(frozen=True)
class ColumnTypes:
    """A database's spelling of the column types that differ."""

    serial: str  # an increasing integer primary key handed out on insert
    flag: str  # a false-by-default flag


def events_and_erasures(types: ColumnTypes, *, extra_indexes: tuple[str, ...] = ()) -> str:
    """Step 1 of every backend: the event log, and the erasures that later events must honour."""
    indexes = "".join(f"    {index};\n" for index in extra_indexes)
    return f"""
    CREATE TABLE events (
        position       {types.serial},
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
        erased         {types.flag},
        content_hash   TEXT,
        UNIQUE (project, event_id)
    );
    CREATE INDEX events_request ON events (project, request_id);
    CREATE INDEX events_type ON events (project, type, position);
{indexes}    CREATE INDEX events_user ON events (project, user_id) WHERE user_id IS NOT NULL;
    CREATE TABLE erasures (
        project TEXT NOT NULL,
        kind    TEXT NOT NULL CHECK (kind IN ('request', 'user')),
        target  TEXT NOT NULL,
        PRIMARY KEY (project, kind, target)
    );
    """


def audit_log(types: ColumnTypes) -> str:
    """The audit log of admin actions (key creation and revocation, erasure): preflog.server.audit."""
    return f"""
    CREATE TABLE audit_log (
        id      {types.serial},
        at      TEXT NOT NULL,
        project TEXT NOT NULL,
        actor   TEXT NOT NULL,
        via     TEXT NOT NULL,
        action  TEXT NOT NULL,
        target  TEXT,
        details TEXT NOT NULL DEFAULT '{{}}'
    );
    CREATE INDEX audit_log_project ON audit_log (project, id);
    """


# The service's API keys (preflog.server.keys), beside the events. ``IF NOT EXISTS``: before it was
# a migration, the SQLite key store created this very table itself, so older files may have it.
API_KEYS: Final = """
    CREATE TABLE IF NOT EXISTS api_keys (
        key_id      TEXT PRIMARY KEY,
        project     TEXT NOT NULL,
        scope       TEXT NOT NULL,
        name        TEXT,
        salt        TEXT NOT NULL,
        secret_hash TEXT NOT NULL,
        created_at  TEXT NOT NULL,
        revoked_at  TEXT
    );
    CREATE INDEX IF NOT EXISTS api_keys_project ON api_keys (project, created_at);
    """


# The web origins allowed to send end-user feedback, per project (preflog.server.feedback_origins);
# the index serves the preflight, which asks about an origin for any project. ``IF NOT EXISTS``: a
# file whose version was set back (as a test of migration 3 does) runs this step again harmlessly.
FEEDBACK_ORIGINS: Final = """
    CREATE TABLE IF NOT EXISTS feedback_origins (
        project    TEXT NOT NULL,
        origin     TEXT NOT NULL,
        created_at TEXT NOT NULL,
        PRIMARY KEY (project, origin)
    );
    CREATE INDEX IF NOT EXISTS feedback_origins_origin ON feedback_origins (origin);
    """


def steps_to_apply(found: int, latest: int, *, what: str) -> range:
    """The migration versions to apply to a schema at version ``found``; a schema newer than this
    code (``what`` says which: "this SQLite file") is refused rather than guessed at."""
    if found > latest:
        raise StoreError(
            f"{what} has schema version {found}, newer than this preflog understands ({latest}); "
            "upgrade preflog"
        )
    return range(found + 1, latest + 1)


__all__ = [
    "API_KEYS",
    "FEEDBACK_ORIGINS",
    "ColumnTypes",
    "audit_log",
    "events_and_erasures",
    "steps_to_apply",
]
