"""What ``wrap_openai`` adds to a call: the same calls through a plain and a wrapped ``openai`` client.

    .venv/bin/python bench/wrap_overhead.py [--n 400]

Both clients call the loopback stub of tests/integrations/stub_llm.py (real HTTP; a stream is real
SSE); the wrapped one logs to a ``preflog.Client`` writing a fresh SQLite file, whose worker runs
while the loop does (as in an application). The calls alternate (plain, wrapped, plain, ...) so
that both see the same machine. For a chat completion with ``n=3`` and for the same streamed
(chunks of three interleaved choices, read to the end), prints per call: the median wall time and
the calling thread's CPU time (``time.thread_time``: what the application's thread spent, the
network and the stub's thread apart), each as wrapped / plain ratios, and the median difference
in microseconds. Target: the wrapped call within a few percent of the plain one.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT))

import openai  # noqa: E402
from tests.integrations.stub_llm import StubLLM  # noqa: E402

import preflog  # noqa: E402
from preflog.integrations import wrap_openai  # noqa: E402

MESSAGES = [
    {"role": "system", "content": "You answer in one short sentence."},
    {"role": "user", "content": "What is the capital of France, and one landmark there?"},
]


def plain_call(oa: Any) -> None:
    oa.chat.completions.create(model="gpt-x", messages=MESSAGES, n=3, temperature=0.7)


def streamed_call(oa: Any) -> None:
    for _ in oa.chat.completions.create(model="gpt-x", messages=MESSAGES, n=3, stream=True):
        pass


def measure(call: Callable[[Any], None], plain: Any, wrapped: Any, n: int) -> dict[str, list[float]]:
    times: dict[str, list[float]] = {"plain_wall": [], "plain_cpu": [], "wrapped_wall": [], "wrapped_cpu": []}
    for _ in range(max(10, n // 20)):  # warm-up: connections, imports, the store's first write
        call(plain)
        call(wrapped)
    for _ in range(n):
        for name, oa in (("plain", plain), ("wrapped", wrapped)):
            wall, cpu = time.perf_counter(), time.thread_time()
            call(oa)
            times[f"{name}_cpu"].append(time.thread_time() - cpu)
            times[f"{name}_wall"].append(time.perf_counter() - wall)
    return times


def report(label: str, times: dict[str, list[float]]) -> None:
    med = {k: statistics.median(v) for k, v in times.items()}
    us = {k: v * 1e6 for k, v in med.items()}
    print(
        f"{label}: wall median plain {us['plain_wall']:.0f} µs, wrapped {us['wrapped_wall']:.0f} µs"
        f" (ratio {med['wrapped_wall'] / med['plain_wall']:.3f});"
        f" thread CPU median plain {us['plain_cpu']:.0f} µs, wrapped {us['wrapped_cpu']:.0f} µs"
        f" (ratio {med['wrapped_cpu'] / med['plain_cpu']:.3f}, +{us['wrapped_cpu'] - us['plain_cpu']:.0f} µs)"
    )


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--n", type=int, default=400, help="calls of each kind, per client")
    args = parser.parse_args()
    stub = StubLLM()
    db = os.path.join(tempfile.mkdtemp(prefix="preflog-wrap-"), "events.db")
    client = preflog.Client(db=db, project="bench", max_queue=10 * args.n + 1000)
    try:
        plain = openai.OpenAI(base_url=stub.url, api_key="k", max_retries=0)
        wrapped = wrap_openai(openai.OpenAI(base_url=stub.url, api_key="k", max_retries=0), client)
        print(f"load: {os.getloadavg()[0]:.2f} (1 min); {args.n} calls of each kind per client")
        report("chat.completions n=3", measure(plain_call, plain, wrapped, args.n))
        report("chat.completions n=3 stream", measure(streamed_call, plain, wrapped, args.n))
        client.flush(60)
        stats = client.stats()
        print(f"logged {stats.logged}, stored {stats.sent}, preflog errors {stats.integration_errors}")
        return 0 if stats.sent == stats.logged and not stats.integration_errors else 1
    finally:
        client.close()
        stub.close()


if __name__ == "__main__":
    sys.exit(main())
