"""The transport interface: what carries a batch of built events from the SDK's worker to a store.

A transport is small on purpose, so that a new one (a Kafka producer, say) is a page of code:

* :meth:`Transport.send` makes **one attempt** to deliver a batch and answers **per event**, in
  order (:class:`~preflog.answers.AppendResult`: ``stored``, ``duplicate``, ``conflict``, or
  ``rejected`` with field and reason). When the batch as a whole was not delivered it raises:
  :class:`~preflog.errors.RetryableError` when trying again may help (the client's retry policy
  retries it, then spools it), :class:`~preflog.errors.Unauthorized` when the credentials were
  refused (spooled at once, replayed slowly, never counted as rejected), any other
  :class:`~preflog.errors.PreflogError` when it cannot be delivered as things are (spooled, or
  counted as failed without a spool).
* :meth:`Transport.close` and :meth:`Transport.after_fork` release connections.
* Optional attributes tune the client: ``backlog_batch_size``, ``batch_bytes``, and ``retry``
  (the transport's own :class:`~preflog.sdk.retry.RetryPolicy`, else the client's).

Retrying, spooling, replaying and counting are the client's (:mod:`preflog.sdk.batcher`,
:mod:`preflog.sdk.replay`), the same for every transport. This module imports no store code.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, Any, Protocol

from preflog.answers import AppendResult

if TYPE_CHECKING:
    from preflog.sdk.retry import RetryPolicy

__all__ = ["AppendResult", "Spool", "Transport"]


class Transport(ABC):
    """Delivers batches of events for one project. Called from the SDK's worker thread, and from
    its replay thread when the client has a spool (so ``send`` must be thread-safe).

    ``backlog_batch_size``: when events pile up faster than they are delivered, the client takes
    up to this many per batch (None: never more than its ``batch_size``). A store with a fixed cost
    per batch (a commit) wants it large; a service with a request size limit leaves it None.
    ``batch_bytes``: the estimated JSON bytes of one batch at most, unless the client is given
    ``max_batch_bytes=``. ``retry``: this transport's retry policy, or None for the client's.
    """

    backlog_batch_size: int | None = None
    batch_bytes: int = 4 * 1024 * 1024
    retry: RetryPolicy | None = None

    @abstractmethod
    def send(self, events: list[dict[str, Any]], project: str) -> list[AppendResult]:
        """Deliver ``events`` (already built and checked by the SDK) in one attempt and return one
        answer per event, in order; raise (see the module's docstring) when the batch as a whole
        was not delivered. Sending the same batch again must be safe: event ids make it so."""

    @abstractmethod
    def close(self) -> None:
        """Release connections. Called once, by ``Client.close()``."""

    def after_fork(self) -> None:  # noqa: B027 - optional hook, a no-op by default
        """Called in a forked child before its first send: drop (never close) connections inherited
        from the parent, whose state belongs to the parent."""


class Spool(Protocol):
    """Where a batch goes when it could not be delivered (e.g. :class:`preflog.sdk.spool.DiskSpool`,
    which the client replays later). Without a spool such a batch is counted as ``failed``; a
    spool that refuses it with ``SpoolFull`` makes it ``dropped``."""

    def save(self, events: list[dict[str, Any]], project: str) -> None: ...
