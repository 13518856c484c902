"""The production store: PostgreSQL through psycopg 3 and a connection pool.

Commit order is insert order. An identity column hands out numbers when a row is inserted, but
transactions commit in any order: if A takes position 10 and B takes 11 and B commits first, a
reader that already saw 11 would never look back for 10. So every append takes one transaction-
scoped advisory lock before inserting; appends run one after another, and a reader tailing
"after position N" can never miss a row that commits later with a smaller position.

Under that lock the batch is written with one ``COPY`` straight into the table, inside a
savepoint; the new rows' positions are the ones above the maximum read after taking the lock.
When an id of the batch is already stored (a retry, a resend), the ``COPY`` fails on the unique
key, the savepoint is rolled back, the stored ids are looked up and only the new rows are
copied. Looking ids up only then is what keeps appends near the speed of a plain ``COPY``
(``bench/pg_append.py``). Everything an answer depends on (duplicates, conflicts, erasure) is
shared with the SQLite backend through :mod:`preflog.store.common`.
"""

from __future__ import annotations

import os
import select
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any, Final

import psycopg
from psycopg import errors as pg_errors
from psycopg_pool import ConnectionPool, PoolTimeout

from preflog.errors import StoreError, StoreFull, StoreUnavailable
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
    user_key,
)
from preflog.store.group import Append, GroupCommit
from preflog.store.postgres_schema import APPEND_LOCK, migrate

_SELECT: Final = "SELECT position, body, project, received_at, erased FROM events"
_EVENT_ID_KEY: Final = "events_project_event_id_key"  # UNIQUE (project, event_id)
_COLUMNS: Final = (
    "project, event_id, type, request_id, occurred_at, received_at, schema_version, user_id, "
    "source_kind, body, erased, content_hash"
)


def translate_error(exc: BaseException, what: str) -> StoreError:
    message = f"postgres: {what}: {exc}"
    if isinstance(exc, pg_errors.DiskFull):
        return StoreFull(message)
    if isinstance(exc, PoolTimeout | psycopg.OperationalError):
        return StoreUnavailable(message)
    return StoreError(message)


def _take_append_lock(conn: psycopg.Connection[Any], project: str) -> tuple[int, bool]:
    """Take the append lock, then read the highest position and whether ``project`` has erasures.

    Pipelined: one round trip. The server still runs the ``SELECT`` only once the lock is
    granted, with a snapshot taken then, so it sees every append committed before ours."""
    with conn.pipeline():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (APPEND_LOCK,))
        cur = conn.execute(
            "SELECT COALESCE(MAX(position), 0), EXISTS (SELECT 1 FROM erasures WHERE project = %s) "
            "FROM events",
            (project,),
        )
    row = cur.fetchone()
    return (int(row[0]), bool(row[1])) if row else (0, False)


def _copy_rows(conn: psycopg.Connection[Any], project: str, items: list[PendingEvent]) -> None:
    with conn.cursor() as cur, cur.copy(f"COPY events ({_COLUMNS}) FROM STDIN") as copy:
        for item in items:
            copy.write_row(item.row(project))


def _check_connection(conn: psycopg.Connection[Any]) -> None:
    """The pool's check before it lends a connection, without a round trip in the usual case.

    An idle connection has nothing to read: the server only speaks when asked. When its socket
    is readable anyway, the server has said something on its own (a restart or an administrator
    ends connections with a FATAL message, then closes them), and the full check runs a query,
    which raises for a dead connection so that the pool discards it and tries another."""
    if not conn.closed and conn.info.transaction_status == psycopg.pq.TransactionStatus.IDLE:
        socket = select.poll()
        socket.register(conn.fileno(), select.POLLIN | select.POLLPRI)
        if not socket.poll(0):
            return
    ConnectionPool.check_connection(conn)


