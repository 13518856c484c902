"""The run ends with one line per group of skipped tests and the command that enables them
(issue #12, item 12): a run that skipped PostgreSQL must not end looking all green."""

from __future__ import annotations

import doctest
import os
import subprocess
import sys

import tests.skip_summary
from tests.conftest import ROOT


def test_docstring_examples() -> None:
    result = doctest.testmod(tests.skip_summary)
    assert result.attempted > 0 and result.failed == 0


def test_a_run_without_postgres_ends_with_how_to_enable_it() -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("PREFLOG_TEST_POSTGRES_URL", "CI")}
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "tests/store/test_conformance.py",
            "-k",
            "postgres and append",
            "--maxfail=1",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout[-2000:]
    tail = done.stdout.strip().splitlines()
    summary = tail.index(next(line for line in tail if "skipped, and how to run them" in line))
    group = tail[summary + 1]
    assert group.split(" skipped: ")[0].endswith("PostgreSQL tests")
    assert "PREFLOG_TEST_POSTGRES_URL is not set" in group and " -> " in group
    assert "skipped" in tail[-1]  # pytest's own closing line stays last
