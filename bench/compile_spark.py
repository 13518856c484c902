"""Benchmark: the Spark engine (local mode) against the local engine, both compiling the same Parquet
archive of N inferences + N judgments → ``trl``, in one run:

* ``local``: the archive read by pyarrow, the pipeline in this process (the baseline);
* ``spark``: Spark scans, filters, joins and orders the archive; the pipeline and preflog's writers
  run in the driver. Its session start is reported apart (paid once per process), then a compile
  on the started session, and the same compile again (the JVM warm);
* the peak memory of each (this process and its children, the JVM included: sampled with psutil),
  and whether both wrote the same bytes.

    .venv/bin/python bench/compile_spark.py            # 100k
    .venv/bin/python bench/compile_spark.py --n 1000000

The store is bench/compile_1m.py's (same generator, same file: ``$TMPDIR/preflog-bench-compile-N.db``,
kept); the archive is built from it once, beside it (``...-N.spark-archive``, kept, not measured).
Each engine runs in a fresh child process. Slower than local on one machine is expected: the point
is that the same job runs unchanged on a cluster (docs/scaling.md).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from compile_1m import PROJECT, generate  # the bench directory is not a package


class PeakRss:
    """The peak resident memory of this process and all its children (the JVM), every 0.2 s."""

    def __init__(self) -> None:
        import psutil

        self.me = psutil.Process()
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(0.2):
            total = 0
            for proc in [self.me, *self.me.children(recursive=True)]:
                try:
                    total += proc.memory_info().rss
                except Exception:  # a child that just exited
                    continue
            self.peak = max(self.peak, total)

    def mb(self) -> float:
        self._stop.set()
        self._thread.join()
        return round(self.peak / 2**20, 1)


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.exists() else ""


def run_engine(archive: Path, out: Path, engine: str) -> dict[str, Any]:
    from preflog.compile import compile_dataset
    from preflog.engines import compile_source

    rss = PeakRss()
    result: dict[str, Any] = {}
    started = time.perf_counter()
    source = compile_source(None, project=PROJECT, engine=engine, from_archive=str(archive))
    result["start_seconds"] = round(time.perf_counter() - started, 2)  # the session, for spark
    for run in ("first", "again"):
        began = time.perf_counter()
        manifest = compile_dataset(source, project=PROJECT, out_dir=out / run, format="trl")
        result[f"{run}_seconds"] = round(time.perf_counter() - began, 2)
    began = time.perf_counter()  # the engine's share: the reads a compile makes, nothing joined after
    for kind in ("preference", "score", "signal", "retraction", "erasure", "inference"):
        for _ in source.iter_events(project=PROJECT, types=[kind], until_position=manifest.watermark):
            pass
    result["read_seconds"] = round(time.perf_counter() - began, 2)
    result.update(
        peak_mb=rss.mb(),
        rows=manifest.counts_out["items"],
        sha256=_sha(out / "again" / "train.jsonl"),
    )
    return result


def _child(engine: str, archive: Path, out: Path) -> dict[str, Any]:
    command = [sys.executable, __file__, "--step", engine, "--archive", str(archive), "--out", str(out)]
    proc = subprocess.run(command, check=True, capture_output=True, text=True)
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


def _archive(db: Path, archive: Path) -> None:
    from preflog.archive import archive_events
    from preflog.store import open_store

    store = open_store(str(db))
    try:
        archive_events(store, project=PROJECT, out=str(archive))  # incremental: nothing new, no work
    finally:
        store.close()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--n", type=int, default=100_000, help="inferences (and judgments)")
    parser.add_argument("--archive", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--step", choices=("local", "spark"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.step:
        print(json.dumps(run_engine(args.archive, args.out, args.step)))
        return
    db = Path(tempfile.gettempdir()) / f"preflog-bench-compile-{args.n}.db"
    if not db.exists():
        print(f"generating {args.n:,} inferences + {args.n:,} judgments into {db} ...", flush=True)
        gen = generate(db, args.n)
        print(f"generated in {gen['seconds']} s — not part of the measurement", flush=True)
    archive = db.with_suffix(".spark-archive")
    _archive(db, archive)
    print(f"load average before: {os.getloadavg()[0]:.2f} (1 min)", flush=True)
    with tempfile.TemporaryDirectory(prefix="preflog-bench-spark-") as tmp:
        local = _child("local", archive, Path(tmp) / "local")
        print(_line("local engine, archive → trl", local), flush=True)
        spark = _child("spark", archive, Path(tmp) / "spark")
        print(_line("spark engine (local mode), archive → trl", spark), flush=True)
    print(f"spark session start: {spark['start_seconds']} s (once per process)")
    reads = f"local {local['read_seconds']} s, spark {spark['read_seconds']} s"
    print(f"reads alone (the engine's part of a compile): {reads}")
    for run in ("first", "again"):
        ratio = local[f"{run}_seconds"] / spark[f"{run}_seconds"]
        print(f"ratio spark speed / local engine, {run} compile: {ratio:.2f}x")
    same = "the same bytes" if spark["sha256"] == local["sha256"] else "DIFFERENT BYTES"
    print(f"spark and local engines wrote {same} (sha256 {local['sha256'][:16]}…)")
    print(f"load average after: {os.getloadavg()[0]:.2f} (1 min)")


def _line(what: str, r: dict[str, Any]) -> str:
    return (
        f"{what}: {r['first_seconds']} s, again {r['again_seconds']} s, peak {r['peak_mb']} MB "
        f"(process + children), {r['rows']:,} rows"
    )


if __name__ == "__main__":
    main()
