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

from preflog.errors import StoreError, ValidationError
from preflog.events import DEFAULT_LIMITS, SCHEMA_VERSION, Limits, normalize_time, now, validate_event
from preflog.store.base import AppendResult, RequestView, Store, StoredEvent, StoreStats
from preflog.store.common import (
    PendingEvent,
    blank_event,
    classify_existing,
    content_hash,
    decode_body,
    encode_body,
    translate_sqlite_error,
    user_key,
)
from preflog.store.sqlite_schema import migrate

_SELECT: Final = "SELECT position, body, project, received_at, erased FROM events"
_INSERT: Final = (
    "INSERT INTO events (project, event_id, type, request_id, occurred_at, received_at, "
    "schema_version, user_id, source_kind, body, erased, content_hash) VALUES (?,?,?,?,?,?,?,?,?,?,?,?) "
    "ON CONFLICT (project, event_id) DO NOTHING"
)
_MAX_VARS: Final = 500  # ids per IN (...) query, well under SQLite's variable limit


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
        self._all: list[sqlite3.Connection] = []
        self._all_lock = threading.Lock()
        self._closed = False
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
        try:
            conn = sqlite3.connect(
                self.path, timeout=self._busy_timeout_s, isolation_level=None, check_same_thread=False
            )
            _enable_wal(conn, self._busy_timeout_s)
            conn.execute(f"PRAGMA synchronous={self.synchronous}")
            conn.execute("PRAGMA foreign_keys=ON")
        except sqlite3.Error as exc:
            raise translate_sqlite_error(exc, f"cannot open {self.path}") from exc
        with self._all_lock:
            self._all.append(conn)
        return conn

    @contextmanager
    def _errors(self, what: str = "") -> Iterator[None]:
        try:
            yield
        except sqlite3.Error as exc:
            raise translate_sqlite_error(exc, what or str(self.path)) from exc

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        conn = self._conn()
        with self._errors("append"):
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    def close(self) -> None:
        self._closed = True
        with self._all_lock:
            conns, self._all = self._all, []
        for conn in conns:
            with suppress(sqlite3.Error):
                conn.close()

    # ------------------------------------------------------------------------------------ append

    def append(
        self, events: Sequence[Mapping[str, Any]], *, project: str, validated: bool = False
    ) -> list[AppendResult]:
        results: list[AppendResult | None] = [None] * len(events)
        pending = self._prepare(events, project, validated, results)
        if pending:
            with self._write() as conn:
                self._insert(conn, project, pending, results)
        return [
            r if r is not None else AppendResult("rejected", reason="internal: no answer") for r in results
        ]

    def _prepare(
        self,
        events: Sequence[Mapping[str, Any]],
        project: str,
        validated: bool,
        results: list[AppendResult | None],
    ) -> list[PendingEvent]:
        """Validate and encode; answer rejections and in-call repeats now, keep the rest."""
        received = now()
        pending: list[PendingEvent] = []
        first: dict[str, PendingEvent] = {}
        for index, raw in enumerate(events):
            try:
                event = self._normalize(raw, project, validated)
            except ValidationError as exc:
                results[index] = AppendResult(
                    "rejected", event_id=_id_of(raw), field=exc.field or None, reason=exc.reason
                )
                continue
            item = PendingEvent(index, event, encode_body(event), received)
            earlier = first.get(item.event_id)
            if earlier is None:
                first[item.event_id] = item
                pending.append(item)
            else:
                earlier.repeats.append(item)
        return pending

    def _normalize(self, raw: Mapping[str, Any], project: str, validated: bool) -> dict[str, Any]:
        if not validated:
            event = validate_event(raw, limits=self.limits, project=project)
            if raw.get("schema_version", SCHEMA_VERSION) < SCHEMA_VERSION:
                # Stored as written and upcast when read, never migrated in place.
                old = {k: v for k, v in raw.items() if k != "received_at" and v is not None}
                event = {**old, "project": project, "occurred_at": event["occurred_at"]}
            return event
        own = raw.get("project")
        if own is not None and own != project:
            raise ValidationError(
                f"names project {own!r}, but this write is scoped to {project!r}", "project"
            )
        event = dict(raw)
        event.pop("received_at", None)
        event["project"] = project
        event.setdefault("schema_version", SCHEMA_VERSION)
        if not str(event.get("occurred_at", "")).endswith("Z"):
            event["occurred_at"] = normalize_time(str(event["occurred_at"]))
        return event

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
                if _hits(item.event, erased):
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
            if item.event_id in stored and item.event["type"] == "erasure":
                self._erase(conn, project, item.event)

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
        wanted: set[tuple[str, str]] = set()
        for item in pending:
            if item.event.get("request_id"):
                wanted.add(("request", str(item.event["request_id"])))
            if item.event.get("user_id") and item.event["type"] != "erasure":
                wanted.add(("user", user_key(str(item.event["user_id"]))))
        found: set[tuple[str, str]] = set()
        for kind, target in wanted:
            row = conn.execute(
                "SELECT 1 FROM erasures WHERE project = ? AND kind = ? AND target = ?",
                (project, kind, target),
            ).fetchone()
            if row is not None:
                found.add((kind, target))
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
            [
                (encode_body(blank_event(decode_body(body))), content_hash(decode_body(body)), position)
                for position, body in rows
            ],
        )

    # ------------------------------------------------------------------------------------ reads

    def _query(self, sql: str, args: Iterable[Any]) -> list[StoredEvent]:
        with self._errors("read"):
            rows = self._conn().execute(sql, tuple(args)).fetchall()
        return [_stored(row) for row in rows]

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
        where = ["project = ?", "position > ?"]
        args: list[Any] = [project, after]
        wanted = list(types) if types is not None else None
        if wanted is not None:
            where.append(f"type IN ({','.join('?' * len(wanted))})")
            args.extend(wanted)
        if since is not None:
            where.append("occurred_at >= ?")
            args.append(normalize_time(since))
        if until is not None:
            where.append("occurred_at < ?")
            args.append(normalize_time(until))
        args.append(max(0, int(limit)))
        return self._query(f"{_SELECT} WHERE {' AND '.join(where)} ORDER BY position LIMIT ?", args)

    def get_request(self, request_id: str, *, project: str) -> RequestView:
        view = RequestView(request_id)
        rows = self._query(
            f"{_SELECT} WHERE project = ? AND request_id = ? ORDER BY position", (project, request_id)
        )
        lists = {
            "preference": view.preferences,
            "score": view.scores,
            "signal": view.signals,
            "retraction": view.retractions,
            "erasure": view.erasures,
        }
        for item in rows:
            if item.type == "inference":
                view.inference = view.inference or item
            else:
                lists[item.type].append(item)
        return view

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


def _id_of(raw: Any) -> str | None:
    value = raw.get("event_id") if isinstance(raw, Mapping) else None
    return value if isinstance(value, str) else None


def _hits(event: Mapping[str, Any], erased: set[tuple[str, str]]) -> bool:
    if event["type"] == "erasure":
        return False
    if ("request", str(event.get("request_id"))) in erased:
        return True
    user_id = event.get("user_id")
    return user_id is not None and ("user", user_key(str(user_id))) in erased


def _stored(row: tuple[int, str, str, str, int]) -> StoredEvent:
    position, body, project, received_at, erased = row
    event = decode_body(body)
    event["project"] = project
    event["received_at"] = received_at
    return StoredEvent(position, event, bool(erased))


__all__ = ["SQLiteStore"]
