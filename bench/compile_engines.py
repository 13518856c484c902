"""Benchmark: the compile engines on 1,000,000 inferences + 1,000,000 judgments → ``trl``, in one run:

* ``preflog archive`` from the SQLite store into a fresh Parquet archive (target ≤ 20 s);
* the duckdb engine from that archive (target ≤ 5 s, and at least 0.5× the speed of the plain
  DuckDB join-and-write of the same archive, which this bench also runs);
* the local engine from the store (the pipeline, for scale);
* the peak memory of each (target ≤ 2 GB), and whether the engines wrote the same bytes.

    .venv/bin/python bench/compile_engines.py            # 1M (generating the store takes ~1 min)
    .venv/bin/python bench/compile_engines.py --n 20000  # a quick run

The store is bench/compile_1m.py's (same generator, same file: ``$TMPDIR/preflog-bench-compile-N.db``,
kept). Each step runs in a fresh child process, so its peak memory (ru_maxrss) is its own.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from compile_1m import PROJECT, generate  # the bench directory is not a package

STEPS = ("archive", "duckdb", "plain", "plain-json", "local")


def _peak_mb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def _cpu_s() -> float:
    """This process's CPU seconds (user + system, every thread): on a shared machine the figure
    that moves least with the other work beside it."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    return round(own.ru_utime + own.ru_stime, 1)


def _cpu_split() -> dict[str, float]:
    """User and system CPU seconds apart: plain DuckDB's system time (writing its 1.1 GB file,
    fresh pages) moved from 2.0–2.6 s to 5.9–10.3 s between two days here while its user time
    hardly moved, and the ratio with it."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    return {"user_s": round(own.ru_utime, 1), "sys_s": round(own.ru_stime, 1)}


def _sha(path: Path) -> str:
    """The file's sha256, read through one reused buffer: ``read_bytes`` of the 1.1 GB file was
    ~280,000 page faults of fresh memory, counted in the step's process figures (not its seconds)."""
    if not path.exists():
        return ""
    digest, buffer = hashlib.sha256(), bytearray(1 << 20)
    view = memoryview(buffer)
    with path.open("rb", buffering=0) as fh:
        while n := fh.readinto(buffer):
            digest.update(view[:n])
    return digest.hexdigest()


def run_archive(db: Path, archive: Path, out: Path, workers: int | None = None) -> dict[str, Any]:
    """The archive build; its peak is this process's plus each of its worker processes' own peak
    (they are alive at once for the whole run)."""
    import threading

    from preflog.archive import archive_events
    from preflog.store import open_store

    shutil.rmtree(archive, ignore_errors=True)
    peaks: dict[int, float] = {}
    stop = threading.Event()
    sampler = threading.Thread(target=_sample_children, args=(peaks, stop), daemon=True)
    sampler.start()
    started = time.perf_counter()
    store = open_store(str(db))
    report = archive_events(store, project=PROJECT, out=str(archive), workers=workers)
    store.close()
    seconds = round(time.perf_counter() - started, 2)
    stop.set()
    sampler.join()
    total = round(_peak_mb() + sum(peaks.values()), 1)
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = round(own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime, 1)
    return {
        "seconds": seconds,
        "peak_mb": total,
        "rows": report.events,
        "processes": 1 + len(peaks),
        "cpu_s": cpu,
    }


def _sample_children(peaks: dict[int, float], stop: Any) -> None:
    """Each child process's peak resident size (VmHWM), read every 0.2 s until ``stop``."""
    me = Path(f"/proc/{os.getpid()}/task")
    while not stop.wait(0.2):
        for children in me.glob("*/children"):
            for pid in children.read_text().split():
                try:
                    status = Path(f"/proc/{pid}/status").read_text()
                except OSError:
                    continue  # ended
                for line in status.splitlines():
                    if line.startswith("VmHWM:"):
                        peaks[int(pid)] = max(peaks.get(int(pid), 0.0), int(line.split()[1]) / 1024)


