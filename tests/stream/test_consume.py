"""The consumer against a real broker and both stores: every event once, and a redelivery (a
second group reading the whole topic again, as after a crash before the commit) is harmless."""

from __future__ import annotations

import pytest

from preflog.events import new_id
from preflog.store.base import Store
from preflog.stream.consumer import StreamConsumer
from preflog.stream.producer import StreamSink
from preflog.stream.url import parse_stream_url
from tests import factories
from tests.store.conftest import backend, store
from tests.stream.broker import Broker

pytestmark = [pytest.mark.stream, pytest.mark.slow]
__all__ = ["backend", "store"]  # the store suite's parametrized fixtures: SQLite and PostgreSQL


def test_redelivery_is_answered_duplicate_on_both_stores(broker: Broker, store: Store) -> None:
    project = "p-" + new_id()[:10]
    url = parse_stream_url(broker.url("t-" + new_id()[:8], partitions=2))
    events = [factories.inference() for _ in range(30)]
    assert {a.status for a in StreamSink(url).append(events, project=project)} == {"stored"}
    first = StreamConsumer(url, store, group="g1-" + new_id()[:6]).run(idle_exit_s=3)
    assert (first.received, first.stored, first.duplicate) == (30, 30, 0)
    again = StreamConsumer(url, store, group="g2-" + new_id()[:6]).run(idle_exit_s=3)
    assert (again.received, again.stored, again.duplicate) == (30, 0, 30)
    ids = [e.event["event_id"] for e in store.read(project=project)]
    assert sorted(ids) == sorted(e["event_id"] for e in events)