class PostgresStore(Store):
    """Events in a PostgreSQL database, reached by ``url`` (``postgresql://user@host:port/db``)."""

    def __init__(
        self,
        url: str,
        *,
        limits: Limits | None = None,
        min_size: int = 1,
        max_size: int = 8,
        timeout_s: float | None = None,
    ) -> None:
        self.url = url
        self.limits = limits or DEFAULT_LIMITS
        self._closed = False
        self._group = GroupCommit(self._write_group)
        # How long a call waits for a connection: while the server is down, every call fails
        # with StoreUnavailable after this long (the service answers 503), so keep it short.
        timeout_s = timeout_s if timeout_s is not None else float(os.environ.get("PREFLOG_PG_TIMEOUT", "3"))
        self._pool = ConnectionPool(
            url,
            min_size=min_size,
            max_size=max_size,
            timeout=timeout_s,
            check=_check_connection,  # a server restart leaves dead connections behind
            kwargs={"autocommit": False},
            open=False,
            name="preflog",
        )
        # One plain connection first: it fails fast with the server's own reason (refused,
        # unknown database, authentication) where the pool would only time out; it migrates.
        try:
            with psycopg.connect(url, connect_timeout=max(1, round(timeout_s))) as conn:
                migrate(conn)
            self._pool.open(wait=True, timeout=timeout_s)
        except (PoolTimeout, psycopg.Error) as exc:
            self._pool.close()
            raise translate_error(exc, f"cannot connect to {_safe(url)}") from exc

    # ------------------------------------------------------------------------------------ plumbing

    @contextmanager
    def transaction(self, what: str) -> Iterator[psycopg.Connection[Any]]:
        """One transaction on a pooled connection; driver errors become preflog errors."""
        if self._closed:
            raise StoreError("store is closed")
        try:
            with self._pool.connection() as conn, conn.transaction():
                yield conn
        except (psycopg.Error, PoolTimeout) as exc:
            raise translate_error(exc, what) from exc

    def close(self) -> None:
        self._closed = True
        self._pool.close()

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
        """Appends queued together (:mod:`.group`), one after the other in one transaction: the
        append lock is taken once (again by each, which PostgreSQL allows) and one commit flushes
        them all."""
        with self.transaction("append") as conn:
            for job in group:
                self._insert(conn, job.project, job.pending, job.results)

    def _insert(
        self,
        conn: psycopg.Connection[Any],
        project: str,
        pending: list[PendingEvent],
        results: list[AppendResult | None],
    ) -> None:
        before, has_erasures = _take_append_lock(conn, project)
        if has_erasures:
            erased = self._erased_targets(conn, project, pending)
            for item in pending:
                if erased and hits_erasure(item.event, erased):
                    item.blank()
        existing = self._copy_new(conn, project, pending)
        stored: dict[str, int] = {}
        if len(existing) < len(pending):
            # Under the lock nobody else inserts: every position above ``before`` is one of ours.
            rows = conn.execute("SELECT event_id, position FROM events WHERE position > %s", (before,))
            stored = {str(k): int(v) for k, v in rows}
        for item in pending:
            position = stored.get(item.event_id)
            if position is not None:
                item.answer(results, AppendResult("stored", item.event_id, position))
            else:
                item.answer(results, classify_existing(item, existing[item.event_id]))
        for item in pending:
            effect = erasure_effect(item) if item.event_id in stored else None
            if effect is not None:
                self._erase(conn, project, effect)

    def _copy_new(
        self, conn: psycopg.Connection[Any], project: str, pending: list[PendingEvent]
    ) -> dict[str, tuple[int, str, bool, str | None]]:
        """Copy the events not stored yet; return the stored rows of those that were.

        Usually none was, and the whole batch goes in at once. Otherwise the unique key stops the
        copy, its savepoint is rolled back (its positions are skipped: gaps are harmless, order is
        what readers rely on), and the new ones are copied after looking the ids up."""
        try:
            with conn.transaction():
                _copy_rows(conn, project, pending)
            return {}
        except pg_errors.UniqueViolation as exc:
            if exc.diag.constraint_name != _EVENT_ID_KEY:
                raise
        existing = self._existing(conn, project, [item.event_id for item in pending])
        fresh = [item for item in pending if item.event_id not in existing]
        if fresh:
            _copy_rows(conn, project, fresh)
        return existing

    def _existing(
        self, conn: psycopg.Connection[Any], project: str, ids: list[str]
    ) -> dict[str, tuple[int, str, bool, str | None]]:
        rows = conn.execute(
            "SELECT event_id, position, body, erased, content_hash FROM events "
            "WHERE project = %s AND event_id = ANY(%s)",
            (project, ids),
        ).fetchall()
        return {r[0]: (int(r[1]), r[2], bool(r[3]), r[4]) for r in rows}

    # ------------------------------------------------------------------------------------ erasure

    def _erased_targets(
        self, conn: psycopg.Connection[Any], project: str, pending: list[PendingEvent]
    ) -> set[tuple[str, str]]:
        requests, users = erasure_lookups(pending)
        rows = conn.execute(
            "SELECT kind, target FROM erasures WHERE project = %s AND "
            "((kind = 'request' AND target = ANY(%s)) OR (kind = 'user' AND target = ANY(%s)))",
            (project, requests, users),
        ).fetchall()
        return {(str(k), str(t)) for k, t in rows}

    def _erase(self, conn: psycopg.Connection[Any], project: str, erasure: Mapping[str, Any]) -> None:
        user_id = erasure.get("user_id")
        if user_id is not None:
            requests = [
                str(r[0])
                for r in conn.execute(
                    "SELECT DISTINCT request_id FROM events WHERE project = %s AND user_id = %s "
                    "AND type = 'inference'",
                    (project, user_id),
                ).fetchall()
            ]
            conn.execute(
                "INSERT INTO erasures (project, kind, target) VALUES (%s, 'user', %s) ON CONFLICT DO NOTHING",
                (project, user_key(str(user_id))),
            )
            self._blank_where(conn, "project = %s AND user_id = %s AND type <> 'erasure'", (project, user_id))
        else:
            requests = [str(erasure["request_id"])]
        for request_id in requests:
            conn.execute(
                "INSERT INTO erasures (project, kind, target) VALUES (%s, 'request', %s) "
                "ON CONFLICT DO NOTHING",
                (project, request_id),
            )
            self._blank_where(
                conn, "project = %s AND request_id = %s AND type <> 'erasure'", (project, request_id)
            )

    def _blank_where(self, conn: psycopg.Connection[Any], where: str, args: tuple[Any, ...]) -> None:
        rows = conn.execute(
            f"SELECT position, body FROM events WHERE NOT erased AND {where}", args
        ).fetchall()
        if not rows:
            return
        with conn.cursor() as cur:
            cur.executemany(
                "UPDATE events SET body = %s, content_hash = %s, erased = true, user_id = NULL "
                "WHERE position = %s",
                blanked_rows(rows),
            )

    # ------------------------------------------------------------------------------------ reads

    def _query(self, sql: str, args: Iterable[Any]) -> list[StoredEvent]:
        with self.transaction("read") as conn:
            rows = conn.execute(sql, tuple(args)).fetchall()
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
            project=project, after=after, types=types, since=since, until=until, mark="%s"
        )
        args.append(max(0, int(limit)))
        return self._query(f"{_SELECT} WHERE {where} ORDER BY position LIMIT %s", args)

    def get_request(self, request_id: str, *, project: str) -> RequestView:
        rows = self._query(
            f"{_SELECT} WHERE project = %s AND request_id = %s ORDER BY position", (project, request_id)
        )
        return build_view(request_id, rows)

    def get_event(self, event_id: str, *, project: str) -> StoredEvent | None:
        rows = self._query(f"{_SELECT} WHERE project = %s AND event_id = %s", (project, event_id))
        return rows[0] if rows else None

    def last_position(self, *, project: str | None = None) -> int:
        with self.transaction("read") as conn:
            if project is None:
                row = conn.execute("SELECT COALESCE(MAX(position), 0) FROM events").fetchone()
            else:
                row = conn.execute(
                    "SELECT COALESCE(MAX(position), 0) FROM events WHERE project = %s", (project,)
                ).fetchone()
        return int(row[0]) if row else 0

    def stats(self, *, project: str) -> StoreStats:
        with self.transaction("stats") as conn:
            by_type = dict(
                conn.execute("SELECT type, COUNT(*) FROM events WHERE project = %s GROUP BY type", (project,))
            )
            by_source = dict(
                conn.execute(
                    "SELECT source_kind, COUNT(*) FROM events WHERE project = %s AND source_kind IS NOT NULL "
                    "GROUP BY source_kind",
                    (project,),
                )
            )
            by_model = dict(
                conn.execute(
                    "SELECT c -> 'model' ->> 'name' AS model, COUNT(*) FROM events, "
                    "jsonb_array_elements(events.body::jsonb -> 'candidates') AS c "
                    "WHERE events.project = %s AND events.type = 'inference' GROUP BY model ORDER BY model",
                    (project,),
                )
            )
            counts = conn.execute(
                "SELECT COUNT(DISTINCT request_id), (SELECT COUNT(DISTINCT e.request_id) FROM events e "
                "WHERE e.project = %s AND e.type IN ('preference', 'score', 'signal') AND NOT EXISTS "
                "(SELECT 1 FROM events i WHERE i.project = e.project AND i.request_id = e.request_id "
                "AND i.type = 'inference')), COALESCE(MAX(position), 0) "
                "FROM events WHERE project = %s AND request_id IS NOT NULL",
                (project, project),
            ).fetchone()
        requests, orphans, last = counts if counts else (0, 0, 0)
        return StoreStats(
            events=sum(int(v) for v in by_type.values()),
            by_type={str(k): int(v) for k, v in sorted(by_type.items())},
            by_source={str(k): int(v) for k, v in sorted(by_source.items())},
            by_model={str(k): int(v) for k, v in by_model.items()},
            requests=int(requests),
            orphan_requests=int(orphans),
            last_position=max(int(last), self.last_position(project=project)),
        )

    def projects(self) -> list[str]:
        with self.transaction("read") as conn:
            rows = conn.execute("SELECT DISTINCT project FROM events ORDER BY project").fetchall()
        return [str(r[0]) for r in rows]


def _safe(url: str) -> str:
    """The URL without its password, for messages."""
    if "@" not in url or "://" not in url:
        return url
    scheme, rest = url.split("://", 1)
    creds, host = rest.rsplit("@", 1)
    return f"{scheme}://{creds.split(':', 1)[0]}@{host}"
