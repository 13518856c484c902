"""API keys in the SQLite store's file: table ``api_keys``, created here if it does not exist.

The key store opens its own connection to the same file (WAL mode lets it read while the event
store writes), so the event store's schema and migrations stay its own business. sqlite3 errors
are translated: a locked or unreachable file → ``StoreUnavailable``, a full disk → ``StoreFull``.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Final

from preflog.errors import StoreError, StoreFull, StoreUnavailable
from preflog.server.keys import KEY_COLUMNS, KeyStore, StoredKey, key_from_row

SCHEMA: Final = """
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


def _translate(exc: sqlite3.Error) -> StoreError:
    text = str(exc)
    if isinstance(exc, sqlite3.OperationalError) and ("full" in text):
        return StoreFull(f"api_keys: {text}")
    if isinstance(exc, sqlite3.OperationalError):
        return StoreUnavailable(f"api_keys: {text}")
    return StoreError(f"api_keys: {text}")


def _store_path(store: Any) -> Path:
    """The file of an ``SQLiteStore`` (whatever the attribute is called)."""
    for name in ("path", "db_path", "_path", "filename"):
        value = getattr(store, name, None)
        if isinstance(value, str | Path):
            return Path(value)
    raise StoreError(f"cannot find the SQLite file of {type(store).__name__}: no .path attribute")


class SQLiteKeyStore(KeyStore):
    """Keys in ``api_keys`` of the SQLite file at ``path`` (or of an ``SQLiteStore``'s file)."""

    def __init__(self, store_or_path: Any, *, timeout_s: float = 5.0) -> None:
        path = store_or_path if isinstance(store_or_path, str | Path) else _store_path(store_or_path)
        self.path = Path(path)
        self._lock = threading.Lock()
        try:
            self._conn = sqlite3.connect(
                self.path, timeout=timeout_s, check_same_thread=False, isolation_level=None
            )
            self._conn.executescript(SCHEMA)
        except sqlite3.Error as exc:
            raise _translate(exc) from exc

    @contextmanager
    def _cursor(self) -> Iterator[sqlite3.Cursor]:
        with self._lock:
            try:
                yield self._conn.cursor()
            except sqlite3.IntegrityError as exc:
                raise StoreError(f"api_keys: {exc}") from exc
            except sqlite3.ProgrammingError as exc:
                raise StoreError(f"api_keys: {exc}") from exc
            except sqlite3.Error as exc:
                raise _translate(exc) from exc

    def add_key(self, key: StoredKey) -> None:
        with self._cursor() as cur:
            cur.execute(
                f"INSERT INTO api_keys ({KEY_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, NULL)",
                (
                    key.key_id,
                    key.project,
                    key.scope,
                    key.name,
                    key.salt,
                    key.secret_hash,
                    key.created_at,
                ),
            )

    def get_key(self, key_id: str) -> StoredKey | None:
        with self._cursor() as cur:
            row = cur.execute(f"SELECT {KEY_COLUMNS} FROM api_keys WHERE key_id = ?", (key_id,)).fetchone()
        return None if row is None else key_from_row(row)

    def list_keys(self, project: str | None = None) -> list[StoredKey]:
        query = f"SELECT {KEY_COLUMNS} FROM api_keys"
        args: tuple[str, ...] = ()
        if project is not None:
            query, args = query + " WHERE project = ?", (project,)
        with self._cursor() as cur:
            rows = cur.execute(query + " ORDER BY created_at, key_id", args).fetchall()
        return [key_from_row(r) for r in rows]

    def set_revoked(self, key_id: str, revoked_at: str) -> bool:
        with self._cursor() as cur:
            cur.execute(
                "UPDATE api_keys SET revoked_at = ? WHERE key_id = ? AND revoked_at IS NULL",
                (revoked_at, key_id),
            )
            return cur.rowcount > 0

    def close(self) -> None:
        with self._lock:
            self._conn.close()
