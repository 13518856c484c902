"""The spool's replays when two of them meet, in one process or two: a claim left behind by a
replay of this very process, and a put-back that happens while another replayer looks. Each test
forces the interleaving that once left events in the spool for good (the CI flake of
tests/transport/test_http_transport.py::test_events_spool_while_the_service_is_down_and_arrive_once_it_is_up:
the second client of a spool replayed nothing for 30 s, 30 events pending, no error)."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any

import pytest

from preflog.sdk.local import LocalTransport
from preflog.sdk.replay import Replayer
from preflog.sdk.spool import DiskSpool
from tests import factories as f
from tests.sdk.conftest import PROJECT, stored


def spooled(directory: Path, count: int) -> tuple[DiskSpool, list[str]]:
    spool = DiskSpool(directory)
    events = [dict(f.inference(), project=PROJECT) for _ in range(count)]
    spool.save(events, PROJECT)
    return spool, [str(e["event_id"]) for e in events]


def claims(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if ".replaying" in p.name)


def rename_after_shared_lock(monkeypatch: pytest.MonkeyPatch, source: Path, target: Path) -> None:
    """Another process's rename (a claim, a put-back) right as a reader lets the spool's shared
    lock go: ``source`` becomes ``target`` once, after the reader's locked listing."""
    real = DiskSpool._locked

    def racing(self: DiskSpool, *, exclusive: bool) -> AbstractContextManager[None]:
        @contextmanager
        def locked() -> Iterator[None]:
            with real(self, exclusive=exclusive):
                yield
            if not exclusive and source.exists():
                source.rename(target)

        return locked()

    monkeypatch.setattr(DiskSpool, "_locked", racing)


def wait_for(condition: Any, seconds: float = 20) -> bool:
    deadline = time.monotonic() + seconds
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.05)
    return bool(condition())


