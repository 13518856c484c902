"""Benchmark: PostgreSQL store append against a plain COPY of the same rows, in the same run.

Both write N events of about 1 KB into an identical, freshly created ``events`` table (the store's
own migrations) in batches of ``--batch``: the baseline COPYs pre-built row tuples straight into
the table in one transaction per batch; preflog runs ``PostgresStore.append(validated=True)``
(staging COPY, ``INSERT ... ON CONFLICT ... RETURNING``, per-event answers, the commit-order lock).
Target: at least 0.5x the plain COPY rate.

Run: ``PREFLOG_TEST_POSTGRES_URL=postgresql://... .venv/bin/python bench/pg_append.py [--n 200000]``.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests import factories as f

from preflog.events import new_id, validate_event
from preflog.store.common import PendingEvent, encode_body
from preflog.store.postgres import _COLUMNS, PostgresStore


def fresh_database(url: str) -> str:
    name = "bench_" + new_id().replace("-", "")[:12]
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    return url.rsplit("/", 1)[0] + "/" + name


def drop_database(url: str, db_url: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {db_url.rsplit('/', 1)[1]} WITH (FORCE)")


def events(n: int) -> list[dict[str, object]]:
    filler = "x" * 330
    return [validate_event(f.inference(outputs=(filler + "a", filler + "b"))) for _ in range(n)]


def run_store(url: str, batch: list[list[dict[str, object]]]) -> float:
    store = PostgresStore(url)
    started = time.perf_counter()
    for chunk in batch:
        results = store.append(chunk, project="bench", validated=True)
        assert results[-1].status == "stored"
    elapsed = time.perf_counter() - started
    store.close()
    return elapsed


def run_copy(url: str, batch: list[list[dict[str, object]]]) -> float:
    PostgresStore(url).close()  # the same table and indexes
    rows = [
        [
            PendingEvent(0, dict(e, project="bench"), encode_body(e), "2026-01-01T00:00:00.000000Z").row(
                "bench"
            )
            for e in chunk
        ]
        for chunk in batch
    ]
    with psycopg.connect(url) as conn:
        started = time.perf_counter()
        for chunk in rows:
            with conn.cursor() as cur, cur.copy(f"COPY events ({_COLUMNS}) FROM STDIN") as copy:
                for row in chunk:
                    copy.write_row(row)
            conn.commit()
        return time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--n", type=int, default=200_000)
    parser.add_argument("--batch", type=int, default=500)
    args = parser.parse_args()
    url = os.environ.get("PREFLOG_TEST_POSTGRES_URL")
    if not url:
        print("set PREFLOG_TEST_POSTGRES_URL (scripts/pg-test-cluster.sh start)")
        return 2
    data = events(args.n)
    size = sum(len(encode_body(e)) for e in data[:1000]) / 1000
    batches = [data[i : i + args.batch] for i in range(0, len(data), args.batch)]
    print(f"{args.n} events of ~{size:.0f} bytes in batches of {args.batch}")
    plain_db, store_db = fresh_database(url), fresh_database(url)
    try:
        plain = args.n / run_copy(plain_db, batches)
        ours = args.n / run_store(store_db, batches)
    finally:
        drop_database(url, plain_db)
        drop_database(url, store_db)
    print(f"plain COPY:            {plain:10,.0f} events/s")
    print(f"PostgresStore.append:  {ours:10,.0f} events/s")
    print(f"ratio: {ours / plain:.2f}x the plain COPY rate (target >= 0.5x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
