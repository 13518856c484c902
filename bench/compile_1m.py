"""Benchmark: compile 1,000,000 inferences (two candidates of ~500 bytes) and 1,000,000 judgments
from the SQLite store into ``trl`` JSONL; compare with a plain join-and-write of the same rows in
DuckDB, in the same run. Targets: under 20 s and under 2 GB peak memory for the compile.

    .venv/bin/python bench/compile_1m.py            # 1M (generating the store takes minutes)
    .venv/bin/python bench/compile_1m.py --n 100000 # a quick run
    .venv/bin/python bench/compile_1m.py --against ../old/src --no-duckdb  # before/after a change

The store is generated once per size and kept (``--db``); each measured step runs in a fresh child
process so its peak memory (ru_maxrss) is its own.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import json
import os
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

PROJECT = "bench"
T_INF = "2026-11-26T10:00:00.000000Z"
T_PREF = "2026-11-26T10:05:00.000000Z"


def _texts(rng: random.Random, count: int, size: int) -> list[str]:
    words = [
        "".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(rng.randint(2, 9)))
        for _ in range(4000)
    ]
    out = []
    for _ in range(count):
        parts: list[str] = []
        length = 0
        while length < size:
            w = rng.choice(words)
            parts.append(w)
            length += len(w) + 1
        out.append(" ".join(parts))
    return out


def generate(db: Path, n: int, *, schema_version: int = 1) -> dict[str, Any]:
    """n inferences with two ~500-byte candidates, and one preference for each, appended in batches
    with the store's bulk path (``validated=True``). ``schema_version``: 1 (the default, what the
    stores measured since the first figures hold: an old store, upcast on every read) or 2 (what
    today's SDK writes)."""
    from preflog.events import new_id
    from preflog.store import open_store

    rng = random.Random(42)
    outputs = _texts(rng, 2000, 490)
    prompts = _texts(rng, 500, 80)
    started = time.perf_counter()
    store = open_store(str(db))
    batch: list[dict[str, Any]] = []
    for i in range(n):
        rid = new_id()
        batch.append(
            {
                "event_id": new_id(),
                "type": "inference",
                "request_id": rid,
                "occurred_at": T_INF,
                "schema_version": schema_version,
                "prompt": f"[{i}] {prompts[i % 500]}",
                "candidates": [
                    {"candidate_id": "a", "output": f"[{i}a] {outputs[i % 2000]}", "model": {"name": "m-a"}},
                    {
                        "candidate_id": "b",
                        "output": f"[{i}b] {outputs[(i * 7 + 1) % 2000]}",
                        "model": {"name": "m-b"},
                    },
                ],
                "presented": ["a", "b"],
            }
        )
        chosen, rejected = ("a", "b") if i % 3 else ("b", "a")
        batch.append(
            {
                "event_id": new_id(),
                "type": "preference",
                "request_id": rid,
                "occurred_at": T_PREF,
                "schema_version": schema_version,
                "chosen": chosen,
                "rejected": rejected,
                "source": {"kind": "human", "id": f"annotator-{i % 50}"},
            }
        )
        if len(batch) >= 20000:
            store.append(batch, project=PROJECT, validated=True)
            batch = []
    if batch:
        store.append(batch, project=PROJECT, validated=True)
    store.close()
    return {"seconds": round(time.perf_counter() - started, 2), "events": 2 * n, "bytes": db.stat().st_size}


def _peak_mb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def run_compile(db: Path, out: Path) -> dict[str, Any]:
    from preflog.compile import compile_dataset
    from preflog.store import open_store

    started = time.perf_counter()
    cpu = time.process_time()
    store = open_store(str(db))
    manifest = compile_dataset(store, project=PROJECT, out_dir=out, format="trl")
    store.close()
    seconds = time.perf_counter() - started
    return {
        "seconds": round(seconds, 2),
        "cpu_seconds": round(time.process_time() - cpu, 2),
        "peak_mb": _peak_mb(),
        "rows": manifest.counts_out["items"],
    }


def run_reads(db: Path, out: Path) -> dict[str, Any]:
    """What the leaderboard reads (inferences, preferences, retractions), through the store's
    ``iter_events`` (one stream per type on SQLite) and through paging ``read`` for the three
    types at once (``Store.iter_events``, what every store did before), in this one process."""
    from preflog.store import open_store
    from preflog.store.base import Store

    types = ["inference", "preference", "retraction"]
    store = open_store(str(db))
    timings = {}
    for name, events in (
        ("paged", lambda: Store.iter_events(store, project=PROJECT, types=types)),
        ("merged", lambda: store.iter_events(project=PROJECT, types=types)),
    ):
        started = time.perf_counter()
        count = sum(1 for _ in events())
        timings[name] = round(time.perf_counter() - started, 2)
    store.close()
    return {**timings, "events": count}


def run_duckdb(db: Path, out: Path) -> dict[str, Any]:
    """The plain baseline: load the events (SQLite → Arrow, as DuckDB's sqlite extension cannot be
    installed offline), join preferences to inferences by request id in SQL, pick the chosen and
    rejected outputs by candidate id, write JSONL with COPY."""
    import sqlite3

    import duckdb
    import pyarrow as pa

    started = time.perf_counter()
    cpu = time.process_time()
    conn = sqlite3.connect(db)
    tables = {}
    for etype in ("inference", "preference"):
        rows = conn.execute(
            "SELECT request_id, body FROM events WHERE project = ? AND type = ? ORDER BY position",
            (PROJECT, etype),
        ).fetchall()
        tables[etype] = pa.table({"request_id": [r[0] for r in rows], "body": [r[1] for r in rows]})
        del rows
    conn.close()
    loaded = time.perf_counter() - started
    inference, preference = tables["inference"], tables["preference"]  # noqa: F841 (read by DuckDB)
    out.mkdir(parents=True, exist_ok=True)
    duck = duckdb.connect()
    duck.execute("SET preserve_insertion_order = true")
    duck.execute(
        f"""
        COPY (
          WITH i AS (
            SELECT request_id, json_extract_string(body, '$.prompt') AS prompt,
                   unnest(CAST(json_extract(body, '$.candidates') AS JSON[])) AS cand
            FROM inference
          ), c AS (
            SELECT request_id, prompt, json_extract_string(cand, '$.candidate_id') AS cid,
                   json_extract_string(cand, '$.output') AS output
            FROM i
          ), p AS (
            SELECT request_id, json_extract_string(body, '$.chosen') AS chosen,
                   json_extract_string(body, '$.rejected') AS rejected
            FROM preference
          )
          SELECT a.prompt AS prompt, a.output AS chosen, b.output AS rejected
          FROM p
          JOIN c AS a ON a.request_id = p.request_id AND a.cid = p.chosen
          JOIN c AS b ON b.request_id = p.request_id AND b.cid = p.rejected
        ) TO '{out / "train.jsonl"}' (FORMAT json)
        """
    )
    seconds = time.perf_counter() - started
    rows = sum(1 for _ in (out / "train.jsonl").open("rb"))
    return {
        "seconds": round(seconds, 2),
        "load_seconds": round(loaded, 2),
        "cpu_seconds": round(time.process_time() - cpu, 2),  # all of DuckDB's threads
        "peak_mb": _peak_mb(),
        "rows": rows,
    }


def _child(step: str, db: Path, out: Path, src: Path | None = None) -> dict[str, Any]:
    """One step in a fresh process; with ``src``, the preflog of that source tree instead."""
    env = dict(os.environ, PYTHONPATH=str(src)) if src is not None else None
    proc = subprocess.run(
        [sys.executable, __file__, "--step", step, "--db", str(db), "--out", str(out)],
        check=True,
        capture_output=True,
        text=True,
        env=env,
    )
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


def _digests(out: Path) -> dict[str, str]:
    """The data files' sha256 (not the manifest or card, which name the preflog version)."""
    return {
        p.name: hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(out.iterdir())
        if p.name not in ("manifest.json", "README.md")
    }


def _against(before: dict[str, Any], src: Path, out: Path, result: dict[str, Any]) -> None:
    """The local engine of another source tree (the code before a change), run first."""
    same = _digests(out / "before") == _digests(out / "preflog")
    print(
        f"the code in {src}: {before['seconds']} s (CPU {before['cpu_seconds']} s), peak "
        f"{before['peak_mb']} MB; this code's speed / its: {before['seconds'] / result['seconds']:.2f}x; "
        f"data files {'byte-identical' if same else 'DIFFERENT'}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--n", type=int, default=1_000_000, help="inferences (and judgments)")
    parser.add_argument(
        "--db", type=Path, help="store file (default: $TMPDIR/preflog-bench-compile-N.db, kept)"
    )
    parser.add_argument("--out", type=Path, help="output directory (default: a temporary one)")
    parser.add_argument("--step", choices=("compile", "duckdb", "reads"), help=argparse.SUPPRESS)
    parser.add_argument(
        "--reads", action="store_true", help="also time the leaderboard's read of the store, two ways"
    )
    parser.add_argument("--no-duckdb", action="store_true", help="skip the DuckDB baseline")
    parser.add_argument(
        "--against",
        type=Path,
        metavar="SRC",
        help="also compile with the preflog of source tree SRC (its src/ directory) and compare",
    )
    args = parser.parse_args()
    if args.step:
        step = {"compile": run_compile, "duckdb": run_duckdb, "reads": run_reads}[args.step]
        print(json.dumps(step(args.db, args.out)))
        return
    db = args.db or Path(tempfile.gettempdir()) / f"preflog-bench-compile-{args.n}.db"
    if not db.exists():
        print(f"generating {args.n:,} inferences + {args.n:,} judgments into {db} ...", flush=True)
        gen = generate(db, args.n)
        print(f"generated in {gen['seconds']} s ({gen['bytes'] / 1e9:.2f} GB) — not part of the measurement")
    out = args.out or Path(tempfile.mkdtemp(prefix="preflog-bench-out-"))
    try:
        if args.against is not None:  # first: the page cache then favours this code, if anyone
            before = _child("compile", db, out / "before", args.against)
        result = _child("compile", db, out / "preflog")
        print(
            f"preflog compile: {result['seconds']} s (CPU {result['cpu_seconds']} s), "
            f"peak {result['peak_mb']} MB, {result['rows']:,} rows (target < 20 s, < 2048 MB)"
        )
        if args.against is not None:
            _against(before, args.against, out, result)
        if args.reads:
            reads = _child("reads", db, out / "reads")
            print(
                f"leaderboard read of {reads['events']:,} events: one stream per type {reads['merged']} s, "
                f"paged three types at once {reads['paged']} s ({reads['paged'] / reads['merged']:.2f}x)"
            )
        if not args.no_duckdb and importlib.util.find_spec("duckdb") is None:
            print("duckdb is not installed (the bench extra pins it): no baseline this run")
        elif not args.no_duckdb:
            duck = _child("duckdb", db, out / "duckdb")
            ratio = result["seconds"] / duck["seconds"]
            print(
                f"duckdb join+write: {duck['seconds']} s (CPU {duck['cpu_seconds']} s; loading from SQLite "
                f"{duck['load_seconds']} s), "
                f"peak {duck['peak_mb']} MB, {duck['rows']:,} rows"
            )
            print(f"ratio preflog / duckdb: {ratio:.2f}x")
    finally:
        if args.out is None:
            shutil.rmtree(out, ignore_errors=True)


if __name__ == "__main__":
    main()
