"""A consumer group under failure: one of two members SIGKILLed while the stream is busy, and
the store unavailable while a member consumes (a write-locked SQLite file; a PostgreSQL database
refusing connections). Every produced event ends up in the store exactly
once, and no offset is committed past events the store does not have."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest
from confluent_kafka import Consumer, TopicPartition
from psycopg import sql

from preflog.events import new_id
from preflog.store import open_store
from preflog.store.postgres import PostgresStore
from preflog.store.sqlite import SQLiteStore
from preflog.stream.consumer import StreamConsumer
from preflog.stream.producer import StreamSink, client_config, ensure_topic
from preflog.stream.url import StreamURL, parse_stream_url
from tests import factories
from tests.conftest import require
from tests.server.live import PREFLOG
from tests.stream.broker import Broker

pytestmark = [pytest.mark.stream, pytest.mark.slow]
PROJECT = "p1"


def wait_until(check: Callable[[], bool], timeout_s: float = 120, what: str = "") -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def stored_ids(db: str) -> list[str]:
    store = open_store(db)
    try:
        return [e.event["event_id"] for e in store.read(project=PROJECT, limit=100_000)]
    finally:
        store.close()


def committed(url: StreamURL, group: str) -> int:
    """The group's committed offsets, summed over the partitions (none committed: 0)."""
    reader = Consumer(client_config(url, **{"group.id": group, "enable.auto.commit": False}))
    try:
        offsets = reader.committed([TopicPartition(url.topic, p) for p in range(url.partitions)], timeout=10)
        return sum(max(tp.offset, 0) for tp in offsets)
    finally:
        reader.close()


def assignment(log: Path) -> set[int]:
    """The partitions a ``preflog consume`` holds now: its last "assigned partitions" line."""
    lines = [line for line in log.read_text().splitlines() if line.startswith("assigned partitions")]
    return set(json.loads(lines[-1].split(" ", 2)[2])) if lines else set()


def test_two_consumers_one_killed_while_busy_store_every_event_exactly_once(
    broker: Broker, tmp_path: Path
) -> None:
    db, group = str(tmp_path / "events.db"), "g-" + new_id()[:6]
    url = parse_stream_url(broker.url("t-" + new_id()[:8], partitions=4))
    ensure_topic(url)
    open_store(db).close()
    args = [*PREFLOG, "--db", db, "consume", "--stream", str(url), "--group", group, "--format", "json"]
    logs = [tmp_path / "a.log", tmp_path / "b.log"]
    members = [
        subprocess.Popen(args, stdout=subprocess.PIPE, stderr=open(log, "w"), text=True)  # noqa: SIM115
        for log in logs
    ]
    try:
        wait_until(  # both joined: their assignments split the topic between them
            lambda: (
                (assignment(logs[0]) | assignment(logs[1])) == set(range(4))
                and not assignment(logs[0]) & assignment(logs[1])
            ),
            what="the group to settle",
        )
        killed, survivor = members
        sink = StreamSink(url)
        events = [factories.inference() for _ in range(8000)]
        for start in range(0, len(events), 500):  # a busy stream: batches keep coming
            sink.append(events[start : start + 500], project=PROJECT)
            if start == 2000:
                wait_until(lambda: len(stored_ids(db)) > 0, what="the first stored events")
                killed.send_signal(signal.SIGKILL)
                killed.wait()
            time.sleep(0.1)
        at_kill = len(stored_ids(db))
        assert at_kill < len(events)
        wait_until(lambda: len(stored_ids(db)) == len(events), what="every event stored")
        survivor.send_signal(signal.SIGTERM)
        out, _ = survivor.communicate(timeout=60)
        assert survivor.returncode == 0
        summary = json.loads(out)
        assert summary["partitions"] == [0, 1, 2, 3]  # it took over the killed member's partitions
    finally:
        for member in members:
            if member.poll() is None:
                member.kill()
                member.wait()
    ids = stored_ids(db)
    assert len(ids) == len(set(ids)) == len(events)
    assert set(ids) == {e["event_id"] for e in events}


