"""A consumer whose store append outlasts its place in the group: it is stuck appending for longer
than ``max.poll.interval.ms``, librdkafka takes it out of the group (LeaveGroup), the partition
goes to another member, which reads the batch again and goes on. When the stuck append finally
returns, every event in it is a ``duplicate``, its commit is refused by the broker (unknown
member: counted in ``commit_failures``), the committed offset never goes back, and every event
is in the store exactly once.

The other member starts once the stuck one has left: tansu leaves a member that asked to join
during the stuck member's pending rebalance unassigned for minutes after the LeaveGroup (a Kafka
broker assigns it then); with the group empty it is assigned within seconds."""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import Consumer, TopicPartition

from preflog.answers import AppendResult
from preflog.events import new_id
from preflog.store.sqlite import SQLiteStore
from preflog.stream.consumer import StreamConsumer
from preflog.stream.producer import StreamSink, client_config, ensure_topic
from preflog.stream.url import StreamURL, parse_stream_url
from tests import factories
from tests.stream.broker import Broker
from tests.stream.test_group_failures import wait_until

pytestmark = [pytest.mark.stream, pytest.mark.slow]
PROJECT = "p1"
# librdkafka requires max.poll.interval.ms >= session.timeout.ms (6,000 in the consumer)
MAX_POLL_MS = 7000


class StuckStore(SQLiteStore):
    """A real SQLite store whose first append waits for ``release`` before writing: a database
    stalled (a lock, a long checkpoint) for longer than the group waits for a member."""

    def __init__(self, path: str) -> None:
        super().__init__(path)
        self.entered, self.release = threading.Event(), threading.Event()

    def append(
        self, events: Sequence[Mapping[str, Any]], *, project: str, validated: bool = False
    ) -> list[AppendResult]:
        if not self.entered.is_set():
            self.entered.set()
            assert self.release.wait(120)
        return super().append(events, project=project, validated=validated)


def committed(url: StreamURL, group: str) -> int:
    reader = Consumer(client_config(url, **{"group.id": group, "enable.auto.commit": False}))
    try:
        return max(reader.committed([TopicPartition(url.topic, 0)], timeout=10)[0].offset, 0)
    finally:
        reader.close()


def test_a_member_stuck_in_its_append_past_the_poll_interval_loses_its_commit_not_events(
    broker: Broker, tmp_path: Path
) -> None:
    db, group = str(tmp_path / "events.db"), "g-" + new_id()[:6]
    url = parse_stream_url(broker.url("t-" + new_id()[:8], partitions=1))
    ensure_topic(url)
    sink = StreamSink(url)
    first, second = [factories.inference() for _ in range(100)], [factories.inference() for _ in range(100)]
    sink.append(first, project=PROJECT)
    stuck_store, other_store = StuckStore(db), SQLiteStore(db)
    stuck = StreamConsumer(url, stuck_store, group=group, max_poll_interval_ms=MAX_POLL_MS)
    runners = [threading.Thread(target=stuck.run)]
    runners[0].start()
    other: StreamConsumer | None = None
    try:
        assert stuck_store.entered.wait(120)  # it holds partition 0 and is stuck on the batch
        time.sleep(MAX_POLL_MS / 1000 + 3)  # librdkafka checks the interval once a second
        # (made only now: librdkafka joins the group at subscribe, and could be given partition 0)
        other = StreamConsumer(url, other_store, group=group, max_poll_interval_ms=MAX_POLL_MS)
        runners.append(threading.Thread(target=other.run))
        runners[1].start()
        # the group drops the stuck member after MAX_POLL_MS; the other re-reads the batch
        member = other
        wait_until(lambda: member.summary.stored == 100, what="the other member to store the batch")
        sink.append(second, project=PROJECT)
        wait_until(lambda: member.summary.stored == 200, what="the next batch")
        wait_until(lambda: committed(url, group) == 200, what="the other member's commit")
        stuck_store.release.set()  # the stuck append returns at last: every event a duplicate
        wait_until(lambda: stuck.summary.duplicate == 100, what="the stuck batch answered duplicate")
        assert (stuck.summary.received, stuck.summary.stored) == (100, 0), stuck.summary.line()
        wait_until(lambda: stuck.summary.commit_failures >= 1, what="the stale commit's refusal")
        assert committed(url, group) == 200  # the stale member's offset never went back
    finally:
        stuck_store.release.set()
        for consumer in (stuck, other):
            if consumer is not None:
                consumer.stop()
        for runner in runners:
            runner.join(timeout=60)
    ids = [e.event["event_id"] for e in other_store.read(project=PROJECT, limit=1000)]
    stuck_store.close()
    other_store.close()
    assert len(ids) == len(set(ids)) == 200
    assert set(ids) == {e["event_id"] for e in first + second}
