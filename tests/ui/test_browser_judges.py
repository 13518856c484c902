"""The dashboards in a real browser: the reward model's panel (agreement with humans, length bias)
and the latency chart drawn in the unit the server chose, on the demo project."""

from __future__ import annotations

from typing import Any

import pytest

from preflog import analytics
from preflog.analytics import extract_battles
from preflog.demo import REWARD_MODEL
from preflog.server.ui.trends import trends
from preflog.store import open_store
from tests.server.live import LiveServer
from tests.ui.conftest import sign_in
from tests.ui.seed import Seeded

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def test_judges_panel_and_latency_unit(page: Any, server: LiveServer, seeded: Seeded) -> None:
    store = open_store(seeded.db)
    try:
        expected = analytics.judges(store, "demo")
        unit = trends(extract_battles(store, "demo"), window="day").latency_unit
    finally:
        store.close()
    sign_in(page, server, seeded.keys["demo-admin"], "/ui/dashboards")
    page.wait_for_selector("#judges[data-rendered='1']")
    bars = page.locator("#judges svg.judges-agreement g.hbar")
    shown = {
        bars.nth(i).get_attribute("data-name"): bars.nth(i).get_attribute("data-value")
        for i in range(bars.count())
    }
    rm = f"{REWARD_MODEL['name']}@{REWARD_MODEL['version']} (scores)"
    by_judge = {j.judge: j for j in expected.judges}
    rm_row = by_judge[f"reward_model:{REWARD_MODEL['name']}@{REWARD_MODEL['version']}"]
    assert rm in shown and float(str(shown[rm])) == pytest.approx(rm_row.agreement.rate, abs=1e-4)
    assert len(shown) == len(expected.judges)
    longer = page.locator("#judges svg.judges-length g.hbar")
    names = [longer.nth(i).get_attribute("data-name") for i in range(longer.count())]
    assert names[0] == "humans" and rm in names  # the humans' share is the reference
    assert page.locator("#latency figcaption").inner_text().endswith(f"({unit.name})")
    assert page.locator("#latency svg").get_attribute("data-unit") == unit.symbol
