"""Reading the stream into the store: ``preflog consume``.

Each polled batch is appended per project (the store answers a redelivered event ``duplicate``,
so a restart replays harmlessly), and only then are offsets committed, and only up to the last
offset of a gap-free run the store holds. Those commits go out asynchronously: the next batch is
polled and appended while the broker takes the commit, whose answer is served at a later poll (a
refusal is counted); a commit may trail the store, never lead it. On a partition revoke, and when
the consumer stops, the commit is synchronous, so the group's next owner starts where this one
ended. A store outage is retried with backoff (doubling from
0.5 s to 30 s): nothing is skipped and nothing past it is committed. On a partition revoke the
batch in hand is appended and committed before the partitions go; SIGTERM/SIGINT stop the loop
after the batch in hand (:meth:`StreamConsumer.stop`). With an ``archiver``
(:class:`preflog.stream.archiver.StreamArchiver`, ``consume --archive``) each commit is followed
by the archiver's turn, and the last one by a final run before the consumer leaves the group.
"""

from __future__ import annotations

import gc
import logging
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Final

from confluent_kafka import Consumer, KafkaError, KafkaException, Message, TopicPartition

from preflog.errors import RetryableError
from preflog.jsonread import loads
from preflog.store.base import Store
from preflog.stream.archiver import StreamArchiver
from preflog.stream.producer import client_config
from preflog.stream.url import StreamURL

logger = logging.getLogger("preflog")
# Events per poll, one store transaction each: 2,000 against 500 took the consumer from 0.59x to
# 0.77x the rate of direct 500-event PostgreSQL appends (mean of 3 pairs, bench/stream_ingest.py
# --consumer-batch, load 7): fewer commits of the store and of the offsets.
BATCH: Final = 2000
BACKOFF_FIRST_S: Final = 0.5
BACKOFF_MAX_S: Final = 30.0
MAX_POLL_INTERVAL_MS: Final = 30 * 60 * 1000


@dataclass
class ConsumeSummary:
    received: int = 0
    stored: int = 0
    duplicate: int = 0
    rejected: int = 0  # not JSON, or refused by the store: counted, committed, never retried
    conflict: int = 0
    store_retries: int = 0
    commit_failures: int = 0
    partitions: set[int] = field(default_factory=set)

    def line(self) -> str:
        return (
            f"consumed {self.received} events: {self.stored} stored, {self.duplicate} duplicate, "
            f"{self.conflict} conflict, {self.rejected} rejected; {self.store_retries} store retries"
            + (f"; {self.commit_failures} commits refused" if self.commit_failures else "")
        )


