"""``preflog consume --archive``: the consumer also keeps the Parquet archive, written from the
store after its commits, so the archive holds exactly what the store holds, for every project."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from preflog.archive import ArchiveStore
from preflog.events import new_id
from preflog.store import open_store
from preflog.stream.archiver import StreamArchiver
from preflog.stream.producer import StreamSink
from preflog.stream.url import parse_stream_url
from tests import factories
from tests.server.live import PREFLOG
from tests.stream.broker import Broker

pytestmark = [pytest.mark.stream, pytest.mark.slow]


def test_consume_with_archive_archives_what_the_store_holds(broker: Broker, tmp_path: Path) -> None:
    db, out = str(tmp_path / "events.db"), str(tmp_path / "archive")
    url = broker.url("t-" + new_id()[:8], partitions=2)
    sink = StreamSink(parse_stream_url(url))
    produced = {
        "p1": [factories.inference() for _ in range(300)],
        "p2": [factories.inference() for _ in range(40)],
    }
    for project, events in produced.items():
        sink.append(events, project=project)
    args = [*PREFLOG, "--db", db, "consume", "--stream", url, "--group", "g-" + new_id()[:6]]
    done = subprocess.run(
        [*args, "--archive", out, "--idle-exit", "3", "--format", "json"],
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    summary = json.loads(done.stdout)
    assert summary["stored"] == 340 and summary["archive"]["events"] == 340
    assert summary["archive"]["errors"] == 0
    store = open_store(db)
    try:
        for project, events in produced.items():
            archived = ArchiveStore(out, project=project, store=store)
            assert archived.watermark == store.last_position(project=project)
            in_archive = [e.event["event_id"] for e in archived.read(project=project, limit=10_000)]
            assert sorted(in_archive) == sorted(e["event_id"] for e in events)
    finally:
        store.close()


def test_only_the_member_holding_partition_0_archives_at_most_every_interval(tmp_path: Path) -> None:
    store = open_store(str(tmp_path / "events.db"))
    now = [0.0]
    archiver = StreamArchiver(store, out=str(tmp_path / "a"), interval=60, clock=lambda: now[0])
    store.append([factories.inference()], project="p1")
    archiver.tick({1, 2})
    assert archiver.counts.runs == 0  # partition 0 is another member's: it archives
    archiver.tick({0, 1})
    assert (archiver.counts.runs, archiver.counts.events) == (1, 1)
    store.append([factories.inference()], project="p1")
    now[0] = 59.0
    archiver.tick({0})
    assert archiver.counts.runs == 1  # not yet: once a minute
    archiver.tick({0}, final=True)  # the consumer stops: its last commit is archived
    assert (archiver.counts.runs, archiver.counts.events) == (2, 2)
    store.close()


def test_an_archive_that_fails_is_counted_and_tried_again(tmp_path: Path) -> None:
    store = open_store(str(tmp_path / "events.db"))
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("x")
    archiver = StreamArchiver(store, out=str(blocker / "archive"), interval=0)
    store.append([factories.inference()], project="p1")
    archiver.tick({0})
    assert archiver.counts.errors == 1 and "p1" in str(archiver.counts.last_error)
    blocker.unlink()  # the storage is back
    archiver.tick({0})
    assert (archiver.counts.errors, archiver.counts.events) == (1, 1)
    store.close()
