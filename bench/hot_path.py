"""Hot path: what one ``log_inference`` call (two candidates) costs the calling thread.

    .venv/bin/python bench/hot_path.py [--n 200000] [--no-langfuse]

Measures, per call, with ``time.perf_counter_ns`` around the call alone, in one tight loop of
``--n`` calls on the main thread (after a warm-up), in this order and in this one process:

1. ``preflog``: ``client.log_inference(prompt, [out1, out2], model=..., params=...)`` on a client
   writing into a fresh SQLite file. Its worker thread drains the queue into the store *while* the
   loop runs (it competes for the GIL, as it would in an application). ``max_queue`` is ``--n`` so
   that no call takes the full-queue (drop) path.
2. ``queue.Queue().put`` of an equivalent dict (ids, time, prompt, both candidates, model,
   params) — the floor of "build a record and hand it to a background thread".
3. Langfuse (``langfuse`` Python SDK, if installed): the same inference as one generation,
   ``start_observation(as_type="generation", input=..., output=[out1, out2], model=...,
   model_parameters=...).end()``, with dummy keys and ``host`` pointing at a closed local port
   (127.0.0.1:9): its exporter fails in the background (its log lines are silenced). Afterwards it
   is shut down in a side thread given at most 5 s, and the process leaves with ``os._exit`` so that
   no exporter retry can hold the exit.

Prints median, p99, p99.9 and mean per call, and the ratios against the ``queue.put`` baseline.
Targets for preflog: median < 5 µs, p99 < 50 µs.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import queue
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

import preflog  # noqa: E402
from preflog.events import new_id  # noqa: E402

PROMPT = "What is the capital of France? Answer in one short sentence, and name one landmark there."
OUTPUTS = [
    "The capital of France is Paris, home of the Eiffel Tower.",
    "Paris is France's capital; the Louvre is one of its best-known landmarks.",
]
MODEL = "gpt-x-mini"
PARAMS: dict[str, str | int | float | bool | list[str] | None] = {"temperature": 0.7, "max_tokens": 256}
TARGET_MEDIAN_US = 5.0
TARGET_P99_US = 50.0


def measure(call: Callable[[], object], n: int, warmup: int = 2000) -> list[int]:
    for _ in range(warmup):
        call()
    clock = time.perf_counter_ns
    out = [0] * n
    for i in range(n):
        start = clock()
        call()
        out[i] = clock() - start
    return out


def summary(ns: list[int]) -> dict[str, float]:
    ordered = sorted(ns)
    n = len(ordered)
    return {
        "median_us": ordered[n // 2] / 1000,
        "p99_us": ordered[min(n - 1, int(n * 0.99))] / 1000,
        "p999_us": ordered[min(n - 1, int(n * 0.999))] / 1000,
        "mean_us": statistics.fmean(ordered) / 1000,
    }


def bench_preflog(n: int, db: Path) -> tuple[dict[str, float], dict[str, Any]]:
    client = preflog.Client(db=str(db), project="bench", max_queue=n + 10_000)
    log = client.log_inference

    def call() -> object:
        return log(PROMPT, OUTPUTS, model=MODEL, params=PARAMS)

    result = summary(measure(call, n))
    client.flush(timeout=600)
    stats = client.stats().to_dict()
    client.close()
    return result, stats


def bench_queue_put(n: int) -> dict[str, float]:
    q: queue.Queue[dict[str, Any]] = queue.Queue()

    def call() -> None:
        q.put(
            {
                "request_id": new_id(),
                "ts": time.time(),
                "prompt": PROMPT,
                "candidates": [
                    {"candidate_id": "c0", "output": OUTPUTS[0], "model": MODEL, "params": PARAMS},
                    {"candidate_id": "c1", "output": OUTPUTS[1], "model": MODEL, "params": PARAMS},
                ],
            }
        )

    result = summary(measure(call, n))
    return result


def bench_langfuse(n: int) -> dict[str, float] | str:
    try:
        from langfuse import Langfuse
    except ImportError:
        return "skipped: the langfuse package is not installed (make bench installs it)"
    os.environ["OTEL_EXPORTER_OTLP_TRACES_TIMEOUT"] = "1"  # a failing export gives up fast
    for name in ("langfuse", "opentelemetry"):  # one line per failed export otherwise
        logging.getLogger(name).setLevel(logging.CRITICAL)
    lf = Langfuse(
        public_key="pk-lf-dummy",
        secret_key="sk-lf-dummy",
        host="http://127.0.0.1:9",  # closed port: every export fails, in the background
        timeout=1,
    )

    def call() -> None:
        lf.start_observation(
            name="inference",
            as_type="generation",
            input=PROMPT,
            output=OUTPUTS,
            model=MODEL,
            model_parameters=PARAMS,
        ).end()

    result = summary(measure(call, n))
    stopper = threading.Thread(target=lf.shutdown, name="langfuse-shutdown", daemon=True)
    stopper.start()
    stopper.join(timeout=5)  # its exporter may still be retrying against the closed port
    result["shutdown_in_5s"] = float(not stopper.is_alive())
    return result


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--n", type=int, default=200_000, help="calls measured per contender")
    parser.add_argument("--no-langfuse", action="store_true", help="skip the Langfuse comparison")
    opts = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="preflog-hot-") as tmp:
        ours, stats = bench_preflog(opts.n, Path(tmp) / "hot.db")
    base = bench_queue_put(opts.n)
    langfuse = "skipped (--no-langfuse)" if opts.no_langfuse else bench_langfuse(opts.n)

    print(f"one call, {opts.n} calls each, tight loop on the main thread (perf_counter_ns per call)")
    print(f"{'contender':<34}{'median':>10}{'p99':>10}{'p99.9':>10}{'mean':>10}   (µs)")
    rows: list[tuple[str, dict[str, float] | str]] = [
        ("preflog log_inference (2 cand.)", ours),
        ("queue.Queue().put(equivalent dict)", base),
        ("langfuse generation (closed port)", langfuse),
    ]
    for name, row in rows:
        if isinstance(row, str):
            print(f"{name:<34}{row}")
        else:
            cells = "".join(f"{row[k]:>10.2f}" for k in ("median_us", "p99_us", "p999_us", "mean_us"))
            print(f"{name:<34}{cells}")
    ratios = {"preflog_vs_queue_put_median": ours["median_us"] / base["median_us"]}
    ratios["preflog_vs_queue_put_p99"] = ours["p99_us"] / base["p99_us"]
    if isinstance(langfuse, dict):
        ratios["langfuse_vs_preflog_median"] = langfuse["median_us"] / ours["median_us"]
        ratios["langfuse_vs_preflog_p99"] = langfuse["p99_us"] / ours["p99_us"]
    for key, value in ratios.items():
        print(f"ratio {key}: {value:.2f}x")
    met = ours["median_us"] < TARGET_MEDIAN_US and ours["p99_us"] < TARGET_P99_US
    print(
        f"target median < {TARGET_MEDIAN_US} µs and p99 < {TARGET_P99_US} µs: {'met' if met else 'MISSED'}"
        f"  (the worker stored {stats['sent']} of {stats['logged']} events, dropped {stats['dropped']})"
    )
    print(json.dumps({"preflog": ours, "queue_put": base, "langfuse": langfuse, "ratios": ratios}))
    sys.stdout.flush()
    # Langfuse's (OpenTelemetry's) atexit hooks would flush again against the closed port: skip them.
    os._exit(0)


if __name__ == "__main__":
    main()
