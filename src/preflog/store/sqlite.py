"""The embedded store: one SQLite file in WAL mode.

Writers serialize on ``BEGIN IMMEDIATE``, so the rowid order of ``events.position`` is commit
order and a reader tailing "after position N" never skips an event. Several processes may write
one file at once (SQLite's file lock plus a busy timeout). Each thread gets its own connection.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any, Final

from preflog.errors import StoreError
from preflog.events import DEFAULT_LIMITS, Limits
from preflog.store.base import AppendResult, RequestView, Store, StoredEvent, StoreStats
from preflog.store.common import (
    PendingEvent,
    blanked_rows,
    build_view,
    classify_existing,
    erasure_effect,
    erasure_lookups,
    finish,
    hits_erasure,
    prepare_batch,
    read_where,
    stored_event,
    translate_sqlite_error,
    user_key,
)
from preflog.store.forksafe import inside_sqlite
from preflog.store.group import Append, GroupCommit
from preflog.store.sqlite_checkpoint import INLINE_CHECKPOINT_PAGES, Checkpointer
from preflog.store.sqlite_lock import WriterLock
from preflog.store.sqlite_schema import migrate

_SELECT: Final = "SELECT position, body, project, received_at, erased FROM events"
_INSERT: Final = (
    "INSERT INTO events (project, event_id, type, request_id, occurred_at, received_at, "
    "schema_version, user_id, source_kind, body, erased, content_hash) VALUES (?,?,?,?,?,?,?,?,?,?,?,?) "
    "ON CONFLICT (project, event_id) DO NOTHING"
)
_MAX_VARS: Final = 500  # ids per IN (...) query, well under SQLite's variable limit
# Page cache per connection (KiB; SQLite's default is 2 MiB). The unique (project, event_id) and
# (project, request_id) indexes take random ids, so each batch touches pages all over them: kept
# in memory between transactions, they are not read back for every append. Filled only as used.
_CACHE_KIB: Final = 32 * 1024


class SQLiteStore(Store):
    """Events in the SQLite file at ``path`` (created with its parent directory if missing).

    ``synchronous`` is ``NORMAL`` by default: in WAL mode a power loss may lose the last
    transactions but never corrupts the file; ``FULL`` (env ``PREFLOG_SQLITE_SYNCHRONOUS``) makes
    every commit durable before ``append`` returns, at some cost in speed.
    """

    def __init__(
        self,
        path: Path | str,
        *,
        limits: Limits | None = None,
        synchronous: str | None = None,
        busy_timeout_s: float = 30.0,
    ) -> None:
        self.path = Path(path)
        self.limits = limits or DEFAULT_LIMITS
        self.synchronous = (synchronous or os.environ.get("PREFLOG_SQLITE_SYNCHRONOUS") or "NORMAL").upper()
        if self.synchronous not in ("OFF", "NORMAL", "FULL", "EXTRA"):
            raise StoreError(f"PREFLOG_SQLITE_SYNCHRONOUS: must be NORMAL or FULL, got {self.synchronous!r}")
        self._busy_timeout_s = busy_timeout_s
        self._local = threading.local()
        # Every connection opened, with the process and thread that own it (see _connect, close).
        self._all: list[tuple[int, threading.Thread, sqlite3.Connection]] = []
        self._all_lock = threading.Lock()
        self._closed = False
        self._writers = WriterLock(self.path, timeout_s=busy_timeout_s)
        self._group = GroupCommit(self._write_group)
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
            raise translate_sqlite_error(exc, f"cannot open {self.path}") from exc
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
            raise translate_sqlite_error(exc, what or str(self.path)) from exc

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """A write transaction, after taking a turn in the writers' queue (:mod:`.sqlite_lock`:
        SQLite's own busy handler would leave waiting writers asleep while the database is free)."""
        conn = self._conn()
        with self._errors("append"), self._writers.hold():
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
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

    # ------------------------------------------------------------------------------------ append

    def append(
        self, events: Sequence[Mapping[str, Any]], *, project: str, validated: bool = False
    ) -> list[AppendResult]:
        results: list[AppendResult | None] = [None] * len(events)
        pending = prepare_batch(
            events,
            project=project,
            validated=validated,
            limits=self.limits,
            results=results,
            redactor=self.redactor,
        )
        if pending:
            self._group.run(Append(project, pending, results))
        return finish(results)

    def _write_group(self, group: list[Append]) -> None:
        """Appends queued together (:mod:`.group`), one after the other in one transaction."""
        with self._write() as conn:
            for job in group:
                self._insert(conn, job.project, job.pending, job.results)
        self._checkpointer.wrote(sum(len(item.body) for job in group for item in job.pending))

    def _insert(
        self,
        conn: sqlite3.Connection,
        project: str,
        pending: list[PendingEvent],
        results: list[AppendResult | None],
    ) -> None:
        erased = self._erased_targets(conn, project, pending)
        if erased:
            for item in pending:
                if hits_erasure(item.event, erased):
                    item.blank()
        (before,) = conn.execute("SELECT COALESCE(MAX(position), 0) FROM events").fetchone()
        conn.executemany(_INSERT, (item.row(project) for item in pending))
        stored = dict(
            conn.execute("SELECT event_id, position FROM events WHERE position > ?", (before,)).fetchall()
        )
        missing = [item for item in pending if item.event_id not in stored]
        existing = self._existing(conn, project, [item.event_id for item in missing])
        for item in pending:
            position = stored.get(item.event_id)
            if position is not None:
                item.answer(results, AppendResult("stored", item.event_id, position))
            else:
                row = existing[item.event_id]
                item.answer(results, classify_existing(item, row))
        for item in pending:
            effect = erasure_effect(item) if item.event_id in stored else None
            if effect is not None:
                self._erase(conn, project, effect)

    def _existing(
        self, conn: sqlite3.Connection, project: str, ids: list[str]
    ) -> dict[str, tuple[int, str, bool, str | None]]:
        out: dict[str, tuple[int, str, bool, str | None]] = {}
        for start in range(0, len(ids), _MAX_VARS):
            chunk = ids[start : start + _MAX_VARS]
            marks = ",".join("?" * len(chunk))
            for event_id, position, body, erased, digest in conn.execute(
                f"SELECT event_id, position, body, erased, content_hash FROM events "
                f"WHERE project = ? AND event_id IN ({marks})",
                (project, *chunk),
            ):
                out[event_id] = (position, body, bool(erased), digest)
        return out

    # ------------------------------------------------------------------------------------ erasure

    def _erased_targets(
        self, conn: sqlite3.Connection, project: str, pending: list[PendingEvent]
    ) -> set[tuple[str, str]]:
        """The (kind, target) erasures that touch this batch: later events stay blanked too."""
        if conn.execute("SELECT 1 FROM erasures WHERE project = ? LIMIT 1", (project,)).fetchone() is None:
            return set()
        requests, users = erasure_lookups(pending)
        found: set[tuple[str, str]] = set()
        for kind, targets in (("request", requests), ("user", users)):
            for start in range(0, len(targets), _MAX_VARS):
                chunk = targets[start : start + _MAX_VARS]
                rows = conn.execute(
                    f"SELECT kind, target FROM erasures WHERE project = ? AND kind = ? "
                    f"AND target IN ({','.join('?' * len(chunk))})",
                    (project, kind, *chunk),
                )
                found.update((str(k), str(t)) for k, t in rows)
        return found

    def _erase(self, conn: sqlite3.Connection, project: str, erasure: Mapping[str, Any]) -> None:
        user_id = erasure.get("user_id")
        if user_id is not None:
            requests = [
                r
                for (r,) in conn.execute(
                    "SELECT DISTINCT request_id FROM events "
                    "WHERE project = ? AND user_id = ? AND type = 'inference'",
                    (project, user_id),
                )
            ]
            conn.execute(
                "INSERT OR IGNORE INTO erasures (project, kind, target) VALUES (?, 'user', ?)",
                (project, user_key(str(user_id))),
            )
            self._blank_where(conn, "project = ? AND user_id = ? AND type != 'erasure'", (project, user_id))
        else:
            requests = [str(erasure["request_id"])]
        for request_id in requests:
            conn.execute(
                "INSERT OR IGNORE INTO erasures (project, kind, target) VALUES (?, 'request', ?)",
                (project, request_id),
            )
            self._blank_where(
                conn, "project = ? AND request_id = ? AND type != 'erasure'", (project, request_id)
            )

    def _blank_where(self, conn: sqlite3.Connection, where: str, args: tuple[Any, ...]) -> None:
        rows = conn.execute(
            f"SELECT position, body FROM events WHERE erased = 0 AND {where}", args
        ).fetchall()
        conn.executemany(
            "UPDATE events SET body = ?, content_hash = ?, erased = 1, user_id = NULL WHERE position = ?",
            blanked_rows(rows),
        )

    # ------------------------------------------------------------------------------------ reads

    def _query(self, sql: str, args: Iterable[Any]) -> list[StoredEvent]:
        with self._errors("read"):
            rows = self._conn().execute(sql, tuple(args)).fetchall()
        return [stored_event(*row) for row in rows]

    def read(
        self,
        *,
        project: str,
        after: int = 0,
        limit: int = 1000,
        types: Iterable[str] | None = None,
        since: str | None = None,
        until: str | None = None,
    ) -> list[StoredEvent]:
        where, args = read_where(
            project=project, after=after, types=types, since=since, until=until, mark="?"
        )
        args.append(max(0, int(limit)))
        return self._query(f"{_SELECT} WHERE {where} ORDER BY position LIMIT ?", args)

    def get_request(self, request_id: str, *, project: str) -> RequestView:
        rows = self._query(
            f"{_SELECT} WHERE project = ? AND request_id = ? ORDER BY position", (project, request_id)
        )
        return build_view(request_id, rows)

    def get_event(self, event_id: str, *, project: str) -> StoredEvent | None:
        rows = self._query(f"{_SELECT} WHERE project = ? AND event_id = ?", (project, event_id))
        return rows[0] if rows else None

    def last_position(self, *, project: str | None = None) -> int:
        conn = self._conn()
        with self._errors("read"):
            if project is None:
                row = conn.execute("SELECT COALESCE(MAX(position), 0) FROM events").fetchone()
            else:
                row = conn.execute(
                    "SELECT COALESCE(MAX(position), 0) FROM events WHERE project = ?", (project,)
                ).fetchone()
        return int(row[0])

    def stats(self, *, project: str) -> StoreStats:
        conn = self._conn()
        with self._errors("stats"):
            by_type = dict(
                conn.execute("SELECT type, COUNT(*) FROM events WHERE project = ? GROUP BY type", (project,))
            )
            by_source = dict(
                conn.execute(
                    "SELECT source_kind, COUNT(*) FROM events WHERE project = ? AND source_kind IS NOT NULL "
                    "GROUP BY source_kind",
                    (project,),
                )
            )
            by_model = dict(
                conn.execute(
                    "SELECT json_extract(c.value, '$.model.name') AS model, COUNT(*) FROM events, "
                    "json_each(events.body, '$.candidates') AS c WHERE events.project = ? "
                    "AND events.type = 'inference' "
                    "GROUP BY model ORDER BY model",
                    (project,),
                )
            )
            (requests,) = conn.execute(
                "SELECT COUNT(DISTINCT request_id) FROM events WHERE project = ? AND request_id IS NOT NULL",
                (project,),
            ).fetchone()
            (orphans,) = conn.execute(
                "SELECT COUNT(DISTINCT request_id) FROM events e WHERE project = ? "
                "AND type IN ('preference', 'score', 'signal') AND NOT EXISTS (SELECT 1 FROM events i "
                "WHERE i.project = e.project AND i.request_id = e.request_id AND i.type = 'inference')",
                (project,),
            ).fetchone()
        return StoreStats(
            events=sum(by_type.values()),
            by_type=dict(sorted(by_type.items())),
            by_source=dict(sorted(by_source.items())),
            by_model={str(k): v for k, v in by_model.items()},
            requests=int(requests),
            orphan_requests=int(orphans),
            last_position=self.last_position(project=project),
        )

    def projects(self) -> list[str]:
        with self._errors("read"):
            rows = self._conn().execute("SELECT DISTINCT project FROM events ORDER BY project").fetchall()
        return [str(r[0]) for r in rows]


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


__all__ = ["SQLiteStore"]
