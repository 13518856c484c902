"""Embedded ingest: events through the SDK into a fresh SQLite file, against plain ``executemany``.

    .venv/bin/python bench/embedded_ingest.py [--n 200000] [--repeat 1] [--batch-size 500] [--profile]

1. SDK: ``preflog.Client(db=fresh.db)`` (local transport, ``on_full="block"`` so no event is
   dropped) receives ``--n`` ``log_inference`` calls of about 1 KB each (a prompt and two candidate
   outputs); timed from the first call until ``flush()`` returns, i.e. until every event is committed.
2. Plain: the very rows the SDK run stored (read back from its file) are inserted with one
   ``sqlite3.executemany`` in one transaction into another fresh file with the same schema (tables
   and indexes copied from the SDK's file) and the same pragmas (WAL, ``synchronous=NORMAL``).

Both runs are in this process, one after the other; the call arguments and the rows are prepared
before the clock starts. Prints both rates and the ratio (target: SDK >= 0.5x plain).
``--repeat K`` runs K such pairs, each on fresh files, and reports every pair and the median of
the pair ratios: on a shared machine the load changes within minutes, and each pair's two runs
see nearly the same load.
``--profile`` runs the SDK part under cProfile (all threads) and prints where the time goes.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import pstats
import sqlite3
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

import preflog  # noqa: E402

TARGET = 0.5
WORDS = [
    *[
        "the",
        "model",
        "answers",
        "questions",
        "about",
        "capitals",
        "rivers",
        "mountains",
        "and",
        "the",
        "history",
        "of",
        "europe",
    ],
    *[
        "in",
        "short",
        "clear",
        "sentences",
        "with",
        "one",
        "fact",
        "each",
        "and",
        "no",
        "more",
        "than",
        "needed",
        "for",
        "the",
        "reader",
    ],
]


def text(i: int, words: int) -> str:
    return " ".join(WORDS[(i * 7 + k * 3) % len(WORDS)] for k in range(words))


def make_calls(n: int) -> list[tuple[str, list[str]]]:
    """``n`` (prompt, [output, output]) pairs; with the envelope each event is about 1 KB of JSON."""
    return [(f"Question {i}: " + text(i, 30), [text(i + 1, 55), text(i + 2, 50)]) for i in range(n)]


def run_sdk(db: Path, calls: list[tuple[str, list[str]]], batch_size: int) -> float:
    client = preflog.Client(
        db=str(db), project="bench", batch_size=batch_size, on_full="block", block_timeout=60
    )
    params = {"temperature": 0.7, "max_tokens": 256}
    log = client.log_inference
    start = time.perf_counter()
    for prompt, outputs in calls:
        log(prompt, outputs, model="model-a", params=params, user_id="u1")
    if not client.flush(timeout=600):
        raise SystemExit("flush timed out")
    seconds = time.perf_counter() - start
    stats = client.stats()
    client.close()
    if stats.sent != len(calls) or stats.dropped or stats.failed or stats.rejected:
        raise SystemExit(f"the SDK run lost events: {stats}")
    return seconds


def stored_rows(db: Path) -> tuple[list[str], list[tuple[Any, ...]], list[str]]:
    """The schema statements and the rows (all columns, position order) of the SDK's file."""
    conn = sqlite3.connect(db)
    schema = [
        sql
        for (sql,) in conn.execute(
            "SELECT sql FROM sqlite_master WHERE sql IS NOT NULL AND name NOT LIKE 'sqlite_%' "
            "ORDER BY type = 'index', rowid"
        )
    ]
    cursor = conn.execute("SELECT * FROM events ORDER BY position")
    columns = [d[0] for d in cursor.description]
    rows = cursor.fetchall()
    conn.close()
    return schema, rows, columns


