"""``preflog serve --stream`` while its broker is SIGKILLed and started again on the same port, the
SDK logging over HTTP and ``preflog consume`` running throughout: requests during the outage are
503 with ``Retry-After``, the SDK spools them and replays them once the broker is back, and every
event the service acknowledged ends up in the store exactly once.

The broker is durable (tansu on S3 storage, :class:`tests.stream.broker.Broker`): what it
acknowledged before the kill is still on the topic after the restart, as on a Kafka broker, so
"acknowledged" means the same thing before, during and after the outage."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

import preflog
from preflog.events import new_id
from preflog.store import open_store
from preflog.stream.producer import ensure_topic
from preflog.stream.url import parse_stream_url
from tests import factories
from tests.server.live import PREFLOG, cli, start_server
from tests.stream.broker import Broker
from tests.stream.test_producer import read_all

pytestmark = [pytest.mark.stream, pytest.mark.slow]
PROJECT = "p1"


def wait_until(check: Callable[[], bool], timeout_s: float = 120, what: str | Callable[[], str] = "") -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        assert time.monotonic() < deadline, (
            f"timed out waiting for {what if isinstance(what, str) else what()}"
        )
        time.sleep(0.2)


def log(client: preflog.Client, n: int, tag: str) -> list[str]:
    """Log ``n`` inferences; their event ids (what the store will hold)."""
    requests = [client.log_inference(f"{tag} {i}", ["a", "b"], model="m") for i in range(n)]
    assert all(requests)
    return requests


def requests_of(db: str) -> list[str]:
    store = open_store(db)
    try:
        return [str(e.event["request_id"]) for e in store.read(project=PROJECT, limit=100_000)]
    finally:
        store.close()


def test_a_killed_and_restarted_broker_loses_no_acknowledged_event(
    durable_broker: Broker, tmp_path: Path
) -> None:
    broker, db, consume_log = durable_broker, str(tmp_path / "events.db"), tmp_path / "consume.log"
    token = cli(db, "keys", "create", "--project", PROJECT, "--scope", "admin").strip()
    url = broker.url("t-" + new_id()[:8], partitions=3)
    ensure_topic(parse_stream_url(url))
    server = start_server(db, "--stream", url)
    consumer = subprocess.Popen(
        [
            *PREFLOG,
            "--db",
            db,
            "consume",
            "--stream",
            url,
            "--group",
            "g-" + new_id()[:6],
            "--format",
            "json",
        ],
        stdout=subprocess.PIPE,
        stderr=open(consume_log, "w"),  # noqa: SIM115 - the child owns it
        text=True,
    )
    client = preflog.Client(  # the default HTTP request timeout (30 s) outlasts the sink's 10 s
        url=server.url,
        api_key=token,
        project=PROJECT,
        spool_dir=tmp_path / "spool",
        max_retries=0,  # the first 503 spools the batch
        replay_backoff=0.5,
        replay_max_backoff=2.0,
    )
    try:
        wait_until(lambda: "assigned partitions [0, 1, 2]" in consume_log.read_text(), what="the group")
        before = log(client, 200, "before")
        assert client.flush(timeout=60) and client.stats().sent == 200  # acknowledged: on the broker
        broker.stop()  # SIGKILL, at once: the consumer has not necessarily read them yet
        with httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {token}"}) as http:
            down = http.post("/v1/events", json=[factories.inference()], timeout=60)
        assert down.status_code == 503, down.text
        assert int(down.headers["Retry-After"]) > 0
        during = log(client, 100, "during")
        wait_until(lambda: client.stats().spool_pending == 100, what="the outage's events spooled")
        assert client.stats().sent == 200  # none of them was answered stored
        broker.start()  # the same port, the same storage
        wait_until(lambda: client.stats().spool_pending == 0, what="the spool replayed")
        after = log(client, 100, "after")
        assert client.flush(timeout=60)
        assert client.stats().replayed == 100
        acknowledged = set(before + during + after)
        on_topic = {e["request_id"] for _, e in read_all(parse_stream_url(url), 400, timeout_s=60)}
        assert acknowledged <= on_topic  # the events acknowledged before the kill survived it
        wait_until(
            lambda: set(requests_of(db)) >= acknowledged,
            what=lambda: (
                f"the consumer to drain: {len(set(requests_of(db)) & acknowledged)} of "
                f"{len(acknowledged)} stored; its log: {consume_log.read_text()[-1500:]}"
            ),
        )
        consumer.send_signal(signal.SIGTERM)
        out, _ = consumer.communicate(timeout=60)
        assert consumer.returncode == 0, consume_log.read_text()[-2000:]
    finally:
        client.close()
        server.stop()
        if consumer.poll() is None:
            consumer.kill()
            consumer.wait()
    stored = requests_of(db)
    # each event once; the one 503'd request never reached the dead broker, so it is not there
    assert len(stored) == len(set(stored)) == len(acknowledged)
    assert set(stored) == acknowledged
    summary = json.loads(out)
    assert summary["stored"] == len(acknowledged) and summary["rejected"] == 0
