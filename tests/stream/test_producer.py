"""The service's sink against a real broker: valid events are on the topic, keyed so an inference
and its judgments share a partition, before ``append`` answers; a paused broker is an error
(``StoreUnavailable``), never a ``stored`` answer."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from confluent_kafka import Consumer, TopicPartition

from preflog.errors import StoreUnavailable
from preflog.events import new_id
from preflog.stream.producer import StreamSink, client_config, ensure_topic
from preflog.stream.url import StreamURL, parse_stream_url
from tests import factories
from tests.stream.broker import Broker

pytestmark = pytest.mark.stream


def read_all(url: StreamURL, expected: int, timeout_s: float = 30) -> list[tuple[int, dict[str, Any]]]:
    """Every message of the topic as ``(partition, event)``; assigned directly (no group wait)."""
    consumer = Consumer(client_config(url, **{"group.id": "reader-" + new_id(), "enable.auto.commit": False}))
    consumer.assign([TopicPartition(url.topic, p, 0) for p in range(url.partitions)])
    seen: list[tuple[int, dict[str, Any]]] = []
    deadline = time.monotonic() + timeout_s
    while len(seen) < expected and time.monotonic() < deadline:
        for message in consumer.consume(100, timeout=0.5):
            if message.error() is None:
                seen.append((int(message.partition() or 0), json.loads(message.value() or b"")))
    consumer.close()
    return seen


def test_valid_events_are_on_the_broker_when_append_answers(broker: Broker) -> None:
    url = parse_stream_url(broker.url("t-" + new_id()[:8], partitions=4))
    ensure_topic(url)
    ensure_topic(url)  # an existing topic is left as it is
    sink = StreamSink(url)
    requests = [new_id() for _ in range(5)]
    events: list[dict[str, Any]] = []
    for rid in requests:
        events += [factories.inference(rid), factories.preference(rid)]
    bad = {"type": "inference", "event_id": new_id()}
    answers = sink.append([*events, bad], project="demo")
    assert [a.status for a in answers] == ["stored"] * 10 + ["rejected"]
    assert answers[-1].field
    seen = read_all(url, 10)
    assert sorted(e["event_id"] for _, e in seen) == sorted(e["event_id"] for e in events)
    assert {e["project"] for _, e in seen} == {"demo"}
    partition_of = {}
    for partition, event in seen:  # an inference and its judgment share a partition
        assert partition_of.setdefault(event["request_id"], partition) == partition
    sink.close()


def test_an_event_naming_another_project_is_rejected_and_not_produced(broker: Broker) -> None:
    url = parse_stream_url(broker.url("t-" + new_id()[:8], partitions=1))
    ensure_topic(url)
    answers = StreamSink(url).append([factories.inference(project="other")], project="demo")
    assert (answers[0].status, answers[0].field) == ("rejected", "project")


def test_a_paused_broker_raises_unavailable_not_stored(broker: Broker) -> None:
    url = parse_stream_url(broker.url("t-" + new_id()[:8], partitions=1))
    ensure_topic(url)
    sink = StreamSink(url)  # the first batch (a fresh idempotent producer) gets the default bound
    assert sink.append([factories.inference()], project="demo")[0].status == "stored"
    sink.timeout = 2.0  # the paused batch waits this long for its acknowledgement
    broker.pause()
    try:
        with pytest.raises(StoreUnavailable, match="did not take the batch"):
            sink.append([factories.inference()], project="demo")
    finally:
        broker.resume()


def test_no_broker_at_all_raises_unavailable() -> None:
    from tests.server.live import free_port

    url = parse_stream_url(f"kafka://127.0.0.1:{free_port()}/nobody")
    with pytest.raises(StoreUnavailable):
        ensure_topic(url, timeout=1.0)
    with pytest.raises(StoreUnavailable):
        StreamSink(url, timeout=1.0).append([factories.inference()], project="demo")


def test_text_no_store_can_hold_is_rejected_and_big_integers_travel_exactly(broker: Broker) -> None:
    """orjson writes the messages; what it refuses goes the standard library's way: a lone
    surrogate is rejected naming its field (the store would refuse it; the batch's other events
    are produced), an integer beyond 64 bits is on the topic as written."""
    url = parse_stream_url(broker.url("t-" + new_id()[:8], partitions=1))
    ensure_topic(url)
    lone = factories.inference(prompt="broken \ud800 text")
    big = factories.inference(metadata={"seed": 123456789012345678901234567890})
    fine = factories.inference()
    answers = StreamSink(url).append([lone, big, fine], project="demo")
    assert [a.status for a in answers] == ["rejected", "stored", "stored"]
    assert answers[0].field == "prompt" and "lone surrogate" in (answers[0].reason or "")
    seen = {e["event_id"]: e for _, e in read_all(url, 2)}
    assert set(seen) == {big["event_id"], fine["event_id"]}
    assert seen[big["event_id"]]["metadata"]["seed"] == 123456789012345678901234567890
