"""Nothing the SDK could not deliver is lost, against the real service (``preflog serve``, uvicorn
on loopback, a real SQLite file): a wrong key for a while, a key revoked mid-stream, a 401 in the
middle of a replay, the service down and then up with nobody logging, and SIGKILL of a replay."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

import preflog
from preflog.sdk.spool import DiskSpool
from preflog.server.keys import open_key_store, revoke_key
from preflog.store import open_store
from tests.conftest import ROOT
from tests.sdk.conftest import wait_until
from tests.server.live import cli
from tests.service import Service

pytestmark = pytest.mark.slow

PROJECT = "default"
WRONG_KEY = "pfl_000000000000_" + "w" * 43


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "service.db"
    open_store(str(path)).close()
    return path


@pytest.fixture
def service(db: Path, tmp_path: Path) -> Iterator[Service]:
    svc = Service(db, log=tmp_path / "serve.log")
    svc.start()
    yield svc
    svc.stop()


def new_key(db: Path, project: str = PROJECT) -> str:
    return cli(str(db), "keys", "create", "--project", project, "--scope", "ingest").split()[-1]


def revoke(db: Path, token: str) -> None:
    store = open_store(str(db))
    keys = open_key_store(store)
    try:
        revoke_key(keys, token.split("_")[1])
    finally:
        if keys is not store:
            keys.close()
        store.close()


def stored(db: Path) -> Counter[str]:
    store = open_store(str(db))
    try:
        return Counter(str(e.request_id) for e in store.iter_events(project=PROJECT))
    finally:
        store.close()


def client(url: str, key: str | None, spool: Path, **options: object) -> preflog.Client:
    defaults: dict[str, object] = {
        "batch_size": 10,
        "flush_interval": 0.02,
        "retry_backoff": 0.01,
        "replay_backoff": 0.1,
        "replay_max_backoff": 1.0,
    }
    return preflog.Client(url=url, api_key=key, project=PROJECT, spool_dir=spool, **{**defaults, **options})


def log(c: preflog.Client, n: int, prompt: str = "q") -> list[str]:
    return [c.log_inference(f"{prompt} {i}", ["a", "b"], model="m") for i in range(n)]


def fill_spool(spool: Path, n: int, batch_size: int = 5) -> list[str]:
    """``n`` events spooled by a client whose service is not there (nothing listens on port 9)."""
    down = client("http://127.0.0.1:9", "k", spool, max_retries=0, batch_size=batch_size, replay_backoff=600)
    rids = log(down, n)
    assert down.flush(timeout=60)
    assert down.stats().spooled == n
    down.close()
    return rids


def test_a_wrong_key_for_a_while_then_the_right_key_stores_every_event_once(
    service: Service, db: Path, tmp_path: Path
) -> None:
    wrong = client(service.url, WRONG_KEY, tmp_path / "spool")
    rids = []
    for _ in range(5):  # logging goes on for a while under the wrong key
        rids += log(wrong, 40)
        time.sleep(0.1)
    assert wrong.flush(timeout=30)
    stats = wrong.stats()
    wrong.close()
    assert (stats.sent, stats.rejected, stats.failed, stats.dropped) == (0, 0, 0, 0)
    assert stats.spooled == stats.unauthorized == 200 and stats.spool_pending == 200
    assert stored(db) == Counter()

    right = client(service.url, new_key(db), tmp_path / "spool")  # the next client, a valid key
    wait_until(lambda: right.stats().spool_pending == 0, timeout=60)
    rids += log(right, 10, "after")
    assert right.flush(timeout=30)
    assert right.stats().replayed == 200
    right.close()
    assert stored(db) == Counter(rids)  # every one, once


def test_a_key_revoked_mid_stream_loses_nothing(service: Service, db: Path, tmp_path: Path) -> None:
    key = new_key(db)
    producer = client(service.url, key, tmp_path / "spool")
    rids: list[str] = []
    stop = threading.Event()

    def produce() -> None:
        while not stop.is_set():
            rids.append(producer.log_inference("stream", ["a", "b"], model="m"))
            time.sleep(0.001)

    thread = threading.Thread(target=produce)
    thread.start()
    wait_until(lambda: producer.stats().sent > 50, timeout=30)
    revoke(db, key)  # mid-stream: the next batch meets a 401
    wait_until(lambda: producer.stats().unauthorized > 50, timeout=30)
    stop.set()
    thread.join()
    assert producer.flush(timeout=30)
    stats = producer.stats()
    producer.close()
    assert stats.failed == stats.dropped == stats.rejected == 0
    assert stats.sent + stats.spooled == len(rids)

    fixed = client(service.url, new_key(db), tmp_path / "spool")
    wait_until(lambda: fixed.stats().spool_pending == 0, timeout=60)
    fixed.close()
    assert stored(db) == Counter(rids)


def test_a_401_in_the_middle_of_a_replay_keeps_the_segment(
    service: Service, db: Path, tmp_path: Path
) -> None:
    spool = tmp_path / "spool"
    rids = fill_spool(spool, 1000)  # 200 batches: the replay takes a while
    key = new_key(db)
    replayer = client(service.url, key, spool, replay_backoff=600, replay_max_backoff=600)
    wait_until(lambda: sum(stored(db).values()) > 0, timeout=60)
    revoke(db, key)  # while the background replay is half-way
    report = replayer.replay_spool()  # waits for that pass; its own pass meets the 401 at once
    replayer.close()
    delivered = sum(stored(db).values())
    assert report.error is not None and "401" in report.error
    assert 0 < delivered < 1000 and report.pending == 1000 - delivered  # the rest stayed in the spool
    assert DiskSpool(spool).pending() == 1000 - delivered

    done = client(service.url, new_key(db), spool).replay_spool()
    assert done.pending == 0 and done.error is None
    assert stored(db) == Counter(rids)


def test_service_down_then_up_drains_the_spool_with_no_further_log_call(db: Path, tmp_path: Path) -> None:
    svc = Service(db, log=tmp_path / "serve.log")  # not started: the service is down
    key = new_key(db)
    c = client(svc.url, key, tmp_path / "spool", replay_backoff=0.2, replay_max_backoff=1.0)
    rids = log(c, 100)
    assert c.flush(timeout=30)
    assert c.stats().spooled == 100
    svc.start()
    try:
        wait_until(lambda: c.stats().spool_pending == 0, timeout=60)  # nobody logs: the probe finds it
        stats = c.stats()
        c.close()
    finally:
        svc.stop()
    assert stats.replayed == 100 and stats.failed == stats.dropped == 0
    assert stored(db) == Counter(rids)


def test_sigkill_during_a_replay_loses_nothing_and_stores_nothing_twice(
    service: Service, db: Path, tmp_path: Path
) -> None:
    spool = tmp_path / "spool"
    rids = fill_spool(spool, 2000)
    key = new_key(db)
    command = [sys.executable, "-m", "preflog.cli", "spool", "replay", "--url", service.url, "--api-key", key]
    replay = subprocess.Popen([*command, "--spool-dir", str(spool)], cwd=ROOT, stderr=subprocess.PIPE)
    wait_until(lambda: sum(stored(db).values()) > 0, timeout=60)
    replay.send_signal(signal.SIGKILL)  # mid-replay: its claim on the segment stays behind
    replay.wait(timeout=10)
    assert 0 < sum(stored(db).values()) < 2000
    again = subprocess.run([*command, "--spool-dir", str(spool)], cwd=ROOT, capture_output=True, text=True)
    assert again.returncode == 0, again.stderr
    assert "0 still in the spool" in again.stdout
    assert stored(db) == Counter(rids)  # every event once: what was sent twice was a duplicate
    assert DiskSpool(spool).pending() == 0
