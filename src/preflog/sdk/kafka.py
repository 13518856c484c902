"""The Kafka transport: the SDK produces straight to the stream (``url="kafka://HOST:PORT/TOPIC"``).

``preflog.Client(url="kafka://...", project=...)`` delivers each batch as ``serve --stream``
would: every event is validated as the service validates it (a bad one is answered ``rejected``
with its field and reason, per event), the valid ones are produced with ``acks=all`` and an
idempotent producer, keyed by ``request_id``, and the batch is answered only once the broker has
acknowledged them (:class:`preflog.stream.producer.StreamSink`, the service's own sink). A broker
that is down, paused or slower than ``timeout`` raises
:class:`~preflog.errors.StoreUnavailable` (a ``RetryableError``): the client retries, then keeps
the batch in its disk spool (``spool_dir``, ``PREFLOG_SPOOL_DIR``: the same spool as HTTP) and
its replayer delivers it when the broker answers. ``preflog consume`` then stores the events.

``confluent_kafka`` (the ``stream`` extra) is imported when such a client is made, never by
``import preflog``. The broker's own authentication (SASL, TLS) is not configured here: a
``kafka://`` client carries no API key.
"""

from __future__ import annotations

import os
import threading
from typing import TYPE_CHECKING, Any

from preflog.answers import AppendResult
from preflog.errors import ConfigError
from preflog.sdk.base import Transport
from preflog.sdk.spool import DEFAULT_MAX_BYTES, DiskSpool, default_spool_dir

if TYPE_CHECKING:
    from preflog.events import Limits
    from preflog.stream.producer import StreamSink

__all__ = ["KafkaTransport"]


class KafkaTransport(Transport):
    """Produces batches to the topic of ``url`` (``kafka://HOST:PORT[,HOST:PORT]/TOPIC``,
    ``?partitions=N`` for the topic it creates if missing). ``timeout``: the longest a batch waits
    for the broker's acknowledgements. ``spool*`` as for :class:`~preflog.sdk.http.HTTPTransport`.
    """

    # The broker's ack is the per-batch cost (like a store's commit): a backlog goes out in big
    # batches. The byte cap bounds the memory of one batch; each event is its own message.
    backlog_batch_size = 10_000
    batch_bytes = 32 * 1024 * 1024

    def __init__(
        self,
        url: str,
        *,
        project: str = "default",
        limits: Limits | None = None,
        timeout: float = 10.0,
        spool: bool = True,
        spool_dir: str | os.PathLike[str] | None = None,
        spool_max_bytes: int | None = None,
    ) -> None:
        from preflog.stream.url import parse_stream_url

        self.url = url
        self.stream = parse_stream_url(url)  # a StreamURLError (a ConfigError) names the bad part
        self._limits, self._timeout = limits, timeout
        self._sink = self._new_sink()
        self._orphans: list[StreamSink] = []  # producers inherited over fork: never destroyed here
        self._lock = threading.Lock()
        self.spool: DiskSpool | None = None
        if spool:
            where = spool_dir or default_spool_dir(url, project)
            self.spool = DiskSpool(where, max_bytes=spool_max_bytes or DEFAULT_MAX_BYTES)

    def _new_sink(self) -> StreamSink:
        try:
            from preflog.stream.producer import StreamSink
        except ImportError as exc:
            raise ConfigError(
                f"url={self.url!r}: a kafka:// client needs the stream extra "
                f"(pip install 'preflog[stream]'): {exc}"
            ) from None
        return StreamSink(self.stream, limits=self._limits, timeout=self._timeout)

    def send(self, events: list[dict[str, Any]], project: str) -> list[AppendResult]:
        """One attempt: per-event answers once the broker acknowledged the valid ones."""
        if not events:
            return []
        with self._lock:  # one batch at a time: a failed batch replaces the producer
            return self._sink.append(events, project=project)

    def close(self) -> None:
        # Every batch was answered only after its acks, so nothing acknowledged waits here: 1 s
        # at most, so a client closing while the broker is down does not hold its process 10 s.
        with self._lock:
            self._sink.close(timeout=1.0)

    def after_fork(self) -> None:
        # librdkafka's threads do not survive fork: the child's copy of the parent's producer must
        # be neither used nor destroyed (its destructor would wait for threads that are not there).
        self._orphans.append(self._sink)
        self._lock = threading.Lock()
        self._sink = self._new_sink()

    def __repr__(self) -> str:
        return f"KafkaTransport(url={self.url!r})"