def run_plain(db: Path, schema: list[str], rows: list[tuple[Any, ...]], columns: list[str]) -> float:
    conn = sqlite3.connect(db, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    for statement in schema:
        conn.execute(statement)
    insert = f"INSERT INTO events ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"
    start = time.perf_counter()
    conn.execute("BEGIN")
    conn.executemany(insert, rows)
    conn.execute("COMMIT")
    seconds = time.perf_counter() - start
    conn.close()
    return seconds


def profile_sdk(db: Path, calls: list[tuple[str, list[str]]], batch_size: int) -> None:
    """Profile the caller's thread and the SDK's worker thread separately (one profiler each)."""
    worker = cProfile.Profile()
    original = threading.Thread.run

    def run(self: threading.Thread) -> None:
        if self.name != "preflog-sdk":
            original(self)
            return
        worker.enable()
        try:
            original(self)
        finally:
            worker.disable()

    threading.Thread.run = run  # type: ignore[method-assign]
    caller = cProfile.Profile()
    try:
        caller.enable()
        run_sdk(db, calls, batch_size)
        caller.disable()
    finally:
        threading.Thread.run = original  # type: ignore[method-assign]
    for name, profiler in (("caller thread", caller), ("worker thread", worker)):
        print(f"==== {name} ====")
        pstats.Stats(profiler).sort_stats("tottime").print_stats(20)


def run_pair(calls: list[tuple[str, list[str]]], batch_size: int) -> tuple[float, float, float]:
    """One SDK run and one plain run of the same rows, on fresh files: (sdk s, plain s, bytes/event)."""
    with tempfile.TemporaryDirectory(prefix="preflog-bench-") as tmp:
        sdk_db, plain_db = Path(tmp) / "sdk.db", Path(tmp) / "plain.db"
        sdk_s = run_sdk(sdk_db, calls, batch_size)
        schema, rows, columns = stored_rows(sdk_db)
        body_bytes = sum(len(r[columns.index("body")].encode()) for r in rows) / len(rows)
        plain_s = run_plain(plain_db, schema, rows, columns)
    return sdk_s, plain_s, body_bytes


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--n", type=int, default=200_000, help="events (default 200000)")
    parser.add_argument("--repeat", type=int, default=1, help="pairs of runs; the median ratio counts")
    parser.add_argument("--batch-size", type=int, default=500, help="the client's batch_size (default 500)")
    parser.add_argument("--profile", action="store_true", help="profile the SDK run instead of comparing")
    opts = parser.parse_args()

    calls = make_calls(opts.n)
    if opts.profile:
        with tempfile.TemporaryDirectory(prefix="preflog-bench-") as tmp:
            profile_sdk(Path(tmp) / "sdk.db", calls, opts.batch_size)
        return
    pairs = []
    for k in range(opts.repeat):
        sdk_s, plain_s, body_bytes = run_pair(calls, opts.batch_size)
        pairs.append((sdk_s, plain_s))
        sdk_rate, plain_rate = opts.n / sdk_s, opts.n / plain_s
        print(f"pair {k + 1}/{opts.repeat}: events: {opts.n} of ~{body_bytes:.0f} bytes JSON (body column)")
        print(f"  SDK (log_inference -> flush, local SQLite): {sdk_s:7.2f} s  {sdk_rate:10,.0f} events/s")
        print(f"  plain sqlite3 executemany (same rows)     : {plain_s:7.2f} s  {plain_rate:10,.0f} events/s")
        print(f"  ratio SDK / plain: {plain_s / sdk_s:.2f}x")
    ratios = sorted(plain_s / sdk_s for sdk_s, plain_s in pairs)
    ratio = statistics.median(ratios)
    result = {
        "events": opts.n,
        "avg_event_json_bytes": round(body_bytes),
        "batch_size": opts.batch_size,
        "pairs": [
            {
                "sdk_events_per_s": round(opts.n / a),
                "plain_events_per_s": round(opts.n / b),
                "ratio": round(b / a, 3),
            }
            for a, b in pairs
        ],
        "ratio": round(ratio, 3),
        "target": TARGET,
        "meets_target": ratio >= TARGET,
    }
    verdict = "met" if ratio >= TARGET else "MISSED"
    print(f"ratio SDK / plain (median of {len(ratios)}): {ratio:.2f}x  (target >= {TARGET}x: {verdict})")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
