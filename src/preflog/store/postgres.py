"""The production store: PostgreSQL through psycopg 3 and a connection pool.

Commit order is insert order. An identity column hands out numbers when a row is inserted, but
transactions commit in any order: if A takes position 10 and B takes 11 and B commits first, a
reader that already saw 11 would never look back for 10. So every append takes one transaction-
scoped advisory lock before inserting; appends run one after another, and a reader tailing
"after position N" can never miss a row that commits later with a smaller position.

Under that lock the batch is written with one ``COPY`` straight into the table, inside a
savepoint (the append path itself, shared with SQLite, is :class:`preflog.store.sql.SQLStore`'s).
What is PostgreSQL's own: the pool and its connection check, the lock, ``COPY``, ``= ANY``, the
JSON query of ``stats`` and the translation of psycopg's errors.
"""

from __future__ import annotations

import select
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from typing import Any, Final

import psycopg
from psycopg import errors as pg_errors
from psycopg_pool import ConnectionPool, PoolTimeout

from preflog.errors import StoreError, StoreFull, StoreUnavailable
from preflog.events import Limits
from preflog.redact import Redactor
from preflog.store.common import EVENT_COLUMNS, EventRow
from preflog.store.postgres_schema import APPEND_LOCK, migrate
from preflog.store.sql import APPEND_START, SQLStore, Tx

_EVENT_ID_KEY: Final = "events_project_event_id_key"  # UNIQUE (project, event_id)
_COPY: Final = f"COPY events ({EVENT_COLUMNS}) FROM STDIN"
_SQL_BY_MODEL: Final = (
    "SELECT c -> 'model' ->> 'name' AS model, COUNT(*) FROM events, "
    "jsonb_array_elements(events.body::jsonb -> 'candidates') AS c "
    "WHERE events.project = ? AND events.type = 'inference' GROUP BY model ORDER BY model"
)
DEFAULT_TIMEOUT_S: Final = 3.0


def translate_error(exc: BaseException, what: str) -> StoreError:
    """A psycopg error as a preflog error: connection failures, a server shutting down or killing
    the session, and pool timeouts are :class:`StoreUnavailable`; a full disk :class:`StoreFull`;
    anything else (a missing table, a broken constraint) :class:`StoreError`."""
    message = f"postgres: {what}: {exc}"
    if isinstance(exc, pg_errors.DiskFull):
        return StoreFull(message)
    if isinstance(exc, PoolTimeout | psycopg.OperationalError):
        return StoreUnavailable(message)
    return StoreError(message)


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


class PostgresStore(SQLStore):
    """Events in a PostgreSQL database, reached by ``url`` (``postgresql://user@host:port/db``).

    ``timeout_s`` is how long a call waits for a connection: while the server is down, every call
    fails with StoreUnavailable after this long (the service answers 503), so keep it short.
    (:func:`preflog.store.open_store` takes it from ``PREFLOG_PG_TIMEOUT``.)
    """

    MARK = "%s"
    IN_MAX = 1_000_000  # one array parameter, however many values
    BY_MODEL_SQL = _SQL_BY_MODEL

    def __init__(
        self,
        url: str,
        *,
        limits: Limits | None = None,
        min_size: int = 1,
        max_size: int = 8,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        redactor: Redactor | None = None,
    ) -> None:
        super().__init__(limits=limits, redactor=redactor)
        self.url = url
        self._closed = False
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

    # ------------------------------------------------------------------------------------ connections

    @contextmanager
    def transaction(self, what: str = "write") -> Iterator[Tx]:
        """One transaction on a pooled connection; driver errors become preflog errors."""
        if self._closed:
            raise StoreError("store is closed")
        try:
            with self._pool.connection() as conn, conn.transaction():
                yield Tx(conn, self.MARK)
        except (psycopg.Error, PoolTimeout) as exc:
            raise translate_error(exc, what) from exc

    def connection(self, what: str = "read") -> AbstractContextManager[Tx]:
        """Reads run in a transaction too (psycopg's, on a pooled connection)."""
        return self.transaction(what)

    def close(self) -> None:
        self._closed = True
        self._pool.close()

    # ------------------------------------------------------------------------------------ dialect

    def _start_append(self, tx: Tx, project: str) -> Any:
        """Take the append lock, then read where the log ends. Pipelined: one round trip. The
        server still runs the ``SELECT`` only once the lock is granted, with a snapshot taken
        then, so it sees every append committed before ours."""
        with tx.raw.pipeline():
            tx.execute("SELECT pg_advisory_xact_lock(?)", (APPEND_LOCK,))
            cursor = tx.execute(APPEND_START, (project,))
        return cursor

    def _savepoint(self, tx: Tx) -> AbstractContextManager[Any]:
        savepoint: AbstractContextManager[Any] = tx.raw.transaction()  # psycopg nests it as a savepoint
        return savepoint

    def _bulk_insert(self, tx: Tx, rows: list[EventRow]) -> None:
        with tx.raw.cursor() as cursor, cursor.copy(_COPY) as copy:
            for row in rows:
                copy.write_row(row)

    def _is_duplicate_id(self, exc: Exception) -> bool:
        return isinstance(exc, pg_errors.UniqueViolation) and exc.diag.constraint_name == _EVENT_ID_KEY

    def _in(self, column: str, values: Sequence[Any]) -> tuple[str, list[Any]]:
        return f"{column} = ANY(?)", [list(values)]


def _safe(url: str) -> str:
    """The URL without its password, for messages."""
    if "@" not in url or "://" not in url:
        return url
    scheme, rest = url.split("://", 1)
    creds, host = rest.rsplit("@", 1)
    return f"{scheme}://{creds.split(':', 1)[0]}@{host}"


__all__ = ["DEFAULT_TIMEOUT_S", "PostgresStore", "translate_error"]