def run_engine(db: Path, archive: Path, out: Path, engine: str) -> dict[str, Any]:
    from preflog.compile import compile_dataset
    from preflog.engines import compile_source
    from preflog.store import open_store

    stages = _StageLog()
    logging.getLogger("preflog.engines.vectorized").addHandler(stages)
    logging.getLogger("preflog.engines.vectorized").setLevel(logging.INFO)
    started = time.perf_counter()
    store = open_store(str(db))
    from_archive = str(archive) if engine == "duckdb" else None
    source = compile_source(store, project=PROJECT, engine=engine, from_archive=from_archive)
    manifest = compile_dataset(source, project=PROJECT, out_dir=out, format="trl")
    store.close()
    return {
        "seconds": round(time.perf_counter() - started, 2),
        "peak_mb": _peak_mb(),
        "cpu_s": _cpu_s(),
        **_cpu_split(),
        "rows": manifest.counts_out["items"],
        "engine": manifest.engine or engine,
        "sha256": _sha(out / "train.jsonl"),
        "stages": stages.lines,
    }


class _StageLog(logging.Handler):
    """The duckdb engine's stage timings (its log), to print beside the total."""

    def __init__(self) -> None:
        super().__init__()
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage().removeprefix("duckdb stage: "))


def run_plain(db: Path, archive: Path, out: Path, *, typed: bool = True) -> dict[str, Any]:
    """The plain baseline: DuckDB reads the archive's Parquet files, joins each preference to its
    inference by request id, picks the chosen and rejected outputs by candidate id and writes
    JSONL with COPY — no validation, no drops counted, no deduplication. ``typed``: from the
    archive's typed text columns (format 2: what a plain user of today's archive would read),
    else from the ``event`` JSON (the baseline before those columns, kept for continuity)."""
    import duckdb

    started = time.perf_counter()
    out.mkdir(parents=True, exist_ok=True)
    files = f"'{archive}/project={PROJECT}/*/*.parquet'"
    duck = duckdb.connect()
    duck.execute(
        f"COPY ({PLAIN_TYPED if typed else PLAIN_JSON}) TO '{out / 'train.jsonl'}' (FORMAT json)".format(
            files=files
        )
    )
    duck.close()
    # measured before the rows are counted: reading the 1.1 GB file back line by line took
    # 0.8–2.2 s, which the plain step's seconds and CPU held until session 8
    measured = {
        "seconds": round(time.perf_counter() - started, 2),
        "peak_mb": _peak_mb(),
        "cpu_s": _cpu_s(),
        **_cpu_split(),
    }
    return {**measured, "rows": sum(1 for _ in (out / "train.jsonl").open("rb"))}


PLAIN_TYPED = """
  WITH ev AS (SELECT request_id, type, chosen, rejected, candidate_ids, prompt_text, outputs
              FROM read_parquet({files}))
  SELECT i.prompt_text AS prompt, i.outputs[list_position(i.candidate_ids, p.chosen)] AS chosen,
         i.outputs[list_position(i.candidate_ids, p.rejected)] AS rejected
  FROM ev AS p JOIN ev AS i ON i.request_id = p.request_id AND i.type = 'inference'
  WHERE p.type = 'preference'
"""
PLAIN_JSON = """
  WITH ev AS (SELECT request_id, type, chosen, rejected, event FROM read_parquet({files})),
  i AS (
    SELECT request_id, json_transform(event, '{{"prompt":"VARCHAR",
      "candidates":[{{"candidate_id":"VARCHAR","output":"VARCHAR"}}]}}') AS e
    FROM ev WHERE type = 'inference'
  )
  SELECT i.e.prompt AS prompt,
         list_filter(i.e.candidates, lambda c: c.candidate_id = p.chosen)[1].output AS chosen,
         list_filter(i.e.candidates, lambda c: c.candidate_id = p.rejected)[1].output AS rejected
  FROM ev AS p JOIN i USING (request_id)
  WHERE p.type = 'preference'
"""


