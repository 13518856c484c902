"""Validation: what :func:`preflog.events.validate_event` costs per event, against JSON encoding.

    .venv/bin/python bench/validation.py [--n 100000] [--repeat 5]

The store validates every event it is sent (the HTTP service, ``preflog log``, importers), then
encodes it with :func:`preflog.events.canonical_json`. This measures, in one process and one run,
the median over ``--repeat`` rounds of ``--n`` calls of:

1. ``canonical_json`` of the event: the baseline (the encoding the store does anyway);
2. ``validate_event`` of a two-candidate inference as the SDK builds it (string prompt, params);
3. the same with a chat prompt of three messages, a user id and tags;
4. a contract-version-2 inference: a chat prompt with an assistant tool call and a ``tool`` turn,
   one candidate calling a tool (``output: ""``, ``tool_calls``, ``finish_reason``) and one agent
   continuation (``messages``).

Prints µs per event and each one's ratio to the baseline. Measure on a quiet machine (``uptime``
load < 1.5) and say the load with the figures.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from preflog.events import SCHEMA_VERSION, canonical_json, new_id, validate_event  # noqa: E402

MODEL = {"name": "gpt-x-mini"}
PARAMS = {"temperature": 0.7, "max_tokens": 256}


def _envelope() -> dict[str, Any]:
    return {
        "event_id": new_id(),
        "type": "inference",
        "request_id": new_id(),
        "project": "bench",
        "occurred_at": "2026-11-26T10:00:00.123456Z",
    }


def plain_inference() -> dict[str, Any]:
    return {
        **_envelope(),
        "prompt": "What is the capital of France? Answer in one short sentence, and name one landmark.",
        "candidates": [
            {
                "candidate_id": "c0",
                "output": "Paris, home of the Eiffel Tower.",
                "model": MODEL,
                "params": PARAMS,
            },
            {"candidate_id": "c1", "output": "Paris; the Louvre is there.", "model": MODEL, "params": PARAMS},
        ],
    }


def chat_inference() -> dict[str, Any]:
    event = plain_inference()
    event["prompt"] = [
        {"role": "user", "content": "Hello!"},
        {"role": "assistant", "content": "Hi, how can I help?"},
        {"role": "user", "content": "What is the capital of France?"},
    ]
    event.update(user_id="user-0042", tags=["support", "fr"])
    return event


def tool_inference() -> dict[str, Any]:
    call = {
        "id": "call_1",
        "type": "function",
        "function": {"name": "weather", "arguments": '{"city":"Paris"}'},
    }
    return {
        **_envelope(),
        "schema_version": 2,
        "prompt": [
            {"role": "user", "content": "Weather in Paris, then Lyon?"},
            {"role": "assistant", "content": None, "tool_calls": [call]},
            {"role": "tool", "tool_call_id": "call_1", "name": "weather", "content": '{"c": 14}'},
        ],
        "candidates": [
            {
                "candidate_id": "c0",
                "output": "",
                "tool_calls": [{**call, "id": "call_2", "function": {"name": "weather", "arguments": "{}"}}],
                "finish_reason": "tool_calls",
                "model": MODEL,
                "params": PARAMS,
            },
            {
                "candidate_id": "c1",
                "messages": [
                    {"role": "assistant", "content": "", "tool_calls": [{**call, "id": "call_3"}]},
                    {"role": "tool", "tool_call_id": "call_3", "content": '{"c": 12}'},
                    {"role": "assistant", "content": "Paris 14 °C, Lyon 12 °C."},
                ],
                "finish_reason": "stop",
                "model": MODEL,
            },
        ],
    }


def per_call_us(call: Callable[[], object], n: int, repeat: int) -> float:
    rounds = []
    for _ in range(repeat):
        start = time.perf_counter_ns()
        for _ in range(n):
            call()
        rounds.append((time.perf_counter_ns() - start) / n / 1000)
    return statistics.median(rounds)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    cases: dict[str, dict[str, Any]] = {"plain": plain_inference(), "chat": chat_inference()}
    if SCHEMA_VERSION >= 2:
        cases["tools (v2)"] = tool_inference()
    print(f"validate_event, {args.n} calls x {args.repeat} rounds, load {os.getloadavg()[0]:.2f}")
    for name, event in cases.items():
        validate_event(event)  # valid, or the benchmark is measuring error reports
        base = per_call_us(lambda e=event: canonical_json(e), args.n, args.repeat)
        cost = per_call_us(lambda e=event: validate_event(e), args.n, args.repeat)
        print(
            f"  {name:11} canonical_json {base:6.2f} µs   validate_event {cost:6.2f} µs   {cost / base:.2f}×"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
