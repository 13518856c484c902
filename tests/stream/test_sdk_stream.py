"""``preflog.Client(url="kafka://...")`` against a real broker, read back by the consumer into a
store: every logged event is stored once; while the broker is down (killed, or paused with
SIGSTOP) the events go to the disk spool and the replayer delivers them once it answers."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest

import preflog
from preflog.events import new_id
from preflog.sdk.kafka import KafkaTransport
from preflog.store import open_store
from preflog.stream.consumer import StreamConsumer
from preflog.stream.url import parse_stream_url
from tests import factories
from tests.stream.broker import Broker

pytestmark = [pytest.mark.stream, pytest.mark.slow]
PROJECT = "p1"


def wait_until(check: Callable[[], bool], timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


def consume_all(url: str, db: str) -> list[str]:
    """The event ids the consumer stores from the whole topic (a fresh group reads it all)."""
    store = open_store(db)
    try:
        summary = StreamConsumer(parse_stream_url(url), store, group="g-" + new_id()[:6]).run(idle_exit_s=3)
        assert summary.rejected == 0
        return [e.event["event_id"] for e in store.read(project=PROJECT, limit=100_000)]
    finally:
        store.close()


def log(client: preflog.Client, n: int, tag: str) -> list[str]:
    return [client.log_inference(f"{tag} {i}", ["a", "b"], model="m") for i in range(n)]


def requests_of(db: str) -> set[str]:
    store = open_store(db)
    try:
        return {str(e.event["request_id"]) for e in store.read(project=PROJECT, limit=100_000)}
    finally:
        store.close()


def spooling_client(url: str, tmp_path: Path) -> preflog.Client:
    """A kafka:// client that spools a batch at its first failure (2 s without the broker's acks)
    and probes every second."""
    transport = KafkaTransport(url, project=PROJECT, timeout=2.0, spool_dir=tmp_path / "spool")
    return preflog.Client(
        project=PROJECT, transport=transport, max_retries=0, replay_backoff=0.2, replay_max_backoff=1.0
    )


def test_the_sdk_produces_to_the_stream_and_the_consumer_stores_each_event_once(
    broker: Broker, tmp_path: Path
) -> None:
    url = broker.url("t-" + new_id()[:8], partitions=3)
    client = preflog.Client(url=url, project=PROJECT, spool_dir=tmp_path / "spool")
    assert isinstance(client.transport, KafkaTransport)
    requests = log(client, 300, "q")
    for rid in requests[:100]:
        client.log_preference(rid, chosen="c0", rejected="c1")
    assert client.flush(timeout=60)
    stats = client.stats()
    assert (stats.sent, stats.spooled, stats.rejected) == (400, 0, 0)
    client.close()
    ids = consume_all(url, str(tmp_path / "events.db"))
    assert len(ids) == len(set(ids)) == 400
    assert requests_of(str(tmp_path / "events.db")) == set(requests)


def test_a_bad_event_is_rejected_per_event_as_the_service_would(broker: Broker, tmp_path: Path) -> None:
    transport = KafkaTransport(broker.url("t-" + new_id()[:8], partitions=1), spool=False)
    good, bad = factories.inference(), {**factories.inference(), "candidates": []}
    answers = transport.send([good, bad, factories.inference(project="other")], PROJECT)
    assert [a.status for a in answers] == ["stored", "rejected", "rejected"]
    assert answers[1].field and answers[1].reason
    assert answers[2].field == "project"
    transport.close()


def test_events_logged_while_the_broker_is_down_are_spooled_then_replayed(
    broker: Broker, tmp_path: Path
) -> None:
    # tansu keeps messages in memory only: what it held before the kill is gone, so this checks
    # the events logged during the outage (spooled) and after the restart.
    url = broker.url("t-" + new_id()[:8], partitions=3)
    client = spooling_client(url, tmp_path)
    log(client, 10, "before")
    assert client.flush(timeout=60) and client.stats().sent == 10
    broker.stop()
    during = log(client, 50, "during")
    wait_until(lambda: client.stats().spooled == 50)
    assert client.stats().spool_pending == 50
    broker.start()  # same port, empty
    wait_until(lambda: client.stats().spool_pending == 0)
    after = log(client, 20, "after")
    assert client.flush(timeout=60)
    assert client.stats().replayed == 50
    client.close()
    db = str(tmp_path / "events.db")
    ids = consume_all(url, db)
    assert len(ids) == len(set(ids))
    assert requests_of(db) == set(during) | set(after)


def test_events_logged_while_the_broker_is_paused_are_spooled_then_replayed(
    broker: Broker, tmp_path: Path
) -> None:
    url = broker.url("t-" + new_id()[:8], partitions=3)
    client = spooling_client(url, tmp_path)
    before = log(client, 10, "before")
    assert client.flush(timeout=60)
    broker.pause()
    try:
        during = log(client, 50, "during")
        wait_until(lambda: client.stats().spool_pending == 50)
    finally:
        broker.resume()
    wait_until(lambda: client.stats().spool_pending == 0)
    assert client.stats().replayed == 50
    client.close()
    db = str(tmp_path / "events.db")
    ids = consume_all(url, db)
    # a batch that timed out may still have reached the broker: its replay is then a duplicate
    assert len(ids) == len(set(ids)) == 60
    assert requests_of(db) == set(before) | set(during)
