"""``bench/wrap_overhead.py`` still runs end to end (a few calls): the figures belong to
``make bench`` on a quiet machine; this keeps the script from rotting and checks that every call
it made was stored, with no preflog error."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_wrap_overhead_benchmark_runs_and_stores_every_call() -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "wrap_overhead.py"), "--n", "5"],
        capture_output=True,
        text=True,
        timeout=240,
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith("load: ")
    assert [line.split(":")[0] for line in lines[1:3]] == [
        "chat.completions n=3",
        "chat.completions n=3 stream",
    ]
    assert all("ratio" in line for line in lines[1:3])
    assert lines[3].endswith("preflog errors 0")