def _child(step: str, db: Path, archive: Path, out: Path, workers: int | None = None) -> dict[str, Any]:
    command = [sys.executable, __file__, "--step", step, "--db", str(db), "--archive", str(archive)]
    command += ["--workers", str(workers)] if workers else []
    proc = subprocess.run([*command, "--out", str(out)], check=True, capture_output=True, text=True)
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


def _step(step: str, db: Path, archive: Path, out: Path, workers: int | None) -> dict[str, Any]:
    if step == "archive":
        return run_archive(db, archive, out, workers)
    if step == "plain":
        return run_plain(db, archive, out)
    if step == "plain-json":
        return run_plain(db, archive, out, typed=False)
    return run_engine(db, archive, out, step)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--n", type=int, default=1_000_000, help="inferences (and judgments)")
    parser.add_argument(
        "--db", type=Path, help="store file (default: $TMPDIR/preflog-bench-compile-N.db, kept)"
    )
    parser.add_argument(
        "--archive", type=Path, help="reuse this archive of the store (skips the archive step; kept)"
    )
    parser.add_argument("--out", type=Path, help="output directory (default: a temporary one)")
    parser.add_argument("--step", choices=STEPS, help=argparse.SUPPRESS)
    parser.add_argument("--no-local", action="store_true", help="skip the local engine (minutes at 1M)")
    parser.add_argument("--steps", default="all", help="'archive' runs only the archive build")
    parser.add_argument(
        "--rounds",
        type=int,
        default=1,
        help="run the duckdb engine and plain DuckDB this many times, alternated, and report each "
        "round's ratio and the median (this VM's speed moves with its host: one pair says little)",
    )
    parser.add_argument("--workers", type=int, help="archive worker processes (default: one per core)")
    parser.add_argument(
        "--schema-version",
        type=int,
        choices=(1, 2),
        default=1,
        help="the generated store's events: 1 (an old store, the default store file) or 2 (today's "
        "SDK; its own file, preflog-bench-compile-N-v2.db)",
    )
    args = parser.parse_args()
    if args.step:
        print(json.dumps(_step(args.step, args.db, args.archive, args.out, args.workers)))
        return
    suffix = "" if args.schema_version == 1 else f"-v{args.schema_version}"
    db = args.db or Path(tempfile.gettempdir()) / f"preflog-bench-compile-{args.n}{suffix}.db"
    if not db.exists():
        print(f"generating {args.n:,} inferences + {args.n:,} judgments into {db} ...", flush=True)
        gen = generate(db, args.n, schema_version=args.schema_version)
        print(f"generated in {gen['seconds']} s ({gen['bytes'] / 1e9:.2f} GB) — not part of the measurement")
    print(f"store: {db}", flush=True)
    out = args.out or Path(tempfile.mkdtemp(prefix="preflog-bench-engines-"))
    print(f"load average before: {os.getloadavg()[0]:.2f} (1 min)", flush=True)
    try:
        only_archive = args.steps == "archive"
        _report(
            db,
            out,
            local=not args.no_local,
            only_archive=only_archive,
            workers=args.workers,
            reuse=args.archive,
            rounds=max(1, args.rounds),
        )
    finally:
        if args.out is None:
            shutil.rmtree(out, ignore_errors=True)


def _line(what: str, result: dict[str, Any], unit: str = "rows", target: str = "") -> str:
    cpu = f", CPU {result['cpu_s']} s" if "cpu_s" in result else ""
    if "sys_s" in result:
        cpu += f" (user {result['user_s']} s, system {result['sys_s']} s)"
    figures = f"{result['seconds']} s{cpu}, peak {result['peak_mb']} MB, {result['rows']:,} {unit}"
    return f"{what}: {figures}" + (f" ({target})" if target else "")


