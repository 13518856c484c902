"""The audit log of admin actions: who (an API key id, or ``cli:<os user>``), what, when, in which
project. Recorded actions (:data:`ACTIONS`):

* ``key.create`` / ``key.revoke``: target the key id; details the key's scope and name;
* ``erase.request`` / ``erase.user``: target the request id, or for a user ``sha256:<digest>``
  of the user id (the same digest the store keeps: the audit log holds no personal identifier);
  details the erasure's ``event_id``.

Entries live in table ``audit_log`` of the store's own database, created by the store's
migrations (SQLite version 2, PostgreSQL version 3). A backend provides an :class:`AuditLog`,
found by :func:`open_audit_log` like :func:`preflog.server.keys.open_key_store` finds key stores:
a module ``preflog.server.audit_<backend>`` with a class ``<Backend>AuditLog(store)``.

An action is recorded right after it succeeds; if the record cannot be written the caller gets
the store error (HTTP 503), so a missing entry is never silent.
"""

from __future__ import annotations

import getpass
import json
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Final, Literal, cast, get_args

from preflog.events import now
from preflog.store.common import user_key

if TYPE_CHECKING:
    from preflog.store.base import Store

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
        entry_id, at, project, actor, via, action, target, details = row
        return cls(
            at=str(at),
            project=str(project),
            actor=str(actor),
            via=cast(Via, via),
            action=cast(Action, action),
            target=target,
            details=json.loads(details or "{}"),
            id=int(entry_id),
        )


COLUMNS: Final = "id, at, project, actor, via, action, target, details"
INSERT_COLUMNS: Final = "at, project, actor, via, action, target, details"


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

    def close(self) -> None:  # noqa: B027 - optional: backends on the store's pool hold nothing
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


# ---------------------------------------------------------------------------------------------- backends


def open_audit_log(store: Store) -> AuditLog:
    """The :class:`AuditLog` in the same database as ``store`` (see the module doc)."""
    if isinstance(store, AuditLog):
        return store
    from preflog.server.backends import backend_part

    return cast(AuditLog, backend_part(store, prefix="audit", suffix="AuditLog", what="audit logs"))
