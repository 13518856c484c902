"""The embedded store: one SQLite file in WAL mode.

Writers serialize on ``BEGIN IMMEDIATE``, so the rowid order of ``events.position`` is commit
order and a reader tailing "after position N" never skips an event. Several processes may write
one file at once (SQLite's file lock plus a busy timeout). Each thread gets its own connection.
Everything but the connections, the transaction and the error translation is
:class:`preflog.store.sql.SQLStore`'s.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any, Final

from preflog.errors import ConfigError, StoreError, StoreFull, StoreUnavailable
from preflog.events import Limits
from preflog.redact import Redactor
from preflog.store.common import EventRow
from preflog.store.forksafe import inside_sqlite
from preflog.store.group import Append
from preflog.store.sql import INSERT_EVENT, SQLStore, Tx
from preflog.store.sqlite_checkpoint import INLINE_CHECKPOINT_PAGES, Checkpointer
from preflog.store.sqlite_lock import WriterLock
from preflog.store.sqlite_schema import migrate

SYNCHRONOUS: Final = ("OFF", "NORMAL", "FULL", "EXTRA")
# Page cache per connection (KiB; SQLite's default is 2 MiB). The unique (project, event_id) and
# (project, request_id) indexes take random ids, so each batch touches pages all over them: kept
# in memory between transactions, they are not read back for every append. Filled only as used.
_CACHE_KIB: Final = 32 * 1024
# SQLite result codes (primary, low byte) that say "try again later" or "the disk is full".
_SQLITE_FULL: Final = 13
_SQLITE_UNAVAILABLE: Final = {5, 6, 8, 10, 14}  # BUSY, LOCKED, READONLY, IOERR, CANTOPEN
# RETURNING (the audit log's ids) arrived in 3.35 (2021); Debian 12 has 3.40, Ubuntu 22.04 3.37.
_MIN_SQLITE: Final = (3, 35, 0)

_SQL_BY_MODEL: Final = (
    "SELECT json_extract(c.value, '$.model.name') AS model, COUNT(*) FROM events, "
    "json_each(events.body, '$.candidates') AS c WHERE events.project = ? "
    "AND events.type = 'inference' GROUP BY model ORDER BY model"
)


def translate_error(exc: sqlite3.Error, what: str) -> StoreError:
    """A sqlite3 error as a preflog error, by SQLite's result code: busy, locked, read-only, I/O
    and cannot-open are :class:`StoreUnavailable` (another try may work), a full disk
    :class:`StoreFull`; anything else (a missing table, a broken constraint: a bug, not an outage)
    :class:`StoreError`."""
    code = getattr(exc, "sqlite_errorcode", None)
    primary = code & 0xFF if isinstance(code, int) else None
    message = f"sqlite: {what}: {exc}"
    if primary == _SQLITE_FULL or "disk is full" in str(exc):
        return StoreFull(message)
    if primary in _SQLITE_UNAVAILABLE or "locked" in str(exc) or "unable to open" in str(exc):
        return StoreUnavailable(message)
    return StoreError(message)


class SQLiteStore(SQLStore):
    """Events in the SQLite file at ``path`` (created with its parent directory if missing).

    ``synchronous`` is ``NORMAL`` by default: in WAL mode a power loss may lose the last
    transactions but never corrupts the file; ``FULL`` makes every commit durable before
    ``append`` returns, at some cost in speed. (:func:`preflog.store.open_store` takes it from
    ``PREFLOG_SQLITE_SYNCHRONOUS``.)
    """

    BY_MODEL_SQL = _SQL_BY_MODEL
    # A whole range in position order reads the table itself: through the (project, type,
    # position) index SQLite sorted every remaining event of the project for each page (3.6 s a
    # page of 200,000 at 1M + 1M, against 0.3 s scanning the primary key).
    SCAN_FROM = "events NOT INDEXED"
    # Reads of several types go one type at a time, through the (project, type, position) index
    # in order: SQLite sorts them otherwise (SQLStore.iter_events: 5x; a page of every type,
    # SQLStore._page_end: 20x at 1M + 1M).
    PER_TYPE_READS = True

    def __init__(
        self,
        path: Path | str,
        *,
        limits: Limits | None = None,
        synchronous: str = "NORMAL",
        busy_timeout_s: float = 30.0,
        redactor: Redactor | None = None,
    ) -> None:
        if sqlite3.sqlite_version_info < _MIN_SQLITE:
            raise ConfigError(f"SQLite {sqlite3.sqlite_version} is too old: preflog needs 3.35 or newer")
        super().__init__(limits=limits, redactor=redactor)
        self.path = Path(path)
        self.synchronous = synchronous.upper()
        if self.synchronous not in SYNCHRONOUS:
            raise StoreError(f"synchronous: must be NORMAL or FULL (or OFF, EXTRA), got {synchronous!r}")
        self._busy_timeout_s = busy_timeout_s
        self._local = threading.local()
        # Every connection opened, with the process and thread that own it (see _connect, close).
        self._all: list[tuple[int, threading.Thread, sqlite3.Connection]] = []
        self._all_lock = threading.Lock()
        self._closed = False
        self._writers = WriterLock(self.path, timeout_s=busy_timeout_s)
        self._checkpointer = Checkpointer(self.path, timeout_s=busy_timeout_s)
        if self.path.parent and not self.path.parent.exists():
            self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._errors():
            migrate(self._conn())

    # ------------------------------------------------------------------------------------ connections

    def _conn(self) -> sqlite3.Connection:
        if self._closed:
            raise StoreError(f"store {self.path} is closed")
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None or getattr(self._local, "pid", None) != os.getpid():
            conn = self._connect()
            self._local.conn = conn
            self._local.pid = os.getpid()
        return conn

    def _connect(self) -> sqlite3.Connection:
        with inside_sqlite():  # a fork waits for it: see preflog.store.forksafe
            return self._open_connection()

    def _open_connection(self) -> sqlite3.Connection:
        try:
            conn = sqlite3.connect(
                self.path, timeout=self._busy_timeout_s, isolation_level=None, check_same_thread=False
            )
            _enable_wal(conn, self._busy_timeout_s)
            conn.execute(f"PRAGMA synchronous={self.synchronous}")
            conn.execute("PRAGMA foreign_keys=ON")
            conn.execute(f"PRAGMA cache_size=-{_CACHE_KIB}")
            # Checkpoints run on the checkpointer's thread; the inline one is only a backstop.
            conn.execute(f"PRAGMA wal_autocheckpoint={INLINE_CHECKPOINT_PAGES}")
        except sqlite3.Error as exc:
            raise translate_error(exc, f"cannot open {self.path}") from exc
        with self._all_lock:
            self._all = self._prune(self._all)
            self._all.append((os.getpid(), threading.current_thread(), conn))
        return conn

    @contextmanager
    def _errors(self, what: str = "") -> Iterator[None]:
        try:
            with inside_sqlite():
                yield
        except sqlite3.Error as exc:
            raise translate_error(exc, what or str(self.path)) from exc

    @contextmanager
    def connection(self, what: str = "read") -> Iterator[Tx]:
        """This thread's connection (no transaction: each statement sees the latest commit)."""
        with self._errors(what):
            yield Tx(self._conn(), self.MARK)

    @contextmanager
    def transaction(self, what: str = "write") -> Iterator[Tx]:
        """A write transaction, after taking a turn in the writers' queue (:mod:`.sqlite_lock`:
        SQLite's own busy handler would leave waiting writers asleep while the database is free)."""
        conn = self._conn()
        with self._errors(what), self._writers.hold():
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield Tx(conn, self.MARK)
                conn.execute("COMMIT")
            except BaseException:
                _rollback(conn)
                raise

    def close(self) -> None:
        self._closed = True
        self._checkpointer.stop()
        self._writers.close()
        with self._all_lock:
            owned, self._all = self._all, []
        for pid, _, conn in owned:
            # A connection inherited through fork belongs to the parent: SQLite must not close it
            # here (its locks and WAL state are the parent's), so the child only drops it.
            if pid == os.getpid():
                with suppress(sqlite3.Error):
                    conn.close()

    @staticmethod
    def _prune(
        owned: list[tuple[int, threading.Thread, sqlite3.Connection]],
    ) -> list[tuple[int, threading.Thread, sqlite3.Connection]]:
        """Close the connections of threads that have ended, so an application that appends from
        many short-lived threads does not pile up open files until ``close()``."""
        kept = []
        for pid, thread, conn in owned:
            if pid == os.getpid() and not thread.is_alive():
                with suppress(sqlite3.Error):
                    conn.close()
            else:
                kept.append((pid, thread, conn))
        return kept

    # ------------------------------------------------------------------------------------ dialect

    @contextmanager
    def _savepoint(self, tx: Tx) -> Iterator[None]:
        tx.raw.execute("SAVEPOINT bulk_insert")
        try:
            yield
        except BaseException:
            if tx.raw.in_transaction:  # some errors (a full disk) already rolled everything back
                with suppress(sqlite3.Error):
                    tx.raw.execute("ROLLBACK TO bulk_insert")
                    tx.raw.execute("RELEASE bulk_insert")
            raise
        tx.raw.execute("RELEASE bulk_insert")

    def _bulk_insert(self, tx: Tx, rows: list[EventRow]) -> None:
        tx.raw.executemany(INSERT_EVENT, rows)

    def _is_duplicate_id(self, exc: Exception) -> bool:
        # "UNIQUE constraint failed: events.project, events.event_id"
        return isinstance(exc, sqlite3.IntegrityError) and "events.event_id" in str(exc)

    def _in(self, column: str, values: Sequence[Any]) -> tuple[str, list[Any]]:
        return f"{column} IN ({','.join('?' * len(values))})", list(values)

    def _committed(self, group: list[Append]) -> None:
        self._checkpointer.wrote(sum(len(item.body) for job in group for item in job.pending))


def _rollback(conn: sqlite3.Connection) -> None:
    """End a failed transaction. SQLite rolls back by itself after some errors (SQLITE_FULL, I/O
    errors): a second ROLLBACK would fail and hide the error that matters."""
    if conn.in_transaction:
        with suppress(sqlite3.Error):
            conn.execute("ROLLBACK")


def _enable_wal(conn: sqlite3.Connection, timeout_s: float) -> None:
    """Switch a file to WAL. Changing the journal mode does not wait on the busy handler, so a new
    file opened by two processes at once can see "database is locked": retry until the timeout."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.01)


__all__ = ["SQLiteStore", "translate_error"]