def test_a_write_locked_store_is_retried_and_no_offset_is_committed_past_it(
    broker: Broker, tmp_path: Path
) -> None:
    db, group = str(tmp_path / "events.db"), "g-" + new_id()[:6]
    url = parse_stream_url(broker.url("t-" + new_id()[:8], partitions=2))
    sink = StreamSink(url)
    first = [factories.inference() for _ in range(100)]
    sink.append(first, project=PROJECT)
    store = SQLiteStore(db, busy_timeout_s=0.5)  # a busy write fails after 0.5 s, not 30
    consumer = StreamConsumer(url, store, group=group)
    runner = threading.Thread(target=consumer.run)
    runner.start()
    try:
        wait_until(lambda: len(stored_ids(db)) == 100, what="the first batch")
        wait_until(lambda: committed(url, group) == 100, what="the first commit")
        lock = sqlite3.connect(db, isolation_level=None)
        lock.execute("BEGIN EXCLUSIVE")  # another process holds the file: every write fails busy
        try:
            second = [factories.inference() for _ in range(100)]
            sink.append(second, project=PROJECT)
            wait_until(lambda: consumer.summary.store_retries >= 2, what="retries")
            assert committed(url, group) == 100  # nothing committed past what the store has
        finally:
            lock.execute("ROLLBACK")
            lock.close()
        wait_until(lambda: committed(url, group) == 200, what="the commit after the outage")
    finally:
        consumer.stop()
        runner.join(timeout=60)
        store.close()
    ids = stored_ids(db)
    assert sorted(ids) == sorted(e["event_id"] for e in first + second)
    assert consumer.summary.stored == 200 and consumer.summary.duplicate == 0


@pytest.fixture
def outage_database() -> Iterator[tuple[str, Callable[[bool], None]]]:
    """A database of its own on the PostgreSQL test cluster, and a switch that makes it refuse
    every connection (``ALLOW CONNECTIONS false`` and its sessions ended) and take them again:
    an outage of this store that leaves the shared cluster running."""
    server = os.environ.get("PREFLOG_TEST_POSTGRES_URL")
    require(bool(server), "PREFLOG_TEST_POSTGRES_URL is not set (scripts/pg-test-cluster.sh start)")
    assert server
    name = "preflog_outage_" + new_id().replace("-", "")[:12]
    admin = psycopg.connect(server, autocommit=True)
    admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))

    def available(yes: bool) -> None:
        admin.execute(
            sql.SQL("ALTER DATABASE {} ALLOW_CONNECTIONS {}").format(sql.Identifier(name), sql.Literal(yes))
        )
        if not yes:
            admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", [name])

    base = server.split("?", 1)[0].rsplit("/", 1)[0]
    try:
        yield f"{base}/{name}", available
    finally:
        admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        admin.close()


def test_a_postgresql_outage_is_retried_and_no_offset_is_committed_past_it(
    broker: Broker, outage_database: tuple[str, Callable[[bool], None]]
) -> None:
    db, available = outage_database
    group = "g-" + new_id()[:6]
    url = parse_stream_url(broker.url("t-" + new_id()[:8], partitions=2))
    sink = StreamSink(url)
    first, second = [factories.inference() for _ in range(100)], [factories.inference() for _ in range(100)]
    sink.append(first, project=PROJECT)
    store = PostgresStore(db, timeout_s=1.0)
    consumer = StreamConsumer(url, store, group=group)
    runner = threading.Thread(target=consumer.run)
    runner.start()
    try:
        wait_until(lambda: committed(url, group) == 100, what="the first commit")
        available(False)
        try:
            sink.append(second, project=PROJECT)
            wait_until(lambda: consumer.summary.store_retries >= 2, what="retries")
            assert committed(url, group) == 100  # nothing committed past what the store has
        finally:
            available(True)
        wait_until(lambda: committed(url, group) == 200, what="the commit after the outage")
    finally:
        consumer.stop()
        runner.join(timeout=60)
        store.close()
    assert stored_ids(db) and sorted(stored_ids(db)) == sorted(e["event_id"] for e in first + second)
    assert consumer.summary.stored == 200
