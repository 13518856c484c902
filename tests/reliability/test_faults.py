"""Faults: PostgreSQL stopped and restarted during ingest (the service answers 503, never 500; the
SDK retries and spools; nothing is lost), and a full disk under SQLite (a clear error, the data
stored before intact)."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

import preflog
from preflog.errors import StoreFull
from preflog.sdk.http import HTTPTransport
from preflog.store import open_store
from tests import factories as f
from tests.conftest import IN_CI
from tests.pg_cluster import Cluster, own_cluster
from tests.server.live import cli
from tests.service import Service


@pytest.fixture
def pg_cluster() -> Iterator[Cluster]:
    with own_cluster() as cluster:  # stopped by this test: never the cluster the others use
        yield cluster


@pytest.mark.postgres
@pytest.mark.slow
def test_postgres_down_means_503_then_recovery_without_loss(pg_cluster: Cluster, tmp_path: Path) -> None:
    pg_db = pg_cluster.url
    key = cli(pg_db, "keys", "create", "--project", "default", "--scope", "ingest").split()[-1]
    service = Service(pg_db, log=tmp_path / "serve.log")
    service.start()
    headers = {"Authorization": f"Bearer {key}"}
    transport = HTTPTransport(service.url, api_key=key, retries=1, backoff=0.05, spool_dir=tmp_path / "spool")
    client = preflog.Client(transport=transport, batch_size=100, flush_interval=0.02, max_retries=0)
    try:
        before = [client.log_inference("before", outputs=["a"], model="m") for _ in range(50)]
        assert client.flush(timeout=30)
        pg_cluster.run("stop")
        answer = httpx.post(service.url + "/v1/events", json=[f.inference()], headers=headers, timeout=30)
        # Keys live in the same database: whichever call notices first, the answer is a 503.
        assert answer.status_code == 503, answer.text
        assert answer.headers.get("retry-after") and answer.json()["error"]
        assert "Traceback" not in answer.text
        assert httpx.get(service.url + "/readyz", timeout=30).status_code == 503
        during = [client.log_inference("during", outputs=["b"], model="m") for _ in range(50)]
        assert client.flush(timeout=60)
        assert client.stats().spooled > 0  # the outage outlasted the retries: kept on disk
        pg_cluster.run("start")
        deadline = time.monotonic() + 60
        while httpx.get(service.url + "/readyz", timeout=30).status_code != 200:
            assert time.monotonic() < deadline, "the service did not become ready again"
            time.sleep(0.2)
        after = [client.log_inference("after", outputs=["c"], model="m") for _ in range(10)]
        assert client.flush(timeout=60)
        # Logging on after the outage makes the spool's replayer probe within a second: what was
        # spooled (and the batches held behind it) arrives without waiting for a long backoff.
        deadline = time.monotonic() + 30
        while client.stats().spool_pending and time.monotonic() < deadline:
            time.sleep(0.1)
        stats = client.stats()
    finally:
        client.close()
        service.stop()
    store = open_store(pg_db)
    stored = [e.request_id for e in store.iter_events(project="default")]
    store.close()
    assert len(stored) == len(set(stored))
    assert set(before + during + after) == set(stored)
    assert stats.failed == 0 and stats.dropped == 0


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 3 MB tmpfs: a real file system that fills up (needs root, as in CI)."""
    mount = tmp_path / "small"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=3m", "tmpfs", str(mount)], capture_output=True)
    if done.returncode != 0:
        if IN_CI:
            pytest.fail(f"cannot mount a tmpfs in CI: {done.stderr.decode()}")
        pytest.skip(f"cannot mount a small tmpfs here (needs root): {done.stderr.decode().strip()}")
    yield mount
    subprocess.run(["umount", "-l", str(mount)], capture_output=True)


def test_full_disk_is_a_clear_error_and_earlier_data_is_intact(small_disk: Path) -> None:
    store = open_store(str(small_disk / "full.db"))
    kept: list[str] = []
    with pytest.raises(StoreFull, match="full"):
        for _ in range(10_000):
            batch = [f.inference(outputs=("x" * 2000, "y" * 2000)) for _ in range(20)]
            results = store.append(batch, project="p")
            kept += [e["event_id"] for e, r in zip(batch, results, strict=True) if r.status == "stored"]
    assert len(kept) > 50
    reread = [e.event_id for e in store.iter_events(project="p")]
    assert reread == kept  # every acknowledged event is there, the failed batch left nothing behind
    store.close()
    reopened = open_store(str(small_disk / "full.db"))
    assert [e.event_id for e in reopened.iter_events(project="p")] == kept
    reopened.close()
