"""Transports carry a batch of built events from the SDK's worker to a store, and answer per event.

Every transport has the same small interface (:class:`Transport`), so the client does not know
whether it writes into an embedded SQLite file (:class:`LocalTransport`, here) or to the ingestion
service over HTTP (:class:`preflog.sdk.http.HTTPTransport`, picked by :func:`make_transport` when the
client is given ``url=``). A transport raises :class:`~preflog.errors.TransportError` or a
:class:`~preflog.errors.StoreError` when a batch could not be delivered; the worker retries it with
backoff and then counts it as failed (or hands it to a :class:`Spool`).
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, Any, Protocol

from preflog.errors import ConfigError, PreflogError, TransportError
from preflog.store.base import AppendResult

if TYPE_CHECKING:
    from preflog.events import Limits
    from preflog.store.base import Store

__all__ = ["AppendResult", "LocalTransport", "Spool", "Transport", "make_transport"]


class Transport(ABC):
    """Delivers batches of events for one project. Called from the SDK's single worker thread.

    ``backlog_batch_size``: when events pile up faster than they are delivered, the client takes
    up to this many per batch (None: never more than its ``batch_size``). A store with a fixed cost
    per batch (a commit) wants it large; a service with a request size limit leaves it None.
    ``batch_bytes``: the estimated JSON bytes of one batch at most, unless the client is given
    ``max_batch_bytes=``.
    """

    backlog_batch_size: int | None = None
    batch_bytes: int = 4 * 1024 * 1024

    @abstractmethod
    def send(self, events: list[dict[str, Any]], project: str) -> list[AppendResult]:
        """Deliver ``events`` (already built and checked by the SDK) and return one answer per event,
        in order. Raise :class:`TransportError` or :class:`StoreError` when the batch as a whole
        could not be delivered (it may then be retried as it is: event ids make that safe)."""

    @abstractmethod
    def close(self) -> None:
        """Release connections. Called once, by ``Client.close()``."""

    def after_fork(self) -> None:  # noqa: B027 - optional hook, a no-op by default
        """Called in a forked child before its first send: drop (never close) connections inherited
        from the parent, whose state belongs to the parent."""


class Spool(Protocol):
    """Where a batch goes when delivery has failed after every retry (e.g. the HTTP transport's
    :class:`preflog.sdk.spool.DiskSpool`, which it replays later). Without a spool such a batch is
    counted as ``failed``; a spool that refuses it with ``SpoolFull`` makes it ``dropped``."""

    def save(self, events: list[dict[str, Any]], project: str) -> None: ...


class LocalTransport(Transport):
    """Writes into the embedded store (a SQLite file by default) in the application's process.

    The store is opened on the first send, in the worker thread, so constructing a client does not
    import the store backend. ``store=`` passes an already open store instead (it is then closed by
    the caller, not by the transport).
    """

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

                self._store = open_store(self.db, limits=self.limits)
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


def make_transport(
    *,
    db: str | None = None,
    url: str | None = None,
    api_key: str | None = None,
    project: str = "default",
    limits: Limits | None = None,
) -> Transport:
    """The transport for a client's options: ``url=`` → HTTP (ingestion service), else the embedded
    store at ``db`` (``$PREFLOG_DB`` or ``./preflog.db`` when None)."""
    if url is not None:
        if db is not None:
            raise ConfigError("give db= (embedded store) or url= (ingestion service), not both")
        try:
            from preflog.sdk.http import HTTPTransport  # imported only when used
        except ImportError as exc:
            raise ConfigError(f"url=: the HTTP transport is not available in this install ({exc})") from exc
        return HTTPTransport(url, api_key=api_key, project=project)
    if api_key is not None:
        raise ConfigError("api_key= is for the HTTP transport (url=); the embedded store needs none")
    return LocalTransport(db, limits=limits)
