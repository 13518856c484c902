"""Producing events to the stream: the service's sink instead of the store.

:class:`StreamSink` has the store's ``append(events, *, project)`` signature, so the ingest path
(:func:`preflog.server.ingest.ingest`) takes it unchanged. Each event is validated as the store
would (a bad one is ``rejected`` with its field and reason), the valid ones are produced with
``acks=all`` and ``enable.idempotence=True``, keyed by ``request_id`` (an erasure by its
``user_id``) so an inference and its judgments share a partition, and ``append`` returns only once
the broker has acknowledged every one of them. A broker that cannot be reached or refuses raises
:class:`preflog.errors.StoreUnavailable` (the service answers 503 with ``Retry-After``): an event
is never answered ``stored`` unless it is on the broker. After such a failure the producer is
replaced and the topic checked again at the next batch: a broker restarted without its data (or
with a new producer-id space) would otherwise leave librdkafka's idempotent producer in a fatal
state, or let the topic be auto-created with the broker's default partition count.

The same sink serves the SDK's ``kafka://`` transport (:mod:`preflog.sdk.kafka`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any, Final

from confluent_kafka import KafkaError, KafkaException, Message, Producer
from confluent_kafka.admin import AdminClient
from confluent_kafka.cimpl import NewTopic

try:
    import orjson as _orjson
except ImportError:  # the stream extra brings it; without it the standard library writes
    _orjson = None  # type: ignore[assignment]

from preflog.answers import AppendResult
from preflog.errors import StoreUnavailable, ValidationError
from preflog.events.contract import Limits
from preflog.store.common import encode_body, normalize_for_store
from preflog.stream.url import StreamURL

# The longest a batch waits for the broker's acks before the service answers 503: 10 s stays under
# the SDK's default request timeout, so the client sees the 503 (and spools) rather than its own
# timeout. A paused broker (SIGSTOP in tests/stream) is detected within this bound.
DELIVERY_TIMEOUT_S: Final = 10.0
# The largest message produced: the contract's limits allow ~4.3 MB (16 outputs of 256 KiB plus a
# 256 KiB prompt); a broker's own cap (message.max.bytes, 1 MB by default on Apache Kafka) must be
# raised to match, else such an event is answered rejected naming the broker's reason.
MAX_MESSAGE_BYTES: Final = 8 * 1024 * 1024


def client_config(url: StreamURL, **extra: Any) -> dict[str, Any]:
    """The config every preflog Kafka client shares. ``log_level`` 0: librdkafka would otherwise
    print a line to stderr every 50 ms while a broker is unreachable."""
    return {"bootstrap.servers": url.bootstrap, "log_level": 0, **extra}


def event_key(event: Mapping[str, Any]) -> bytes | None:
    """The partition key: ``request_id``, or for an erasure the ``user_id`` it erases."""
    key = event.get("user_id") if event.get("type") == "erasure" else event.get("request_id")
    return key.encode() if isinstance(key, str) else None


def message_value(event: dict[str, Any]) -> bytes:
    """The message: the normalized event as JSON. orjson writes it (~1 KB: 1.0 us against the
    standard library's 11 us); what orjson refuses (an integer beyond 64 bits, a lone surrogate)
    is written by the standard library, after the store's own check has rejected text no
    database can store (:func:`preflog.store.common.encode_body`'s ``ValidationError``, naming
    the field), so the stream carries only what a consumer can append."""
    if _orjson is not None:
        try:
            return _orjson.dumps(event)
        except TypeError:
            pass
    encode_body(event)  # raises ValidationError for a lone surrogate
    return json.dumps(event, separators=(",", ":"), ensure_ascii=False).encode()


def ensure_topic(url: StreamURL, *, timeout: float = DELIVERY_TIMEOUT_S) -> None:
    """Create the topic with the URL's partition count; an existing topic is left as it is
    (auto-created topics would get the broker's default, 4 on tansu)."""
    admin = AdminClient(client_config(url))
    futures = admin.create_topics(
        [NewTopic(url.topic, num_partitions=url.partitions, replication_factor=url.replication)],
        request_timeout=timeout,
    )
    try:
        futures[url.topic].result(timeout=timeout)
    except KafkaException as exc:
        if exc.args[0].code() != KafkaError.TOPIC_ALREADY_EXISTS:
            raise StoreUnavailable(f"cannot create topic {url.topic!r}: {exc.args[0].str()}") from None
    except Exception as exc:  # concurrent.futures.TimeoutError: the broker did not answer
        raise StoreUnavailable(f"cannot create topic {url.topic!r}: {str(exc) or 'timed out'}") from None


class StreamSink:
    """Validates and produces events; see the module docstring."""

    def __init__(
        self, url: StreamURL, *, limits: Limits | None = None, timeout: float = DELIVERY_TIMEOUT_S
    ) -> None:
        self.url = url
        self.limits = limits or Limits()
        self.timeout = timeout
        self._topic_ready = False
        self._producer = self._new_producer()

    def _new_producer(self) -> Producer:
        return Producer(
            client_config(
                self.url,
                acks="all",
                **{
                    "enable.idempotence": True,
                    "delivery.timeout.ms": int(self.timeout * 1000),
                    # an event may be a few MB (16 candidates of 256 KiB each): the default 1 MB
                    # cap would refuse it at produce()
                    "message.max.bytes": MAX_MESSAGE_BYTES,
                    # A 500-event batch of ~1 KB on 12 partitions was acknowledged after 12 ms
                    # uncompressed (tansu spent 7 ms of CPU on it), 2.2 ms in lz4 (2 ms): the
                    # broker and the consumers' fetches move the compressed batch. Every Kafka-
                    # protocol broker reads lz4; it is the cheapest codec for the producer's CPU.
                    "compression.type": "lz4",
                },
            )
        )

    def append(
        self, events: Sequence[Mapping[str, Any]], *, project: str, validated: bool = False
    ) -> list[AppendResult]:
        if not self._topic_ready:  # at the first batch, so a service can start before its broker
            ensure_topic(self.url, timeout=self.timeout)
            self._topic_ready = True
        results: list[AppendResult] = []
        failures: list[str] = []

        def delivered(err: KafkaError | None, _msg: Message) -> None:
            if err is not None:
                failures.append(err.str())

        sent = 0
        for raw in events:
            try:
                event = normalize_for_store(raw, project=project, validated=validated, limits=self.limits)
                value = message_value(event)
            except ValidationError as exc:
                event_id = raw.get("event_id") if isinstance(raw, Mapping) else None
                results.append(
                    AppendResult(
                        "rejected",
                        event_id=event_id if isinstance(event_id, str) else None,
                        field=exc.field or None,
                        reason=exc.reason,
                    )
                )
                continue
            refused = self._produce(event, value, delivered)
            if refused is not None:  # this one event cannot be a message (too large): never retried
                results.append(AppendResult("rejected", event_id=event.get("event_id"), reason=refused))
                continue
            sent += 1
            results.append(AppendResult("stored", event_id=event.get("event_id")))
        if sent:
            self._await(sent, failures)
        return results

    def _produce(self, event: dict[str, Any], value: bytes, delivered: Any) -> str | None:
        """Queue ``event`` as ``value``; None, or why librdkafka refused this very message."""
        while True:
            try:
                self._producer.produce(self.url.topic, value, key=event_key(event), on_delivery=delivered)
                return None
            except BufferError:  # the local queue is full: let deliveries drain, then retry
                self._producer.poll(0.1)
            except KafkaException as exc:
                return f"the stream refused the event ({len(value)} bytes): {exc.args[0].str()}"

    def _await(self, sent: int, failures: list[str]) -> None:
        left = self._producer.flush(self.timeout)
        if left or failures:
            reason = failures[0] if failures else f"{left} of {sent} not acknowledged in {self.timeout:g} s"
            self._reset()
            raise StoreUnavailable(
                f"the stream broker at {self.url.bootstrap} did not take the batch: {reason}"
            )

    def _reset(self) -> None:
        """A fresh producer and a fresh look at the topic for the next batch (module docstring).
        The old producer's queue is purged: the caller resends the whole batch (a duplicate in the
        store for any message that did reach the broker)."""
        old, self._producer = self._producer, self._new_producer()
        self._topic_ready = False
        old.purge(in_queue=True, in_flight=True, blocking=False)
        old.flush(0)

    def close(self, timeout: float | None = None) -> None:
        """Deliver what is queued, waiting at most ``timeout`` seconds (default: the delivery
        timeout)."""
        self._producer.flush(self.timeout if timeout is None else timeout)
