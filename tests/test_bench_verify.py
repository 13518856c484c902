"""``bench/verify_checks.py`` still runs end to end (a few rows); its figures belong to ``make
bench`` (no timed assertions in tests on a shared machine)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.slow
def test_verify_checks_benchmark_runs() -> None:
    pytest.importorskip("transformers")
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "verify_checks.py"), "--n", "20", "--repeat", "1"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    lines = done.stdout.splitlines()
    assert lines[0].startswith("20 rows") and len(lines) == 5
    assert all(line.rstrip().endswith("×") for line in lines[1:])
