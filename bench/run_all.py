"""Run every benchmark in bench/ one after another (``make bench``), each in its own process.

Each benchmark prints its own figures as ratios against a baseline measured in the same run.
PostgreSQL benchmarks run when ``PREFLOG_TEST_POSTGRES_URL`` is set. ``--quick`` passes small
sizes, for a smoke run; pass a benchmark's name to run only that one.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent

# name -> (full-size arguments, quick arguments)
BENCHMARKS: dict[str, tuple[list[str], list[str]]] = {
    "hot_path": ([], ["--n", "20000"]),
    "validation": ([], ["--n", "5000", "--repeat", "3"]),
    "embedded_ingest": ([], ["--n", "20000"]),
    "http_ingest": ([], ["--events", "5000"]),
    "pg_append": ([], ["--n", "20000"]),
    "compile_1m": ([], ["--n", "20000"]),
    "compile_engines": ([], ["--n", "20000"]),
    "leaderboard": ([], ["--n", "100000"]),
    "load": ([], ["--seconds", "10"]),
    "verify_checks": ([], ["--n", "200", "--repeat", "1"]),
    "compile_spark": ([], ["--n", "20000"]),  # 100k by default; --n 1000000 when the machine is quiet
    "stream_ingest": ([], ["--n", "5000", "--rounds", "2"]),
    "wrap_overhead": ([], ["--n", "50"]),
}


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("names", nargs="*", help="benchmarks to run (default: all present)")
    parser.add_argument("--quick", action="store_true", help="small sizes, for a smoke run")
    args = parser.parse_args()
    names = args.names or [n for n in BENCHMARKS if (HERE / f"{n}.py").exists()]
    failed = []
    for name in names:
        full, quick = BENCHMARKS.get(name, ([], []))
        if name == "pg_append" and not os.environ.get("PREFLOG_TEST_POSTGRES_URL"):
            print(f"== {name}: skipped (PREFLOG_TEST_POSTGRES_URL is not set)", flush=True)
            continue
        print(f"== {name}", flush=True)
        started = time.monotonic()
        code = subprocess.call([sys.executable, str(HERE / f"{name}.py"), *(quick if args.quick else full)])
        print(f"== {name}: exit {code} after {time.monotonic() - started:.0f} s", flush=True)
        if code:
            failed.append(name)
    if failed:
        print("failed: " + ", ".join(failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
