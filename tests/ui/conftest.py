"""Browser fixtures: one live ``preflog serve`` on loopback over a seeded SQLite file; Debian's
Chromium driven by Playwright is the root conftest's ``browser`` (tests/browser.py). Without
Chromium or Playwright the browser tests skip locally and fail in CI (``require``)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.server.live import LiveServer, start_server
from tests.ui.seed import Seeded, seed

# The ``browser`` fixture (Debian's Chromium) is the root conftest's: one for the whole session.


@pytest.fixture(scope="session")
def screenshot_dir(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``--screenshots DIR`` when given, else a temporary directory: a test run never rewrites
    the screenshots in docs/ (make test leaves the work tree clean)."""
    chosen = request.config.getoption("--screenshots")
    path = Path(chosen) if chosen else tmp_path_factory.mktemp("screenshots")
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture
def shoot(screenshot_dir: Path) -> Any:
    """``shoot(page, name)``: a screenshot of ``page`` as ``name``.png in the screenshot directory."""

    def take(page: Any, name: str, *, full_page: bool = True) -> Path:
        path = screenshot_dir / f"{name}.png"
        page.screenshot(path=str(path), full_page=full_page)
        return path

    return take


@pytest.fixture(scope="session")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Seeded:
    return seed(str(tmp_path_factory.mktemp("ui") / "ui.db"))


@pytest.fixture(scope="session")
def server(seeded: Seeded) -> Iterator[LiveServer]:
    live = start_server(seeded.db)
    yield live
    live.stop()


@pytest.fixture
def context(browser: Any) -> Iterator[Any]:
    ctx = browser.new_context(viewport={"width": 1366, "height": 900})
    ctx.set_default_timeout(15_000)
    yield ctx
    ctx.close()


@pytest.fixture
def page(context: Any) -> Any:
    return context.new_page()


def sign_in(page: Any, server: LiveServer, token: str, next_path: str = "") -> None:
    url = server.url + "/ui/login" + (f"?next={next_path}" if next_path else "")
    page.goto(url)
    page.get_by_label("API key").fill(token)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_load_state("load")
    page.wait_for_selector("body[data-ready='1']")
