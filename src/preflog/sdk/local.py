"""The embedded transport: events go into a store (a SQLite file by default) in this process.

The store's code is imported by the first send, in the worker thread, not when the client is
made: ``preflog.Client(db=...)`` loads neither ``sqlite3`` nor :mod:`preflog.store`.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

from preflog.answers import AppendResult
from preflog.errors import PreflogError, TransportError
from preflog.sdk.base import Transport

if TYPE_CHECKING:
    from preflog.events import Limits
    from preflog.store.base import Store

__all__ = ["LocalTransport"]


class LocalTransport(Transport):
    """Writes into the embedded store at ``db`` (a path or a store URL; ``./preflog.db`` when
    None). ``store=`` passes an already open store instead (it is then closed by the caller, not
    by the transport)."""

    # One SQLite transaction (commit, WAL checkpoints, reading back positions) costs as much as
    # inserting hundreds of rows, so a backlog goes out in big ones (see docs/performance.md).
    # Nothing travels over a network, so the byte cap only bounds the memory of one batch.
    backlog_batch_size = 10_000
    batch_bytes = 32 * 1024 * 1024

    def __init__(
        self, db: str | None = None, *, store: Store | None = None, limits: Limits | None = None
    ) -> None:
        self.db = db
        self.limits = limits
        self._store = store
        self._owns_store = store is None
        self._lock = threading.Lock()

    def _open(self) -> Store:
        with self._lock:
            if self._store is None:
                from preflog.store import open_store

                self._store = open_store(self.db or "./preflog.db", limits=self.limits)
            return self._store

    def send(self, events: list[dict[str, Any]], project: str) -> list[AppendResult]:
        store = self._store or self._open()
        try:
            return store.append(events, project=project, validated=True)
        except PreflogError:
            raise
        except Exception as exc:  # a store bug or an untranslated driver error: still not the host's problem
            raise TransportError(f"local store failed: {type(exc).__name__}: {exc}") from exc

    def close(self) -> None:
        with self._lock:
            store, self._store = self._store, None
        if store is not None and self._owns_store:
            store.close()

    def after_fork(self) -> None:
        # The parent's SQLite connection must not be used (or closed) in the child; open afresh.
        self._lock = threading.Lock()
        if self._owns_store:
            self._store = None

    def __repr__(self) -> str:
        return f"LocalTransport(db={self.db!r})"
