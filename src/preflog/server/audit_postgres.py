"""The audit log in the PostgreSQL store's database (table ``audit_log``, made by the store's
migrations), reached through the store's connection pool."""

from __future__ import annotations

from typing import Any

from preflog.server.audit import COLUMNS, INSERT_COLUMNS, AuditEntry, AuditLog
from preflog.store.postgres import PostgresStore


class PostgresAuditLog(AuditLog):
    """Entries beside the events of a :class:`PostgresStore` (thread-safe through its pool)."""

    def __init__(self, store: PostgresStore) -> None:
        self.store = store

    def add(self, entry: AuditEntry) -> AuditEntry:
        with self.store.transaction("audit log") as conn:
            row = conn.execute(
                f"INSERT INTO audit_log ({INSERT_COLUMNS}) VALUES (%s, %s, %s, %s, %s, %s, %s) RETURNING id",
                entry.row(),
            ).fetchone()
        assert row is not None
        return AuditEntry.from_row((row[0], *entry.row()))

    def entries(
        self, project: str | None = None, *, after: int = 0, limit: int = 100, action: str | None = None
    ) -> list[AuditEntry]:
        where: list[str] = ["id > %s"]
        args: list[Any] = [after]
        if project is not None:
            where.append("project = %s")
            args.append(project)
        if action is not None:
            where.append("action = %s")
            args.append(action)
        sql = f"SELECT {COLUMNS} FROM audit_log WHERE {' AND '.join(where)} ORDER BY id LIMIT %s"
        with self.store.transaction("audit log") as conn:
            rows: list[Any] = conn.execute(sql, (*args, max(0, limit))).fetchall()
        return [AuditEntry.from_row(r) for r in rows]
