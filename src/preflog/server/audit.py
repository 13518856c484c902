"""The audit log of admin actions: who (an API key id, or ``cli:<os user>``), what, when, in which
project. Recorded actions (:data:`ACTIONS`):

* ``key.create`` / ``key.revoke``: target the key id; details the key's scope and name;
* ``erase.request`` / ``erase.user``: target the request id, or for a user ``sha256:<digest>``
  of the user id (the same digest the store keeps: the audit log holds no personal identifier);
  details the erasure's ``event_id``.

Entries live in table ``audit_log`` of the store's own database, created by the store's
migrations (SQLite version 2, PostgreSQL version 3; :mod:`preflog.store.tables`), and are read and
written by :class:`SQLAuditLog` on the store's own connections and transactions, like the API keys
(:class:`preflog.server.keys.SQLKeyStore`). :func:`open_audit_log` finds it for a store.

An action is recorded right after it succeeds; if the record cannot be written the caller gets
the store error (HTTP 503), so a missing entry is never silent.
"""

from __future__ import annotations

import getpass
import json
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Final, Literal, NamedTuple, cast, get_args

from preflog.errors import ConfigError
from preflog.events import now
from preflog.store.base import Store
from preflog.store.common import user_key
from preflog.store.sql import SQLStore

Action = Literal["key.create", "key.revoke", "erase.request", "erase.user"]
ACTIONS: Final[tuple[Action, ...]] = get_args(Action)
Via = Literal["api", "cli"]


@dataclass(frozen=True)
class AuditEntry:
    """One admin action. ``id`` increases in the order entries were written (0 before)."""

    at: str
    project: str
    actor: str
    via: Via
    action: Action
    target: str | None = None
    details: dict[str, Any] = field(default_factory=dict)
    id: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "at": self.at,
            "project": self.project,
            "actor": self.actor,
            "via": self.via,
            "action": self.action,
            "target": self.target,
            "details": self.details,
        }

    def row(self) -> tuple[Any, ...]:
        details = json.dumps(self.details, sort_keys=True, separators=(",", ":"))
        return (self.at, self.project, self.actor, self.via, self.action, self.target, details)

    @classmethod
    def from_row(cls, row: Sequence[Any]) -> AuditEntry:
        r = AuditRow._make(row)
        return cls(
            at=str(r.at),
            project=str(r.project),
            actor=str(r.actor),
            via=cast(Via, r.via),
            action=cast(Action, r.action),
            target=r.target,
            details=json.loads(r.details or "{}"),
            id=int(r.id),
        )


class AuditRow(NamedTuple):
    """A row of table ``audit_log``, in the order of :data:`COLUMNS` (the database hands out ``id``)."""

    id: int
    at: str
    project: str
    actor: str
    via: str
    action: str
    target: str | None
    details: str  # JSON


COLUMNS: Final = ", ".join(AuditRow._fields)
INSERT_COLUMNS: Final = ", ".join(AuditRow._fields[1:])


class AuditLog(ABC):
    """Where audit entries are kept: table ``audit_log`` in the same database as the events."""

    @abstractmethod
    def add(self, entry: AuditEntry) -> AuditEntry:
        """Write ``entry``; return it with its ``id``."""

    @abstractmethod
    def entries(
        self, project: str | None = None, *, after: int = 0, limit: int = 100, action: str | None = None
    ) -> list[AuditEntry]:
        """Entries with ``id > after`` (of ``project``, of ``action`` when given), oldest first."""

    def close(self) -> None:  # noqa: B027 - optional: a log on the store's connections holds nothing
        """Release what this audit log holds (the event store is closed separately)."""


class MemoryAuditLog(AuditLog):
    """Entries in a list: for tests and stores without a table of their own."""

    def __init__(self) -> None:
        self._rows: list[AuditEntry] = []

    def add(self, entry: AuditEntry) -> AuditEntry:
        stored = replace(entry, id=len(self._rows) + 1)
        self._rows.append(stored)
        return stored

    def entries(
        self, project: str | None = None, *, after: int = 0, limit: int = 100, action: str | None = None
    ) -> list[AuditEntry]:
        rows = [
            e
            for e in self._rows
            if e.id > after and project in (None, e.project) and action in (None, e.action)
        ]
        return rows[: max(0, limit)]


class SQLAuditLog(AuditLog):
    """Entries in table ``audit_log`` of an SQL store's database, on the store's own connections."""

    def __init__(self, store: SQLStore) -> None:
        self.store = store

    def add(self, entry: AuditEntry) -> AuditEntry:
        marks = ", ".join("?" * len(entry.row()))
        sql = f"INSERT INTO audit_log ({INSERT_COLUMNS}) VALUES ({marks}) RETURNING id"
        with self.store.transaction("audit log") as tx:
            (entry_id,) = tx.one(sql, entry.row())
        return replace(entry, id=int(entry_id))

    def entries(
        self, project: str | None = None, *, after: int = 0, limit: int = 100, action: str | None = None
    ) -> list[AuditEntry]:
        where: list[str] = ["id > ?"]
        args: list[Any] = [after]
        for column, value in (("project", project), ("action", action)):
            if value is not None:
                where.append(f"{column} = ?")
                args.append(value)
        sql = f"SELECT {COLUMNS} FROM audit_log WHERE {' AND '.join(where)} ORDER BY id LIMIT ?"
        with self.store.connection("audit log") as tx:
            rows = tx.all(sql, [*args, max(0, limit)])
        return [AuditEntry.from_row(r) for r in rows]


# ---------------------------------------------------------------------------------------------- recording


def cli_actor() -> str:
    """Who runs a CLI admin command: ``cli:<os user>``."""
    try:
        return "cli:" + getpass.getuser()
    except (KeyError, OSError):  # no user name for this uid (containers)
        return "cli:unknown"


def record(
    log: AuditLog,
    action: Action,
    *,
    project: str,
    actor: str,
    via: Via,
    target: str | None = None,
    details: dict[str, Any] | None = None,
) -> AuditEntry:
    """Write one entry stamped with the current time."""
    entry = AuditEntry(now(), project, actor, via, action, target, dict(details or {}))
    return log.add(entry)


def erasure_target(event: dict[str, Any]) -> tuple[Action, str]:
    """The action and target recorded for an erasure event (a user id only as its digest)."""
    user_id = event.get("user_id")
    if user_id is not None:
        return "erase.user", "sha256:" + user_key(str(user_id))
    return "erase.request", str(event.get("request_id"))


def record_erasure(log: AuditLog, event: dict[str, Any], *, project: str, actor: str, via: Via) -> None:
    action, target = erasure_target(event)
    details = {"event_id": event.get("event_id")}
    record(log, action, project=project, actor=actor, via=via, target=target, details=details)


# ----------------------------------------------------------------------------------------- where entries live


def open_audit_log(store: Store) -> AuditLog:
    """The :class:`AuditLog` in the same database as ``store`` (see the module doc)."""
    if isinstance(store, AuditLog):
        return store
    if isinstance(store, SQLStore):
        return SQLAuditLog(store)
    raise ConfigError(f"audit logs are not supported on a {type(store).__name__} store")
