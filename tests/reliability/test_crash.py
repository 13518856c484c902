"""Crash safety: SIGKILL of the service during sustained ingest from four SDK client processes, on
SQLite and on PostgreSQL. After the restart every event any client logged — told stored, or
spooled and replayed — is in the store, and none twice."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from preflog.events import new_id
from preflog.store import open_store
from tests.conftest import require
from tests.server.live import cli
from tests.service import Service
from tests.store.conftest import POSTGRES_URL

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
CLIENTS = 4


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield str(tmp_path / "crash.db")
        return
    require(
        POSTGRES_URL is not None, "PREFLOG_TEST_POSTGRES_URL is not set (scripts/pg-test-cluster.sh start)"
    )
    assert POSTGRES_URL is not None
    name = "crash_" + new_id().replace("-", "")[:12]
    with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    yield POSTGRES_URL.rsplit("/", 1)[0] + "/" + name
    with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def test_sigkill_during_ingest_from_four_clients(db_url: str, tmp_path: Path) -> None:
    key = cli(db_url, "keys", "create", "--project", "default", "--scope", "ingest").split()[-1]
    service = Service(db_url, log=tmp_path / "serve.log")
    service.start()
    outs = [tmp_path / f"client{i}.json" for i in range(CLIENTS)]
    clients = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tests.reliability.client_proc",
                service.url,
                key,
                str(tmp_path / f"spool{i}"),
                str(out),
                "4",
            ],
            cwd=ROOT,
        )
        for i, out in enumerate(outs)
    ]
    try:
        time.sleep(1.5)
        service.kill()  # mid-stream: requests in flight die with the process
        time.sleep(1.0)
        service.start()
        assert [c.wait(timeout=180) for c in clients] == [0] * CLIENTS
    finally:
        for c in clients:
            if c.poll() is None:
                c.kill()
        service.stop()
    reports = [json.loads(out.read_text()) for out in outs]
    store = open_store(db_url)
    try:
        stored = [e.request_id for e in store.iter_events(project="default")]
    finally:
        store.close()
    logged = [rid for r in reports for rid in r["logged"]]
    assert len(logged) > 200, "the clients should have logged a sustained stream"
    assert len(stored) == len(set(stored)), "an event was stored twice"
    missing = set(logged) - set(stored)
    assert not missing, f"{len(missing)} of {len(logged)} logged events are missing after the crash"
    for r in reports:
        assert r["stats"]["failed"] == 0 and r["stats"]["dropped"] == 0, r["stats"]
        assert r["spool_left"] == 0
    assert sum(r["stats"]["spooled"] + r["stats"]["retries"] for r in reports) > 0, (
        "the kill should have forced some retries or spooling"
    )
