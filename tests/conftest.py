"""Shared fixtures. Tests that need something absent (shared data, PostgreSQL, Chromium) skip with a
clear message on a user's machine and fail in CI (``CI=true``), where everything is always there.
The run ends with one line per group of skipped tests and the command that enables them
(``tests/skip_summary.py``). ``--screenshots DIR`` makes the browser tests keep their screenshots
there (``make screenshots``: docs/screenshots); otherwise they go to a temporary directory."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.skip_summary import write_summary

ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = Path(os.environ.get("PREFLOG_SHARED_DATA", ROOT.parent / "shared" / "data"))
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def require(condition: bool, why: str) -> None:
    """Skip the test when ``condition`` is false, or fail it in CI."""
    if condition:
        return
    if IN_CI:
        pytest.fail(f"{why} (CI=true: this must be present in CI)")
    pytest.skip(why)


@pytest.fixture
def shared_data() -> Path:
    require(SHARED_DATA.is_dir(), f"shared data not found at {SHARED_DATA} (set PREFLOG_SHARED_DATA)")
    return SHARED_DATA


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--screenshots",
        metavar="DIR",
        default=None,
        help="keep the browser tests' screenshots in DIR (make screenshots: docs/screenshots)",
    )


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    write_summary(terminalreporter)


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """Debian's Chromium through Playwright, one for the session (tests/browser.py says why)."""
    from tests.browser import chromium

    with chromium() as launched:
        yield launched
