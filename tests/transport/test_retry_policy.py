"""One retry policy: a real HTTP server on loopback that answers every POST with a 503 counts the
POSTs each batch costs. Before, the worker retried any error 3 times around the transport's own
4 retries (up to 20 POSTs a batch); now a batch costs at most 1 + max_retries, and once one batch
has gone to the spool the next ones go there without a POST until a probe finds the service."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

import preflog
from preflog.errors import RetryableError, ServiceUnavailable, StoreUnavailable
from preflog.sdk.retry import RetryPolicy


class Always503(ThreadingHTTPServer):
    posts = 0
    retry_after = "0"


class Handler(BaseHTTPRequestHandler):
    server: Always503

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.server.posts += 1
        body = b'{"error": "store_unavailable", "message": "try later"}'
        self.send_response(503)
        self.send_header("Retry-After", self.server.retry_after)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def always_503() -> Iterator[Always503]:
    server = Always503(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def url(server: Always503) -> str:
    return f"http://127.0.0.1:{server.server_address[1]}"


def test_each_batch_costs_at_most_one_plus_max_retries_posts(always_503: Always503) -> None:
    client = preflog.Client(
        url=url(always_503), max_retries=3, retry_backoff=0.001, spool=False, batch_size=10
    )
    for i in range(30):
        client.log_inference(f"q {i}", ["a"], model="m")
    assert client.flush(timeout=60)
    stats = client.stats()
    client.close()
    assert stats.failed == 30 and stats.sent == 0
    assert always_503.posts == 3 * (1 + 3)  # three batches, four POSTs each: no second layer of retries
    assert stats.retries == 3 * 3


def test_with_a_spool_only_the_first_batch_is_retried(always_503: Always503, tmp_path: Path) -> None:
    client = preflog.Client(
        url=url(always_503),
        max_retries=2,
        retry_backoff=0.001,
        spool_dir=tmp_path / "spool",
        replay_backoff=60,  # no probe during the test
        batch_size=10,
    )
    for i in range(50):
        client.log_inference(f"q {i}", ["a"], model="m")
    assert client.flush(timeout=60)
    stats = client.stats()
    client.close()
    assert (stats.spooled, stats.spool_pending, stats.failed) == (50, 50, 0)
    assert always_503.posts == 1 + 2


def test_a_long_retry_after_spools_at_once_instead_of_stalling_the_worker(
    always_503: Always503, tmp_path: Path
) -> None:
    always_503.retry_after = "3600"
    client = preflog.Client(
        url=url(always_503), max_retries=5, spool_dir=tmp_path / "spool", replay_backoff=60
    )
    client.log_inference("q", ["a"], model="m")
    assert client.flush(timeout=30)
    stats = client.stats()
    client.close()
    assert (stats.spooled, stats.retries, always_503.posts) == (1, 0, 1)


def test_only_retryable_errors_are_retried() -> None:
    calls: list[int] = []

    def flaky() -> str:
        calls.append(1)
        if len(calls) < 3:
            raise StoreUnavailable("busy")
        return "done"

    assert RetryPolicy(retries=5, backoff=0.001).call(flaky) == "done" and len(calls) == 3
    assert issubclass(ServiceUnavailable, RetryableError) and issubclass(StoreUnavailable, RetryableError)

    def broken() -> str:
        calls.append(1)
        raise ValueError("never")

    calls.clear()
    with pytest.raises(ValueError):
        RetryPolicy(retries=5, backoff=0.001).call(broken)
    assert len(calls) == 1  # answered once

    def down() -> str:
        calls.append(1)
        raise ServiceUnavailable("down")

    calls.clear()
    with pytest.raises(ServiceUnavailable):
        RetryPolicy(retries=2, backoff=0.001).call(down)
    assert len(calls) == 3
