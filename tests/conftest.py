"""Shared fixtures. Tests that need something absent (shared data, PostgreSQL, Chromium) skip with a
clear message on a user's machine and fail in CI (``CI=true``), where everything is always there."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

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