def test_a_claim_left_by_a_replay_of_this_process_is_put_back(
    tmp_path: Path, db: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A replay whose put-back fails (here: the disk refuses, as with EMFILE or EIO) ends with its
    # claim still on disk, named with this process's id. The process lives on (a long-running
    # host closing one client and making another): that claim used to wait for the process to
    # die, and the next client on the spool replayed nothing, 30 events pending, no error.
    first, ids = spooled(tmp_path / "spool", 30)

    def refuse(*_: Any) -> None:
        raise OSError(24, "Too many open files")

    def down(events: list[dict[str, Any]], project: str) -> list[dict[str, Any]]:
        raise ConnectionError("the service is down")

    with monkeypatch.context() as patch:
        patch.setattr(DiskSpool, "_put_back", refuse)
        with pytest.raises(OSError, match="Too many open files"):
            first.replay(down)
    assert len(claims(tmp_path / "spool")) == 1 and first.pending() == 30
    later = DiskSpool(tmp_path / "spool")  # the next client on this spool, same process
    replayer = Replayer(later, LocalTransport(db), PROJECT)
    report = replayer.replay_now()
    assert report.error is None and report.replayed == 30 and report.pending == 0
    assert sorted(e.event_id for e in stored(db)) == sorted(ids)
    assert claims(tmp_path / "spool") == []


def test_a_replay_in_progress_keeps_its_claim_from_another_spool_of_the_process(
    tmp_path: Path, db: str
) -> None:
    # The other side of the same rule: a claim this process's replay is working on is left alone
    # by every other DiskSpool on the directory (nothing is sent twice at once).
    first, ids = spooled(tmp_path / "spool", 5)
    transport = LocalTransport(db)
    seen: list[int] = []

    def deliver(events: list[dict[str, Any]], project: str) -> list[dict[str, Any]]:
        other = DiskSpool(tmp_path / "spool")  # recovers at once
        seen.append(len(claims(tmp_path / "spool")))
        assert Replayer(other, transport, PROJECT).replay_now().replayed == 0
        results = transport.send(events, project)
        assert all(r.status == "stored" for r in results)
        return []

    first.replay(deliver)
    assert seen == [1] and first.pending() == 0
    assert sorted(e.event_id for e in stored(db)) == sorted(ids)


@contextmanager
def _sleeper() -> Iterator[int]:
    """A live process other than this one: the owner of a claim being replayed elsewhere."""
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    try:
        yield child.pid
    finally:
        child.kill()
        child.wait()


def test_a_segment_put_back_while_the_replayer_looks_is_still_replayed(
    tmp_path: Path, db: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Another process's replay holds the only segment when this replayer starts, and puts it back
    # (its service answered nothing) right after this replayer listed the directory. Counting the
    # files read them after the listing: the claim was gone, the new segment not listed, so the
    # spool looked empty and the replayer went idle with 30 events waiting.
    spool, ids = spooled(tmp_path / "spool", 30)
    (segment,) = spool._segments()
    with _sleeper() as other:
        claim = segment.with_name(f"{segment.name}.replaying-{other}")
        segment.rename(claim)
        put_back = segment.with_name(f"9{segment.name[1:]}")
        rename_after_shared_lock(monkeypatch, claim, put_back)  # the other replay puts it back now
        replayer = Replayer(spool, LocalTransport(db), PROJECT, backoff=0.05, max_backoff=0.2)
        replayer.start()
        try:
            assert wait_for(lambda: replayer.replayed == 30), replayer.report()
        finally:
            replayer.stop()
    assert sorted(e.event_id for e in stored(db)) == sorted(ids)


def test_an_idle_replayer_looks_again_for_what_another_client_left(tmp_path: Path, db: str) -> None:
    # Idle (nothing pending when it looked), a replayer used to wait for its own client's next
    # batch. Events another client or process leaves in the directory — whose own replay may have
    # ended with it — are now found within max_backoff.
    spool = DiskSpool(tmp_path / "spool")
    replayer = Replayer(spool, LocalTransport(db), PROJECT, backoff=0.05, max_backoff=0.3)
    replayer.start()
    try:
        assert wait_for(lambda: replayer._idle)
        _, ids = spooled(tmp_path / "spool", 4)  # another DiskSpool on the directory, no kick
        assert wait_for(lambda: replayer.replayed == 4), replayer.report()
    finally:
        replayer.stop()
    assert sorted(e.event_id for e in stored(db)) == sorted(ids)


def test_an_error_reading_the_spool_is_reported_and_retried_soon(
    tmp_path: Path, db: str, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    spool, ids = spooled(tmp_path / "spool", 3)
    real = DiskSpool.has_pending
    errors: list[str | None] = []

    def flaky(self: DiskSpool) -> bool:
        if not errors:
            errors.append(None)
            raise OSError(24, "Too many open files")
        errors.append(replayer.last_error)
        return real(self)

    monkeypatch.setattr(DiskSpool, "has_pending", flaky)
    replayer = Replayer(spool, LocalTransport(db), PROJECT, backoff=0.05, max_backoff=60)
    replayer.start()
    try:
        assert wait_for(lambda: replayer.replayed == 3, 10), replayer.report()  # not after 60 s
    finally:
        replayer.stop()
    assert errors[1] == "OSError: [Errno 24] Too many open files"  # in stats() meanwhile
    assert "unexpected error" in caplog.text
    assert sorted(e.event_id for e in stored(db)) == sorted(ids)


def test_an_idle_replayer_whose_directory_was_removed_stays_quiet(
    tmp_path: Path, db: str, caplog: pytest.LogCaptureFixture
) -> None:
    # Its look every max_backoff finds no directory (a cache cleaned, a test's temporary
    # directory gone): nothing waits, no error, no traceback in the host's log.
    import shutil

    spool = DiskSpool(tmp_path / "spool")
    replayer = Replayer(spool, LocalTransport(db), PROJECT, backoff=0.05, max_backoff=0.1)
    replayer.start()
    try:
        assert wait_for(lambda: replayer._idle)
        shutil.rmtree(tmp_path / "spool")
        time.sleep(0.5)  # several looks
        assert replayer.last_error is None and "unexpected error" not in caplog.text
        assert replayer.report().pending == 0  # what stats() shows, without raising
    finally:
        replayer.stop()


def test_pending_counts_a_segment_claimed_right_after_the_listing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A replay claims the segment (a rename) just after pending() listed the directory. Read
    # after the listing, the file was gone under its listed name and pending() said 0 with 30
    # events waiting: tests/transport's spool test, waiting for 0, stopped before the replay
    # was answered (2 runs in 12 here, and a CI failure).
    spool, _ = spooled(tmp_path / "spool", 30)
    (segment,) = spool._segments()
    claim = segment.with_name(f"{segment.name}.replaying-1")
    rename_after_shared_lock(monkeypatch, segment, claim)  # a replay claims it as the lock is let go
    assert spool.pending() == 30
    assert claim.exists()  # the claim did happen, after the count
    assert spool.pending() == 30  # and the claim is counted too
