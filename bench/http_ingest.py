"""HTTP ingest over loopback against direct store appends of the same events, in the same run.

    python bench/http_ingest.py [--events 100000] [--batch 100] [--clients 4] [--workers 1]

Starts the real ``preflog serve`` (uvicorn) on a free loopback port over a fresh SQLite file (and
over PostgreSQL when ``PREFLOG_TEST_POSTGRES_URL`` is set), sends batches of ``--batch`` inference
events of about 1 KB each (JSON, keep-alive) from ``--clients`` threads, and prints events/s, the
p50/p99 acknowledgement latency of a batch, and the ratio to ``store.append`` of the same batches
(validation included, as in the service) from one thread. Every event has a fresh id, and every
answer is checked: a batch counts only when all its events are stored.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.server.live import start_server  # noqa: E402

from pgdb import fresh_database  # noqa: E402  (bench/pgdb.py, beside this script)
from preflog.events import new_id  # noqa: E402
from preflog.server.keys import create_key, open_key_store  # noqa: E402
from preflog.store import open_store  # noqa: E402

TARGET = 20_000
FILLER = "The quick brown fox jumps over the lazy dog. "


def make_event(i: int) -> dict[str, Any]:
    """An inference event of about 1 KB of JSON."""
    text = (FILLER * 6)[: 250 + i % 17]
    return {
        "event_id": new_id(),
        "type": "inference",
        "request_id": new_id(),
        "occurred_at": "2026-11-26T10:00:00Z",
        "prompt": f"Question {i}: " + text[:200],
        "candidates": [
            {"candidate_id": "a", "output": text, "model": {"name": "m-small", "version": "3"}},
            {"candidate_id": "b", "output": text[::-1], "model": {"name": "m-large", "version": "1"}},
        ],
        "user_id": f"u{i % 500}",
    }


def make_batches(events: int, batch: int) -> list[list[dict[str, Any]]]:
    items = [make_event(i) for i in range(events)]
    return [items[i : i + batch] for i in range(0, events, batch)]


@dataclass
class Run:
    events: int
    seconds: float
    latencies: list[float]

    @property
    def rate(self) -> float:
        return self.events / self.seconds

    def pct(self, q: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000 if ordered else 0.0


def direct(url: str, batches: list[list[dict[str, Any]]], project: str) -> Run:
    store = open_store(url)
    try:
        latencies = []
        start = time.perf_counter()
        for batch in batches:
            t = time.perf_counter()
            results = store.append(batch, project=project)
            latencies.append(time.perf_counter() - t)
            assert all(r.status == "stored" for r in results), results[:3]
        elapsed = time.perf_counter() - start
    finally:
        store.close()
    return Run(sum(len(b) for b in batches), elapsed, latencies)


def over_http(url: str, token: str, bodies: list[bytes], clients: int, per_batch: int) -> Run:
    latencies: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()
    next_index = iter(range(len(bodies)))

    def client_loop() -> None:
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        with httpx.Client(base_url=url, timeout=60, headers=headers) as client:
            while True:
                with lock:
                    i = next(next_index, None)
                if i is None:
                    return
                t = time.perf_counter()
                response = client.post("/v1/events", content=bodies[i])
                elapsed = time.perf_counter() - t
                ok = response.status_code == 200 and response.json()["counts"]["stored"] == per_batch
                with lock:
                    latencies.append(elapsed)
                    if not ok:
                        errors.append(f"{response.status_code}: {response.text[:200]}")

    threads = [threading.Thread(target=client_loop) for _ in range(clients)]
    start = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - start
    if errors:
        raise SystemExit(f"{len(errors)} batches failed, first: {errors[0]}")
    return Run(len(bodies) * per_batch, elapsed, latencies)


def bench_backend(
    name: str, fresh: Callable[[str], AbstractContextManager[str]], args: argparse.Namespace
) -> None:
    print(
        f"\n== {name}: {args.events} events of ~1 KB, batches of {args.batch}, "
        f"{args.clients} client threads, {args.workers} worker(s)"
    )
    batches = make_batches(args.events, args.batch)
    size = len(json.dumps(batches[0][0]))
    with fresh("direct") as direct_url:
        direct_run = direct(direct_url, batches, "bench")
    http_batches = make_batches(args.events, args.batch)  # fresh ids: nothing is a duplicate
    bodies = [json.dumps(b, separators=(",", ":")).encode() for b in http_batches]
    with fresh("http") as url:
        store = open_store(url)
        keys = open_key_store(store)
        token, _ = create_key(keys, project="bench", scope="ingest")
        if keys is not store:
            keys.close()
        store.close()
        server = start_server(url, "--workers", str(args.workers), env={"PREFLOG_LOG_LEVEL": "warning"})
        try:
            warm = over_http(server.url, token, bodies[: args.clients * 2], args.clients, args.batch)
            del warm
            http_run = over_http(server.url, token, bodies[args.clients * 2 :], args.clients, args.batch)
        finally:
            server.stop()
    print(f"event size           {size} bytes of JSON")
    print(
        f"direct store.append  {direct_run.rate:10,.0f} events/s   p50 {direct_run.pct(0.5):6.1f} ms  "
        f"p99 {direct_run.pct(0.99):6.1f} ms per batch"
    )
    print(
        f"HTTP /v1/events      {http_run.rate:10,.0f} events/s   p50 {http_run.pct(0.5):6.1f} ms  "
        f"p99 {http_run.pct(0.99):6.1f} ms ack latency"
    )
    verdict = "meets" if http_run.rate >= TARGET else "misses"
    print(
        f"ratio HTTP / direct  {http_run.rate / direct_run.rate:10.2f}x   "
        f"({verdict} the {TARGET:,} events/s target)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--workers", type=int, default=2, help="service worker processes (one per core)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="preflog-bench-") as tmp:
        bench_backend("SQLite", lambda tag: nullcontext(str(Path(tmp) / f"{tag}.db")), args)
    pg = os.environ.get("PREFLOG_TEST_POSTGRES_URL")
    if pg:
        bench_backend("PostgreSQL", lambda tag: fresh_database(pg, tag), args)
    else:
        print("\n(PostgreSQL skipped: set PREFLOG_TEST_POSTGRES_URL)")


if __name__ == "__main__":
    main()
