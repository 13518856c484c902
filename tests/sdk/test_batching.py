"""The background batcher: flush, counters that add up, full-queue policies, stuck and failing
backends that never raise into the caller, size limits checked off the caller's thread."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import preflog
from preflog.errors import StoreUnavailable
from preflog.events import Limits
from preflog.sdk import ClientStats, LocalTransport
from preflog.store.base import AppendResult
from tests.sdk.conftest import stored, wait_until, write_locked

MakeClient = Callable[..., preflog.Client]


def adds_up(stats: ClientStats) -> bool:
    return stats.logged == (
        stats.queued
        + stats.in_flight
        + stats.sent
        + stats.duplicates
        + stats.conflicts
        + stats.rejected
        + stats.failed
        + stats.spooled
        + stats.dropped
    )


def log(client: preflog.Client, n: int, prefix: str = "q") -> list[str]:
    return [client.log_inference(f"{prefix} {i}", ["a", "b"], model="m") for i in range(n)]


def test_flush_delivers_everything_and_stats_add_up(make_client: MakeClient, db: str) -> None:
    client = make_client(batch_size=50, max_batch_size=50, flush_interval=60)
    ids = log(client, 420)
    rid = ids[0]
    client.log_preference(rid, chosen="c0", rejected="c1")
    assert client.flush(timeout=10)
    stats = client.stats()
    assert (stats.logged, stats.sent, stats.queued, stats.in_flight) == (421, 421, 0, 0)
    assert stats.batches >= 9 and adds_up(stats)
    assert sorted(e.request_id or "" for e in stored(db) if e.type == "inference") == sorted(ids)


def test_interval_sends_a_partial_batch_without_flush(make_client: MakeClient, db: str) -> None:
    client = make_client(batch_size=1000, flush_interval=0.05)
    log(client, 3)
    wait_until(lambda: client.stats().sent == 3)
    assert len(stored(db)) == 3


def test_a_full_batch_is_sent_without_waiting_for_the_interval(make_client: MakeClient) -> None:
    client = make_client(batch_size=10, flush_interval=60)
    log(client, 10)
    wait_until(lambda: client.stats().sent == 10)


def test_batches_are_split_by_bytes(make_client: MakeClient) -> None:
    client = make_client(batch_size=100, flush_interval=60, max_batch_bytes=20_000)
    for i in range(100):
        client.log_inference(f"q{i}", ["x" * 1000, "y" * 1000], model="m")
    assert client.flush(timeout=10)
    stats = client.stats()
    assert stats.sent == 100 and stats.batches >= 10  # ~2.3 KB each: at most ~9 per 20 KB batch


def test_same_event_id_twice_is_counted_as_duplicate(make_client: MakeClient) -> None:
    client = make_client()
    given = "0f8fad5b-d9cb-469f-a165-70867728950e"
    when = "2026-11-26T10:00:00Z"  # the same content needs the same time: the call time would differ
    client.log_preference("r", chosen="c0", rejected="c1", event_id=given, occurred_at=when)
    client.flush(timeout=10)
    client.log_preference("r", chosen="c0", rejected="c1", event_id=given, occurred_at=when)
    client.log_preference("r", chosen="c1", rejected="c0", event_id=given, occurred_at=when)
    client.flush(timeout=10)
    stats = client.stats()
    assert (stats.sent, stats.duplicates, stats.conflicts) == (1, 1, 1)
    assert stats.last_error is not None and "conflict" in stats.last_error and adds_up(stats)


def test_size_limits_are_checked_in_the_worker_and_counted(
    make_client: MakeClient, db: str, caplog: pytest.LogCaptureFixture
) -> None:
    limits = Limits(max_output_bytes=100, max_prompt_bytes=100, max_candidates=2, max_metadata_bytes=50)
    client = make_client(limits=limits)
    with caplog.at_level(logging.WARNING, logger="preflog"):
        client.log_inference("q", ["x" * 101], model="m")  # data, not a programming error: no raise
        client.log_inference("q" * 101, ["a"], model="m")
        client.log_inference("q", ["a", "b", "c"], model="m")
        client.log_inference("q", ["a"], model="m", metadata={"blob": "z" * 100})
        client.log_inference("q", ["a\x00"], model="m")
        client.log_inference("q", ["a"], model="m", metadata={"not json": object()})
        client.log_preference("r", chosen="c0", rejected="c1", rationale="w" * 20_000)
        ok = client.log_inference("q", ["fine"], model="m")
        assert client.flush(timeout=10)
    stats = client.stats()
    assert (stats.rejected, stats.sent) == (7, 1) and adds_up(stats)
    assert [e.request_id for e in stored(db)] == [ok]
    assert "rationale" in (stats.last_error or "")
    warnings = [r for r in caplog.records if "rejected" in r.getMessage()]
    assert len(warnings) == 1  # the first one only; later ones are logged 1 in warn_every


def test_stuck_backend_flush_times_out_and_the_caller_is_not_slowed(make_client: MakeClient, db: str) -> None:
    client = make_client(batch_size=5, flush_interval=0.05)
    log(client, 1)
    assert client.flush(timeout=10)  # the file exists with its schema
    with write_locked(db):
        started = time.monotonic()
        log(client, 20)
        assert time.monotonic() - started < 0.5  # logging only enqueues
        assert client.flush(timeout=0.3) is False
        stats = client.stats()
        assert stats.sent == 1 and stats.in_flight + stats.queued == 20 and adds_up(stats)
    assert client.flush(timeout=30)
    assert client.stats().sent == 21
    assert len(stored(db)) == 21


@pytest.mark.parametrize(
    ("policy", "sent", "dropped"),
    [("drop_new", ["q 0", "q 1", "q 2", "q 3"], 3), ("drop_oldest", ["q 0", "q 4", "q 5", "q 6"], 3)],
)
def test_full_queue_policy_drops_and_counts(
    make_client: MakeClient, db: str, policy: str, sent: list[str], dropped: int
) -> None:
    client = make_client(batch_size=1, max_queue=3, on_full=policy, flush_interval=0.05)
    log(client, 1)
    assert client.flush(timeout=10)
    with write_locked(db):
        client.log_inference("q 0", ["a"], model="m")
        wait_until(lambda: client.stats().in_flight == 1)  # the worker holds it, waiting on the lock
        for i in range(1, 7):
            client.log_inference(f"q {i}", ["a"], model="m")
        stats = client.stats()
        assert stats.queued == 3 and stats.dropped == dropped and adds_up(stats)  # memory bounded
    assert client.flush(timeout=30)
    stats = client.stats()
    assert (stats.sent, stats.dropped, stats.logged) == (5, dropped, 8) and adds_up(stats)
    prompts = [e.event["prompt"] for e in stored(db)][1:]
    assert prompts == sent


def test_block_policy_waits_for_room_then_drops(make_client: MakeClient, db: str) -> None:
    client = make_client(batch_size=1, max_queue=2, on_full="block", block_timeout=0.5, flush_interval=0.05)
    log(client, 1)
    assert client.flush(timeout=10)
    with write_locked(db):
        log(client, 1)
        wait_until(lambda: client.stats().in_flight == 1)
        log(client, 2)
        started = time.monotonic()
        log(client, 1)  # no room: waits block_timeout, then drops
        assert time.monotonic() - started >= 0.5
        assert client.stats().dropped == 1
    assert client.flush(timeout=30)
    # With room made by the worker, a blocked call gets in.
    with write_locked(db):
        log(client, 1)
        wait_until(lambda: client.stats().in_flight == 1)
        log(client, 2)
        waiter = threading.Thread(target=log, args=(client, 1))
        waiter.start()
        time.sleep(0.05)
    waiter.join(timeout=10)
    assert client.flush(timeout=30)
    stats = client.stats()
    assert (stats.sent, stats.dropped) == (8, 1) and adds_up(stats)


def test_failing_store_is_retried_counted_and_never_raised(
    make_client: MakeClient, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # A real failing backend: the "database" is a file of garbage, which SQLite refuses to open.
    broken = tmp_path / "broken.db"
    broken.write_bytes(b"this is not a database" * 100)
    client = make_client(db=str(broken), batch_size=10, max_batch_size=10, max_retries=2, retry_backoff=0.01)
    with caplog.at_level(logging.WARNING, logger="preflog"):
        log(client, 25)
        assert client.flush(timeout=30)  # everything was handled (here: counted as failed)
    stats = client.stats()
    # "file is not a database" is a StoreError, not a RetryableError: it cannot succeed as it is, so
    # it is answered once (one retry policy: only RetryableError is retried; see test_retry.py).
    assert (stats.failed, stats.sent, stats.retries, stats.batches) == (25, 0, 0, 0)  # 10 + 10 + 5
    assert "not a database" in (stats.last_error or "") and adds_up(stats)
    assert len([r for r in caplog.records if "could not deliver" in r.getMessage()]) == 1
    # The backend recovers (the bad file is gone): later events go through.
    broken.unlink()
    log(client, 5)
    assert client.flush(timeout=30)
    assert client.stats().sent == 5
    assert len(stored(str(broken))) == 5


class SlowThenFailingTransport(LocalTransport):
    """A stuck-then-down backend on demand, over the real store. A real SQLite file cannot be made
    to hang mid-call and then fail at a chosen moment, so this transport sleeps and raises itself."""

    def __init__(self, db: str) -> None:
        super().__init__(db)
        self.delay = 0.0
        self.down = False

    def send(self, events: list[dict[str, Any]], project: str) -> list[AppendResult]:
        time.sleep(self.delay)
        if self.down:
            raise StoreUnavailable("connection refused (test: the backend is down)")
        return super().send(events, project)


class ListSpool:
    def __init__(self) -> None:
        self.batches: list[list[dict[str, Any]]] = []

    def save(self, events: list[dict[str, Any]], project: str) -> None:
        self.batches.append(events)


def test_failed_batches_go_to_the_spool(make_client: MakeClient, db: str) -> None:
    transport = SlowThenFailingTransport(db)
    transport.down = True
    spool = ListSpool()
    client = make_client(db=None, transport=transport, spool=spool, max_retries=1, retry_backoff=0.01)
    log(client, 7)
    assert client.flush(timeout=10)
    stats = client.stats()
    assert (stats.spooled, stats.failed, stats.retries) == (7, 0, stats.batches + 1) and adds_up(stats)
    assert sum(len(b) for b in spool.batches) == 7


def test_close_with_a_slow_backend_returns_in_time(make_client: MakeClient, db: str) -> None:
    transport = SlowThenFailingTransport(db)
    transport.delay = 2.0
    client = make_client(db=None, transport=transport, batch_size=1)
    log(client, 3)
    started = time.monotonic()
    assert client.close(timeout=0.3) is False
    assert time.monotonic() - started < 2.0
    client.log_inference("after close", ["a"], model="m")  # counted as dropped, not raised
    assert client.stats().dropped >= 1


def test_context_manager_flushes_and_logging_after_close_is_dropped(db: str) -> None:
    with preflog.Client(db=db, project="ctx", flush_interval=60) as client:
        log(client, 5)
    assert len(stored(db, "ctx")) == 5
    client.log_inference("late", ["a"], model="m")
    stats = client.stats()
    assert (stats.sent, stats.dropped) == (5, 1) and adds_up(stats)
    assert client.close() is True  # closing twice is harmless


def test_many_threads_log_at_once(make_client: MakeClient, db: str) -> None:
    client = make_client(batch_size=100, max_queue=100_000)
    threads = [threading.Thread(target=log, args=(client, 500, f"t{t}")) for t in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert client.flush(timeout=30)
    stats = client.stats()
    assert (stats.logged, stats.sent) == (4000, 4000) and adds_up(stats)
    assert len(stored(db)) == 4000


def test_store_that_cannot_open_is_counted_and_the_host_goes_on(
    make_client: MakeClient, tmp_path: Path
) -> None:
    # A real failing backend: the db path is an existing directory, which SQLite cannot open.
    folder = tmp_path / "a-directory.db"
    folder.mkdir()
    client = make_client(db=str(folder), batch_size=5, max_retries=1, retry_backoff=0.01)
    ids = log(client, 12)
    assert len(set(ids)) == 12  # every call returned its request id as usual
    assert client.flush(timeout=30)
    stats = client.stats()
    assert (stats.failed, stats.sent, stats.batches) == (12, 0, 0) and adds_up(stats)
    assert stats.last_error and stats.last_error.startswith("delivery failed")


def test_stats_snapshot_as_dict(make_client: MakeClient) -> None:
    client = make_client()
    log(client, 3)
    assert client.flush(timeout=10)
    stats = client.stats()
    as_dict = stats.to_dict()
    assert stats.stored == stats.sent == as_dict["stored"] == as_dict["sent"] == 3
    assert set(as_dict) >= {"queued", "sent", "stored", "duplicates", "rejected", "failed", "dropped"}
    assert {"batches", "last_error", "logged"} <= set(as_dict)
