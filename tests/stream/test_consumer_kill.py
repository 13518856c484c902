"""``preflog consume`` SIGKILLed while it stores, then started again: every produced event is in
the store exactly once (uncommitted batches are redelivered and answered ``duplicate``)."""

from __future__ import annotations

import signal
import subprocess
import time
from pathlib import Path

import pytest

from preflog.events import new_id
from preflog.store import open_store
from preflog.stream.producer import StreamSink
from preflog.stream.url import parse_stream_url
from tests import factories
from tests.server.live import PREFLOG
from tests.stream.broker import Broker

pytestmark = [pytest.mark.stream, pytest.mark.slow]


def _count(db: str, project: str) -> list[str]:
    store = open_store(db)
    try:
        return [e.event["event_id"] for e in store.read(project=project, limit=100_000)]
    finally:
        store.close()


def test_a_consumer_killed_while_storing_and_restarted_stores_each_event_once(
    broker: Broker, tmp_path: Path
) -> None:
    db, project, group = str(tmp_path / "events.db"), "p1", "g-" + new_id()[:6]
    url = broker.url("t-" + new_id()[:8], partitions=3)
    events = [factories.inference() for _ in range(6000)]
    sink = StreamSink(parse_stream_url(url))
    for start in range(0, len(events), 1000):
        sink.append(events[start : start + 1000], project=project)
    open_store(db).close()
    args = [*PREFLOG, "--db", db, "consume", "--stream", url, "--group", group]
    first = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline and not _count(db, project):
        time.sleep(0.05)
    first.send_signal(signal.SIGKILL)
    first.wait()
    assert 0 < len(_count(db, project)) < len(events)  # killed while it was storing
    done = subprocess.run([*args, "--idle-exit", "3"], capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr[-2000:]
    ids = _count(db, project)
    assert len(ids) == len(set(ids)) == len(events)
    assert set(ids) == {e["event_id"] for e in events}


def test_sigterm_stops_the_consumer_with_a_summary(broker: Broker, tmp_path: Path) -> None:
    db, project = str(tmp_path / "events.db"), "p1"
    url = broker.url("t-" + new_id()[:8], partitions=2)
    StreamSink(parse_stream_url(url)).append([factories.inference() for _ in range(50)], project=project)
    open_store(db).close()
    args = [*PREFLOG, "--db", db, "consume", "--stream", url, "--group", "g-" + new_id()[:6]]
    process = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline and len(_count(db, project)) < 50:
        time.sleep(0.1)
    process.send_signal(signal.SIGTERM)
    out, _ = process.communicate(timeout=60)
    assert process.returncode == 0
    assert "consumed 50 events: 50 stored, 0 duplicate" in out