class StreamConsumer:
    """One member of consumer group ``group`` reading ``url``'s topic into ``store``."""

    def __init__(
        self,
        url: StreamURL,
        store: Store,
        *,
        group: str,
        batch: int = BATCH,
        on_assign: Callable[[list[int]], None] | None = None,
        sleep: Callable[[float], None] = time.sleep,
        archiver: StreamArchiver | None = None,
        max_poll_interval_ms: int = MAX_POLL_INTERVAL_MS,
    ) -> None:
        self.url, self.store, self.batch = url, store, batch
        self.archiver = archiver
        self._holding: set[int] = set()  # the partitions assigned to this member now
        self.summary = ConsumeSummary()
        self._on_assign = on_assign
        self._sleep = sleep
        self._stopping = False
        self._active_at = time.monotonic()
        self._pending: list[Message] = []
        self._sent: list[TopicPartition] = []  # the last asynchronous commit, until confirmed
        self._consumer = Consumer(
            client_config(
                url,
                **{
                    "group.id": group,
                    "enable.auto.commit": False,
                    "auto.offset.reset": "earliest",
                    # 6 s: a killed member's partitions move to the others within seconds
                    "session.timeout.ms": 6000,
                    # 30 min between polls before the group gives up on a live member (librdkafka:
                    # 5 min): an archive run of millions of events, or a store outage retried,
                    # holds the loop that long; a dead member is still noticed in 6 s
                    "max.poll.interval.ms": max_poll_interval_ms,
                    "on_commit": self._commit_answered,
                },
            )
        )
        self._consumer.subscribe([url.topic], on_assign=self._assigned, on_revoke=self._revoked)

    def stop(self) -> None:
        """Finish the batch in hand, commit it and return from :meth:`run`."""
        self._stopping = True

    def run(self, *, idle_exit_s: float | None = None) -> ConsumeSummary:
        """Consume until :meth:`stop` (or, with ``idle_exit_s``, until no message came for that
        long after the first assignment); then commit, leave the group and answer the summary."""
        self._active_at = time.monotonic()
        try:
            while not self._stopping:
                messages = self._consumer.consume(self.batch, timeout=0.5)
                self._pending = [m for m in messages if self._usable(m)]
                if self._pending:
                    self._flush(asynchronous=True)
                    self._active_at = time.monotonic()
                elif self._idle(idle_exit_s):
                    break
                elif self.archiver is not None:  # a quiet partition 0: the others' commits too
                    self.archiver.tick(self._holding)
            self._confirm()
            if self.archiver is not None:  # the last commit's archive, while still in the group
                self.archiver.tick(self._holding, final=True)
        finally:
            self._consumer.close()
        return self.summary

    def _idle(self, idle_exit_s: float | None) -> bool:
        """Idle since the last batch or assignment (a member waits ~11–23 s for its partitions)."""
        if idle_exit_s is None or not self.summary.partitions:
            return False
        return time.monotonic() - self._active_at > idle_exit_s

    def _usable(self, message: Message) -> bool:
        # An error message (a broker hiccup librdkafka retries itself) carries no event.
        return message.error() is None

    def _assigned(self, _consumer: Consumer, partitions: list[TopicPartition]) -> None:
        numbers = [p.partition for p in partitions]
        self.summary.partitions.update(numbers)
        self._holding.update(numbers)
        self._active_at = time.monotonic()
        if self._on_assign is not None:
            self._on_assign(numbers)

    def _revoked(self, _consumer: Consumer, partitions: list[TopicPartition]) -> None:
        if self._pending:
            self._flush(asynchronous=False)
        self._confirm()
        self._holding.difference_update(p.partition for p in partitions)

    def _flush(self, *, asynchronous: bool) -> None:
        """Append the batch in hand (retrying a store outage), then commit its offsets."""
        messages, self._pending = self._pending, []
        by_project: dict[str, list[dict[str, Any]]] = defaultdict(list)
        self.summary.received += len(messages)
        with _collector_paused():
            for message in messages:
                event = _decode(message.value())
                if event is None:
                    self.summary.rejected += 1
                else:
                    by_project[str(event.get("project", ""))].append(event)
        for project, events in by_project.items():
            for status, count in Counter(self._append(events, project)).items():
                setattr(self.summary, status, getattr(self.summary, status) + count)
        self._commit(messages, asynchronous=asynchronous)
        if self.archiver is not None:
            self.archiver.tick(self._holding)

    def _append(self, events: list[dict[str, Any]], project: str) -> list[str]:
        delay = BACKOFF_FIRST_S
        while True:
            try:
                with _collector_paused():  # not over the backoff's sleeps: a store outage may last
                    return [r.status for r in self.store.append(events, project=project)]
            except RetryableError:
                self.summary.store_retries += 1
                self._sleep(delay)
                delay = min(delay * 2, BACKOFF_MAX_S)

    def _commit(self, messages: list[Message], *, asynchronous: bool) -> None:
        """Commit, per partition, the offset after the last message handled. Every message of the
        batch is in the store by now (the append is retried until it is), and ``consume`` hands a
        partition's messages in order from its committed position, so the run is gap-free."""
        last: dict[int, int] = {}
        for message in messages:
            partition, offset = message.partition(), message.offset()
            if partition is not None and offset is not None:
                last[partition] = max(offset, last.get(partition, -1))
        if last:
            offsets = [TopicPartition(self.url.topic, p, o + 1) for p, o in last.items()]
            self._send(offsets, asynchronous=asynchronous)

    def _send(self, offsets: list[TopicPartition], *, asynchronous: bool) -> None:
        self._sent = offsets if asynchronous else []
        try:
            if asynchronous:
                self._consumer.commit(offsets=offsets, asynchronous=True)
            else:
                self._consumer.commit(offsets=offsets, asynchronous=False)
        except KafkaException as exc:
            self._refused(exc.args[0])

    def _confirm(self) -> None:
        """Before the partitions go (a revoke, the stop): the last asynchronous commit again,
        synchronously, so the next owner starts after it whatever became of the first."""
        if self._sent:
            self._send(self._sent, asynchronous=False)

    def _commit_answered(self, error: KafkaError | None, partitions: list[TopicPartition]) -> None:
        """librdkafka's answer to a commit, served at a later poll."""
        failed = error or next((p.error for p in partitions if p.error is not None), None)
        if failed is not None and failed.code() != KafkaError._NO_OFFSET:
            self._refused(failed)

    def _refused(self, error: KafkaError) -> None:
        # The group moved on without this member (a store outage or an archive run kept it from
        # polling past max.poll.interval.ms): the partitions' new owner appends the batch again,
        # answered duplicate. Counted, and the loop goes on (it rejoins).
        self.summary.commit_failures += 1
        logger.warning("preflog consume: commit refused: %s", error.str())


@contextmanager
def _collector_paused() -> Iterator[None]:
    """The cyclic garbage collector off while a batch is decoded and appended. A batch's decoded
    events, their validated copies and rows (~60,000 containers for 2,000 events) hold no
    reference cycles, so reference counting frees them all; while they are alive, every 700
    allocations made the collector walk them: 747 collections and 0.13 s of a 2.5 s run of 30,000
    events (5%), 0.00 s paused.
    It is on again after each (also when it raised, and during a store outage's backoff): an
    embedding host's cycles wait ~0.1 s at most."""
    if not gc.isenabled():  # the host turned it off: leave it so
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def _decode(value: bytes | str | None) -> dict[str, Any] | None:
    """The message's event, as ``json.loads`` reads it (:func:`preflog.jsonread.loads`: orjson
    where its answer is the same); None for what is no event at all."""
    if value is None:
        return None
    try:
        event = loads(value)
    except (ValueError, RecursionError):  # not JSON, not UTF-8, nested too deeply
        return None
    return event if isinstance(event, dict) else None
