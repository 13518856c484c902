"""The audit log in the SQLite store's file (table ``audit_log``, made by the store's migrations).

Like the key store, it opens its own connection to the same file; WAL mode lets it write and
read beside the event store. sqlite3 errors become :mod:`preflog.errors` errors.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from preflog.server.audit import COLUMNS, INSERT_COLUMNS, AuditEntry, AuditLog
from preflog.store.common import translate_sqlite_error
from preflog.store.sqlite import SQLiteStore


class SQLiteAuditLog(AuditLog):
    """Entries in ``audit_log`` of an :class:`SQLiteStore`'s file."""

    def __init__(self, store: SQLiteStore, *, timeout_s: float = 30.0) -> None:
        self.path = store.path
        self._lock = threading.Lock()
        try:
            self._conn = sqlite3.connect(
                self.path, timeout=timeout_s, check_same_thread=False, isolation_level=None
            )
        except sqlite3.Error as exc:
            raise translate_sqlite_error(exc, f"audit log: cannot open {self.path}") from exc

    @contextmanager
    def _cursor(self) -> Iterator[sqlite3.Cursor]:
        with self._lock:
            try:
                yield self._conn.cursor()
            except sqlite3.Error as exc:
                raise translate_sqlite_error(exc, "audit log") from exc

    def add(self, entry: AuditEntry) -> AuditEntry:
        with self._cursor() as cur:
            cur.execute(f"INSERT INTO audit_log ({INSERT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)", entry.row())
            entry_id = cur.lastrowid
        return AuditEntry.from_row((entry_id, *entry.row()))

    def entries(
        self, project: str | None = None, *, after: int = 0, limit: int = 100, action: str | None = None
    ) -> list[AuditEntry]:
        where: list[str] = ["id > ?"]
        args: list[Any] = [after]
        if project is not None:
            where.append("project = ?")
            args.append(project)
        if action is not None:
            where.append("action = ?")
            args.append(action)
        sql = f"SELECT {COLUMNS} FROM audit_log WHERE {' AND '.join(where)} ORDER BY id LIMIT ?"
        with self._cursor() as cur:
            rows: list[Any] = cur.execute(sql, (*args, max(0, limit))).fetchall()
        return [AuditEntry.from_row(r) for r in rows]

    def close(self) -> None:
        with self._lock:
            self._conn.close()
