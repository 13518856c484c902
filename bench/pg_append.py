"""Benchmark: PostgreSQL store append against a plain COPY of the same rows, in the same run.

Both write the same N events of about 1 KB, in batches of ``--batch``, into the same ``events``
table of a fresh database (made by the store's migrations, with all its indexes). The baseline
COPYs pre-built row tuples (JSON already encoded) straight into the table under project
``copy``, one transaction per batch, on one connection. preflog runs
``PostgresStore.append(validated=True)`` (the SDK's and the service's path) under project
``bench``: it encodes the bodies, takes the commit-order lock, COPYs in a savepoint, reads back
the positions and answers per event. Target: at least 0.5x the plain COPY rate.

The two alternate batch by batch (a COPY, an append, the next append, the next COPY...), so they
share the table's growth, the buffer cache and whatever else the machine is doing; their total
times are compared.

Run: ``PREFLOG_TEST_POSTGRES_URL=postgresql://... .venv/bin/python bench/pg_append.py [--n 200000]``.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests import factories as f

from pgdb import fresh_database
from preflog.events import validate_event
from preflog.store.common import EVENT_COLUMNS, PendingEvent, encode_body
from preflog.store.postgres import PostgresStore

Batches = list[list[dict[str, Any]]]


def events(n: int) -> list[dict[str, Any]]:
    filler = "x" * 330
    return [validate_event(f.inference(outputs=(filler + "a", filler + "b"))) for _ in range(n)]


def copy_rows(batches: Batches) -> list[list[tuple[Any, ...]]]:
    """The rows the store would write, built before the clock starts."""
    received = "2026-01-01T00:00:00.000000Z"
    return [
        [PendingEvent(0, dict(e, project="copy"), encode_body(e), received).row("copy") for e in chunk]
        for chunk in batches
    ]


def copy_batch(conn: psycopg.Connection[Any], rows: list[tuple[Any, ...]]) -> None:
    with conn.cursor() as cur, cur.copy(f"COPY events ({EVENT_COLUMNS}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)
    conn.commit()


def append_batch(store: PostgresStore, chunk: list[dict[str, Any]]) -> None:
    results = store.append(chunk, project="bench", validated=True)
    assert all(r.status == "stored" for r in results)


def timed(run: Callable[..., None], *args: Any) -> float:
    started = time.perf_counter()
    run(*args)
    return time.perf_counter() - started


def interleaved(db: str, batches: Batches) -> tuple[list[float], list[float]]:
    """Seconds per batch for the plain COPY and for the store, alternating batch by batch."""
    rows = copy_rows(batches)
    plain: list[float] = []
    ours: list[float] = []
    store = PostgresStore(db)
    with psycopg.connect(db) as conn:
        for index, chunk in enumerate(batches):
            copy_first = index % 2 == 0
            if copy_first:
                plain.append(timed(copy_batch, conn, rows[index]))
            ours.append(timed(append_batch, store, chunk))
            if not copy_first:
                plain.append(timed(copy_batch, conn, rows[index]))
    store.close()
    return plain, ours


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--n", type=int, default=200_000, help="events (default 200000)")
    parser.add_argument("--batch", type=int, default=500, help="events per append (default 500)")
    args = parser.parse_args()
    url = os.environ.get("PREFLOG_TEST_POSTGRES_URL")
    if not url:
        print("set PREFLOG_TEST_POSTGRES_URL (scripts/pg-test-cluster.sh start)")
        return 2
    data = events(args.n)
    size = sum(len(encode_body(e)) for e in data[:1000]) / min(1000, len(data))
    batches = [data[i : i + args.batch] for i in range(0, len(data), args.batch)]
    print(f"{args.n} events of ~{size:.0f} bytes in batches of {args.batch}, COPY and append interleaved")
    with fresh_database(url, "append") as db:
        plain, ours = interleaved(db, batches)
    plain_rate, our_rate = args.n / sum(plain), args.n / sum(ours)
    p50, p99 = percentile(ours, 0.5) * 1000, percentile(ours, 0.99) * 1000
    print(f"plain COPY:            {plain_rate:10,.0f} events/s")
    print(f"PostgresStore.append:  {our_rate:10,.0f} events/s")
    print(f"append latency per batch of {args.batch}: p50 {p50:.1f} ms, p99 {p99:.1f} ms")
    print(f"ratio: {our_rate / plain_rate:.2f}x the plain COPY rate (target >= 0.5x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
