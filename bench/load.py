"""Sustained load: a steady target rate over loopback for a fixed time, from several processes.

    python bench/load.py [--seconds 60] [--rate 10000] [--clients 4] [--batch 100]
                         [--db URL] [--workers 2]

Starts the real ``preflog serve`` (uvicorn, ``--workers 2``: one per core of the 2-core machine
the target is set for) on a free loopback port over a fresh SQLite file, and then over a fresh
database on the PostgreSQL server of ``PREFLOG_TEST_POSTGRES_URL`` when that is set (or over the
one ``--db`` given), then ``--clients`` client *processes* (multiprocessing). Each client sends raw
HTTP batches with httpx (JSON, keep-alive; not the SDK, so the figure is the service's, not the
SDK batcher's) of ``--batch`` inference events of about 1 KB, paced so that together they offer
``--rate`` events/s: batch k of a client is due at ``start + k * interval``; a client that falls
behind sends at once and the lag shows in the throughput. Every answer is checked: a batch counts
as acknowledged only when the service answered 200 with every event stored.

Reports the acknowledged throughput, p50/p99/max acknowledgement latency of a batch, and the
service's resident memory (RSS, with its worker processes) after warm-up, at the end, and its
growth over the second half of the run, so a leak shows. Exits 1 when the sustained rate is under
95% of ``--rate``, any batch failed, or memory grew by more than 20% over the second half, on
either store. Also reports the CPU time the service and the clients used per acknowledged event.
Everything is bounded: loopback only, a fixed duration, and the service is stopped at the end.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import statistics
import sys
import tempfile
import time
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psutil

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.server.live import LiveServer, start_server  # noqa: E402

from pgdb import fresh_database, is_postgres  # noqa: E402  (bench/pgdb.py, beside this script)
from preflog.events import new_id  # noqa: E402
from preflog.server.keys import create_key, open_key_store  # noqa: E402
from preflog.store import open_store  # noqa: E402

try:
    import orjson

    def dumps(value: Any) -> bytes:
        return orjson.dumps(value)
except ImportError:  # pragma: no cover - the server extra has orjson
    import json

    def dumps(value: Any) -> bytes:
        return json.dumps(value).encode()


FILLER = "The quick brown fox jumps over the lazy dog. "
WARMUP_S = 3.0


def make_batch(size: int, seq: int) -> list[dict[str, Any]]:
    """``size`` inference events of about 1 KB of JSON each, every one with fresh ids."""
    out = []
    for i in range(size):
        text = (FILLER * 6)[: 250 + (seq + i) % 17]
        out.append(
            {
                "event_id": new_id(),
                "type": "inference",
                "request_id": new_id(),
                "occurred_at": "2026-11-26T10:00:00Z",
                "prompt": f"Question {seq}-{i}: " + text[:200],
                "candidates": [
                    {"candidate_id": "a", "output": text, "model": {"name": "m-small", "version": "3"}},
                    {"candidate_id": "b", "output": text[::-1], "model": {"name": "m-large", "version": "1"}},
                ],
                "user_id": f"u{(seq + i) % 500}",
            }
        )
    return out


@dataclass
class ClientResult:
    acked_events: int = 0
    failed_batches: int = 0
    latencies: list[float] = field(default_factory=list)  # seconds, per acknowledged batch
    first_error: str | None = None
    finished: float = 0.0  # wall-clock time of the last answer
    cpu_s: float = 0.0  # CPU time (user + system) this client process used


def run_client(url: str, key: str, rate: float, batch: int, start: float, seconds: float, out: Any) -> None:
    """One client process: paced batches until ``start + seconds``; puts a ClientResult on ``out``."""
    interval = batch / rate
    result = ClientResult()
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    deadline = start + seconds
    with httpx.Client(base_url=url, timeout=30, headers=headers) as client:
        k = 0
        while True:
            due = start + k * interval
            if due >= deadline:
                break
            body = dumps(make_batch(batch, k))  # built before the due time: not in the latency
            wait = due - time.time()
            if wait > 0:
                time.sleep(wait)
            sent = time.perf_counter()
            try:
                response = client.post("/v1/events", content=body)
                ok = response.status_code == 200 and response.json()["counts"]["stored"] == batch
                error = None if ok else f"{response.status_code}: {response.text[:200]}"
            except httpx.HTTPError as exc:
                ok, error = False, repr(exc)
            if ok:
                result.latencies.append(time.perf_counter() - sent)
                result.acked_events += batch
            else:
                result.failed_batches += 1
                result.first_error = result.first_error or error
            k += 1
    result.finished = time.time()
    times = os.times()
    result.cpu_s = times.user + times.system
    out.put(result)


def _service_procs(server: LiveServer) -> list[psutil.Process]:
    root = psutil.Process(server.process.pid)
    return [root, *root.children(recursive=True)]


def service_rss(server: LiveServer) -> int:
    """Resident memory of the service: the uvicorn process and its workers, in bytes."""
    try:
        return sum(p.memory_info().rss for p in _service_procs(server) if p.is_running())
    except psutil.NoSuchProcess:
        return 0


def service_cpu(server: LiveServer) -> float:
    """CPU seconds (user + system) the service and its workers have used so far."""
    total = 0.0
    for p in _service_procs(server):
        try:
            t = p.cpu_times()
            total += t.user + t.system
        except psutil.NoSuchProcess:
            pass
    return total


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--rate", type=float, default=10_000.0, help="offered events/s, all clients together")
    parser.add_argument("--clients", type=int, default=4, help="client processes")
    parser.add_argument("--batch", type=int, default=100, help="events per request")
    parser.add_argument("--workers", type=int, default=2, help="service worker processes (default 2)")
    parser.add_argument(
        "--db",
        default=None,
        help="one store URL (default: a fresh SQLite file, then PostgreSQL if PREFLOG_TEST_POSTGRES_URL)",
    )
    args = parser.parse_args()
    stores: list[str | None] = [args.db] if args.db else [None]
    pg = os.environ.get("PREFLOG_TEST_POSTGRES_URL")
    if not args.db:
        if pg:
            stores.append(pg)
        else:
            print("(PostgreSQL skipped: set PREFLOG_TEST_POSTGRES_URL to run it too)")
    failed = 0
    for db in stores:
        failed |= run_once(args, db)
    return failed


def run_once(args: argparse.Namespace, url: str | None) -> int:
    """One load run against ``url`` (a fresh SQLite file when None; a fresh database on the
    PostgreSQL server of a PostgreSQL URL); 0 when it held the rate."""
    with tempfile.TemporaryDirectory(prefix="preflog-load-") as tmp, ExitStack() as cleanup:
        db = url or str(Path(tmp) / "load.db")
        if is_postgres(db):  # a fresh database: earlier runs must not have grown the table
            db = cleanup.enter_context(fresh_database(db, "load"))
        project = "load-" + new_id()[:8]
        store = open_store(db)
        keys = open_key_store(store)
        key, _ = create_key(keys, project=project, scope="ingest", name="bench/load.py")
        if keys is not store:
            keys.close()
        store.close()
        server = start_server(db, "--workers", str(args.workers))
        try:
            return _run(args, server, key, db)
        finally:
            server.stop()


def _run(args: argparse.Namespace, server: LiveServer, key: str, db: str) -> int:
    ctx = mp.get_context("spawn")
    results: Any = ctx.Queue()
    start = time.time() + WARMUP_S  # every client starts pacing at the same instant
    per_client = args.rate / args.clients
    procs = [
        ctx.Process(
            target=run_client, args=(server.url, key, per_client, args.batch, start, args.seconds, results)
        )
        for _ in range(args.clients)
    ]
    for p in procs:
        p.start()
    time.sleep(max(0.0, start - time.time()))
    cpu_before = service_cpu(server)
    samples: list[tuple[float, int]] = []
    while time.time() < start + args.seconds:
        samples.append((time.time() - start, service_rss(server)))
        time.sleep(1.0)
    samples.append((time.time() - start, service_rss(server)))
    done = [results.get(timeout=args.seconds + 60) for _ in procs]
    service_cpu_s = service_cpu(server) - cpu_before
    for p in procs:
        p.join(timeout=30)
    # Clients that fell behind finish late: the rate is over the time until the last answer.
    elapsed = max(max(r.finished for r in done) - start, args.seconds)
    return _report(args, db, done, samples, elapsed, service_cpu_s)


def _report(
    args: argparse.Namespace,
    db: str,
    done: list[ClientResult],
    samples: list[tuple[float, int]],
    elapsed: float,
    service_cpu_s: float,
) -> int:
    acked = sum(r.acked_events for r in done)
    failed = sum(r.failed_batches for r in done)
    latencies = [x for r in done for x in r.latencies]
    rate = acked / elapsed
    mib = 1024 * 1024
    rss_start, rss_end = samples[0][1], samples[-1][1]
    half = [rss for t, rss in samples if t >= args.seconds / 2]
    growth = (half[-1] - half[0]) / half[0] if half and half[0] else 0.0
    store = "PostgreSQL" if is_postgres(db) else "SQLite"
    print(
        f"load: {args.seconds:g} s at {args.rate:,.0f} events/s offered, {args.clients} client processes "
        f"(raw httpx, batches of {args.batch}), {args.workers} service worker(s), {store}"
    )
    print(
        f"  acknowledged: {acked:,} events in {elapsed:.1f} s ({rate:,.0f} events/s sustained), "
        f"failed batches: {failed}"
    )
    print(
        f"  ack latency per batch: p50 {statistics.median(latencies) * 1000:.1f} ms, "
        f"p99 {percentile(latencies, 0.99) * 1000:.1f} ms, max {max(latencies, default=0) * 1000:.1f} ms"
        if latencies
        else "  ack latency: no batch acknowledged"
    )
    print(
        f"  service RSS: start {rss_start / mib:.1f} MiB, end {rss_end / mib:.1f} MiB, "
        f"second half {growth * 100:+.1f}%"
    )
    client_cpu_s = sum(r.cpu_s for r in done)
    if acked:
        print(
            f"  CPU per acknowledged event: service {service_cpu_s / acked * 1e6:.0f} us "
            f"({service_cpu_s / elapsed:.2f} cores), clients {client_cpu_s / acked * 1e6:.0f} us "
            f"({client_cpu_s / elapsed:.2f} cores), on {os.cpu_count()} cores"
        )
    problems = []
    if rate < 0.95 * args.rate:
        problems.append(f"sustained {rate:,.0f} events/s is under 95% of the {args.rate:,.0f} offered")
    if failed:
        problems.append(
            f"{failed} batches failed, first: {next(r.first_error for r in done if r.first_error)}"
        )
    if growth > 0.20:
        problems.append(f"memory grew {growth * 100:.0f}% over the second half")
    for problem in problems:
        print(f"  FAIL: {problem}")
    if not problems:
        print("  OK")
    return 1 if problems else 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main())