def _report(
    db: Path,
    out: Path,
    *,
    local: bool,
    only_archive: bool = False,
    workers: int | None = None,
    reuse: Path | None = None,
    rounds: int = 1,
) -> None:
    archive = reuse if reuse is not None and not only_archive else out / "archive"
    if archive == reuse:
        print(f"archive: reusing {archive} (not measured)", flush=True)
    else:
        arc = _child("archive", db, archive, out, workers)
        print(_line("preflog archive", arc, "events", "target ≤ 20 s, ≤ 2048 MB"), flush=True)
        print(f"  peak: the sum over its {arc['processes']} process(es); CPU {arc['cpu_s']} s", flush=True)
    if only_archive:
        print(f"load average after: {os.getloadavg()[0]:.2f} (1 min)")
        return
    duck = _child("duckdb", db, archive, out / "duckdb")
    print(_line(f"duckdb engine, archive → trl [{duck['engine']}]", duck, target="target ≤ 5 s, ≤ 2048 MB"))
    print("  where its time goes: " + "; ".join(duck["stages"]), flush=True)
    plain = _child("plain", db, archive, out / "plain")
    print(_line("plain duckdb join+write of the archive (typed text columns)", plain), flush=True)
    print(
        f"ratio duckdb engine speed / plain duckdb: {plain['seconds'] / duck['seconds']:.2f}x (target ≥ 0.5x)"
    )
    print(f"  in CPU seconds: {plain['cpu_s'] / duck['cpu_s']:.2f}x", flush=True)
    if rounds > 1:
        _rounds(db, archive, out, rounds, duck, plain)
    old = _child("plain-json", db, archive, out / "plain-json")
    print(_line("plain duckdb join+write of the archive (event JSON, the earlier baseline)", old))
    print(f"ratio duckdb engine speed / plain duckdb on the JSON: {old['seconds'] / duck['seconds']:.2f}x")
    if local:
        loc = _child("local", db, archive, out / "local")
        print(_line("local engine, store → trl", loc))
        print(f"ratio duckdb engine speed / local engine: {loc['seconds'] / duck['seconds']:.2f}x")
        same = "the same bytes" if loc["sha256"] == duck["sha256"] else "DIFFERENT BYTES"
        print(f"duckdb and local engines wrote {same} (sha256 {duck['sha256'][:16]}…)")
    print(f"load average after: {os.getloadavg()[0]:.2f} (1 min)")


def _rounds(
    db: Path, archive: Path, out: Path, rounds: int, duck: dict[str, Any], plain: dict[str, Any]
) -> None:
    """Rounds 2.. of the duckdb engine and plain DuckDB, alternated (the first is the pair above),
    each output removed once measured; each round's ratio, then the medians."""
    wall, cpu = [plain["seconds"] / duck["seconds"]], [plain["cpu_s"] / duck["cpu_s"]]
    for n in range(2, rounds + 1):
        d = _child("duckdb", db, archive, out / f"duckdb-{n}")
        p = _child("plain", db, archive, out / f"plain-{n}")
        for done in (out / f"duckdb-{n}", out / f"plain-{n}"):
            shutil.rmtree(done, ignore_errors=True)
        wall.append(p["seconds"] / d["seconds"])
        cpu.append(p["cpu_s"] / d["cpu_s"])
        same = "" if d["sha256"] == duck["sha256"] else " DIFFERENT BYTES"
        print(
            f"round {n}: duckdb {d['seconds']} s (CPU {d['cpu_s']} s: user {d['user_s']}, system "
            f"{d['sys_s']}), plain {p['seconds']} s (CPU {p['cpu_s']} s: user {p['user_s']}, system "
            f"{p['sys_s']}): {wall[-1]:.2f}x, {cpu[-1]:.2f}x in CPU seconds{same}",
            flush=True,
        )
    print(
        f"median of {rounds} rounds: {statistics.median(wall):.2f}x (range {min(wall):.2f}–{max(wall):.2f}), "
        f"{statistics.median(cpu):.2f}x in CPU seconds (target ≥ 0.5x)",
        flush=True,
    )


if __name__ == "__main__":
    main()
