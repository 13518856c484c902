"""``preflog verify --tokenizer``: what the template checks cost per row, against the tokenization
the trainer does anyway.

    .venv/bin/python bench/verify_checks.py [--n 2000] [--repeat 3]

Rows: TRL conversational pairs (a system prompt, three prompt turns, replies of about 60 words),
the same rows written as ``nemo-rl`` and ``openrlhf``; the tokenizer: a Qwen2.5-style ChatML one
built here (byte-level BPE trained on the rows, the model card's chat template; nothing from the
Hub). Measured in one process and one run, the median over ``--repeat`` rounds of:

1. baseline: TRL's own encoding of every row — ``apply_chat_template`` of the prompt (with the
   generation prompt), of prompt + chosen and of prompt + rejected, tokenized — what ``DPOTrainer``
   does to the file before its first step;
2. ``check_rows`` of the ``trl`` file (schema checks, the template and dropped-turn checks, TRL's
   encoding once for its three trainers, the token checks, ``max_length`` per trainer);
3. the same for ``openrlhf`` (text cut, two trainers) and ``nemo-rl`` (the conversation rendered
   one message more at a time).

Prints µs per row and each one's ratio to the baseline. Measure on a quiet machine (``uptime``
load < 1.5) and say the load with the figures.
"""

from __future__ import annotations

import argparse
import json
import os
import random
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

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from tests.compile.chat_templates import build_tokenizer_dir  # noqa: E402

from preflog.formats import get_format  # noqa: E402
from preflog.records import Pair  # noqa: E402
from preflog.verify import load_tokenizer  # noqa: E402
from preflog.verify.checks import check_rows, iter_where  # noqa: E402

WORDS = ("the", "model", "answers", "a", "question", "about", "lists", "sorting", "numbers", "rivers")


def sentence(rng: random.Random, words: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(words)).capitalize() + "."


def pairs(n: int) -> list[Pair]:
    rng = random.Random(7)
    out = []
    for i in range(n):
        prompt = [
            {"role": "user", "content": sentence(rng, 12)},
            {"role": "assistant", "content": sentence(rng, 30)},
            {"role": "user", "content": f"{sentence(rng, 12)} ({i})"},
        ]
        chosen, rejected = sentence(rng, 60), sentence(rng, 55)
        out.append(Pair(prompt, "Be brief.", chosen, rejected, f"r{i}", "a", "b", "m1", "m2"))
    return out


def rows(fmt: str, items: list[Pair]) -> list[dict[str, Any]]:
    return [json.loads(json.dumps(r)) for r in get_format(fmt).write_rows(items)]


def baseline(tok: Any, trl_rows: list[dict[str, Any]]) -> Callable[[], None]:
    def run() -> None:
        for row in trl_rows:
            tok.apply_chat_template(row["prompt"], add_generation_prompt=True, tokenize=True)
            tok.apply_chat_template(row["prompt"] + row["chosen"], tokenize=True)
            tok.apply_chat_template(row["prompt"] + row["rejected"], tokenize=True)

    return run


def checking(tok: Any, fmt: str, data: list[dict[str, Any]]) -> Callable[[], None]:
    def run() -> None:
        results = check_rows(fmt, iter_where("train.jsonl", data), total=len(data), tokenizer=tok)
        failed = [r.check for r in results if r.status == "fail"]
        assert not failed, failed  # the bench rows are sound: every check ran to the end

    return run


def median_seconds(fn: Callable[[], None], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> int:
    formatter = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=formatter)
    parser.add_argument("--n", type=int, default=2000, help="rows (default 2000)")
    parser.add_argument("--repeat", type=int, default=3, help="rounds; the median is reported (default 3)")
    args = parser.parse_args()
    items = pairs(args.n)
    data = {fmt: rows(fmt, items) for fmt in ("trl", "openrlhf", "nemo-rl")}
    sample = data["trl"][:200]
    corpus = [m["content"] for row in sample for m in row["prompt"] + row["chosen"] + row["rejected"]]
    with tempfile.TemporaryDirectory(prefix="preflog-bench-verify-") as tmp:
        tok = load_tokenizer(build_tokenizer_dir(Path(tmp) / "qwen", "qwen2.5", corpus))
        runs = {
            "baseline: TRL's encoding (3 renders per row)": baseline(tok, data["trl"]),
            "check_rows trl (dpo, reward, kto)": checking(tok, "trl", data["trl"]),
            "check_rows openrlhf (rm, dpo)": checking(tok, "openrlhf", data["openrlhf"]),
            "check_rows nemo-rl": checking(tok, "nemo-rl", data["nemo-rl"]),
        }
        load = os.getloadavg()[0]
        print(f"{args.n} rows, median of {args.repeat}, load average {load:.2f}")
        base = None
        for name, fn in runs.items():
            seconds = median_seconds(fn, args.repeat)
            base = base or seconds
            print(f"  {name:48s} {seconds / args.n * 1e6:9.1f} µs/row   {seconds / base:5.2f}×")
    return 0


if __name__ == "__main__":
    sys.exit(main())
