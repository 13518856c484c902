"""``preflog serve --stream`` on loopback against a real broker, and ``preflog consume`` into the
store: accepted events are on the broker when the service answers, a paused broker is a 503 with
``Retry-After`` (nothing acknowledged is lost), and the consumer stores each event exactly once."""

from __future__ import annotations

import subprocess
from pathlib import Path

import httpx
import pytest

from preflog.events import new_id
from preflog.store import open_store
from preflog.stream.url import parse_stream_url
from tests import factories
from tests.server.live import PREFLOG, cli, free_port, start_server
from tests.stream.broker import Broker
from tests.stream.test_producer import read_all

pytestmark = [pytest.mark.stream, pytest.mark.slow]
PROJECT = "p1"


def _consume(db: str, url: str, group: str, idle_s: float = 3) -> str:
    done = subprocess.run(
        [*PREFLOG, "--db", db, "consume", "--stream", url, "--group", group, "--idle-exit", str(idle_s)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def test_serve_stream_acks_after_the_broker_and_503s_while_it_is_paused(
    broker: Broker, tmp_path: Path
) -> None:
    db = str(tmp_path / "events.db")
    token = cli(db, "keys", "create", "--project", PROJECT, "--scope", "admin").strip()
    headers = {"Authorization": f"Bearer {token}"}
    url = broker.url("t-" + new_id()[:8], partitions=3)
    server = start_server(db, "--stream", url)
    try:
        acked: list[str] = []
        with httpx.Client(base_url=server.url, headers=headers, timeout=60) as http:
            batch = [factories.inference() for _ in range(20)] + [{"type": "inference"}]
            answer = http.post("/v1/events", json=batch)
            assert answer.status_code == 207, answer.text
            results = answer.json()["results"]
            assert [r["status"] for r in results] == ["stored"] * 20 + ["rejected"]
            acked += [e["event_id"] for e in batch[:20]]
            # reads still come from the store: nothing there until a consumer runs
            assert http.get("/v1/events").json()["events"] == []
            broker.pause()
            try:
                down = http.post("/v1/events", json=[factories.inference()])
                assert down.status_code == 503, down.text
                assert int(down.headers["Retry-After"]) > 0
            finally:
                broker.resume()
            again = [factories.inference() for _ in range(5)]
            # as a client does with a 503: the resumed broker may need a while under load (a fresh
            # producer); a resend of the same events is harmless (the same ids)
            for _ in range(5):
                status = http.post("/v1/events", json=again).status_code
                if status != 503:
                    break
            assert status == 200
            acked += [e["event_id"] for e in again]
        on_topic = {e["event_id"] for _, e in read_all(parse_stream_url(url), len(acked))}
        assert set(acked) <= on_topic  # every acknowledged event is on the broker
    finally:
        server.stop()
    summary = _consume(db, url, "g-" + new_id()[:6])
    store = open_store(db)
    try:
        stored = [e.event["event_id"] for e in store.read(project=PROJECT)]
    finally:
        store.close()
    assert set(acked) <= set(stored) and len(stored) == len(set(stored))
    # the 503'd batch may still reach the broker after the resume (its resend would be a duplicate)
    consumed = int(summary.split()[1])
    assert len(acked) <= consumed <= len(acked) + 1 and consumed == len(stored)


def test_a_bad_stream_url_is_one_line(tmp_path: Path) -> None:
    done = subprocess.run(
        [
            *PREFLOG,
            "--db",
            str(tmp_path / "x.db"),
            "serve",
            "--port",
            str(free_port()),
            "--stream",
            "kafka://h:1/",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode != 0
    assert done.stderr.strip().count("\n") == 0 and "one topic" in done.stderr
