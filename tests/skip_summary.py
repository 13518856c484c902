"""The end of a test run: one line per group of skipped tests, saying what was missing and the one
command that enables them, so a run that skipped PostgreSQL or the browser does not look all green.

Wired into pytest by ``tests/conftest.py`` (``pytest_terminal_summary``). Skips are grouped by their
reason; a reason no group knows is its own group, shown as it is.
"""

from __future__ import annotations

import glob
import shutil
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any


def _postgres() -> str:
    if not glob.glob("/usr/lib/postgresql/*/bin/initdb"):
        return "apt-get install postgresql  (make test then starts a throw-away cluster by itself)"
    return (
        "make test  (it starts a throw-away cluster), or: "
        "export PREFLOG_TEST_POSTGRES_URL=$(scripts/pg-test-cluster.sh start)"
    )


def _browser() -> str:
    if not shutil.which("chromium") and not shutil.which("chromium-browser"):
        return "apt-get install chromium"
    return "make test  (it installs playwright from requirements/test.txt; Debian's Chromium is used)"


@dataclass(frozen=True)
class Group:
    name: str
    needles: tuple[str, ...]
    command: Callable[[], str]


GROUPS = (
    Group("PostgreSQL", ("PREFLOG_TEST_POSTGRES_URL", "pg-test-cluster"), _postgres),
    Group("browser", ("Chromium", "playwright"), _browser),
    Group(
        "shared-data",
        ("shared data",),
        lambda: (
            "PREFLOG_SHARED_DATA=/path/to/shared/data make test  (the real public data sets the "
            "team keeps beside the repository, as ../shared/data: see its README)"
        ),
    ),
    Group("root-only", ("needs root",), lambda: "run the suite as root (sudo make test)"),
    Group(
        "optional-package",
        ("could not import", "is not installed", "No module named"),
        lambda: "make test  (it installs every test dependency into .venv)",
    ),
)


def reason_of(report: Any) -> str:
    longrepr = report.longrepr
    text = longrepr[2] if isinstance(longrepr, tuple) and len(longrepr) == 3 else str(longrepr)
    return str(text).removeprefix("Skipped: ")


def group_lines(reasons: Iterable[str]) -> list[str]:
    """One line per group: ``44 PostgreSQL tests skipped: <first reason> -> <command>``.

    >>> unset = "PREFLOG_TEST_POSTGRES_URL is not set"
    >>> group_lines([unset, unset, "odd"])[1]
    '1 test skipped: odd'
    >>> group_lines([unset, unset, "odd"])[0].split(" -> ")[0]
    '2 PostgreSQL tests skipped: PREFLOG_TEST_POSTGRES_URL is not set'
    """
    counts: dict[str, int] = {}
    first: dict[str, str] = {}
    commands: dict[str, str] = {}
    for reason in reasons:
        group = next((g for g in GROUPS if any(n in reason for n in g.needles)), None)
        key = group.name if group else reason
        counts[key] = counts.get(key, 0) + 1
        first.setdefault(key, reason)
        if group is not None:
            commands[key] = group.command()
    lines = []
    for key, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])):
        tests = f"test{'s' if n != 1 else ''}"
        label = f"{n} {key} {tests}" if key in commands else f"{n} {tests}"
        enable = f" -> {commands[key]}" if key in commands else ""
        lines.append(f"{label} skipped: {first[key]}{enable}")
    return lines


def write_summary(terminalreporter: Any) -> None:
    skipped = terminalreporter.stats.get("skipped", [])
    lines = group_lines(reason_of(r) for r in skipped)
    if not lines:
        return
    terminalreporter.section("skipped, and how to run them", sep="=", yellow=True)
    for line in lines:
        terminalreporter.line(line, yellow=True)
