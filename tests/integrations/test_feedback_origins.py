"""The allowed origins kept beside the events (table ``feedback_origins``, a store migration), on
both stores; and managed from the command line while ``preflog serve`` runs."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from preflog.server.feedback_origins import SQLOriginStore, open_origin_store
from preflog.store import Store
from tests.server.live import cli, start_server
from tests.store.conftest import BACKENDS

ASK = {
    "Access-Control-Request-Method": "POST",
    "Access-Control-Request-Headers": "authorization,content-type",
}


@pytest.fixture(params=sorted(BACKENDS))
def origins_store(request: pytest.FixtureRequest, tmp_path: Path) -> Store:
    store = BACKENDS[str(request.param)](tmp_path)
    request.addfinalizer(store.close)
    return store


def test_origins_per_project_on_both_stores(origins_store: Store) -> None:
    origins = open_origin_store(origins_store)
    assert isinstance(origins, SQLOriginStore)
    assert origins.add("shop", "https://shop.example") is True
    assert origins.add("shop", "https://shop.example") is False  # twice: one row
    assert origins.add("blog", "https://blog.example") is True
    assert origins.origins("shop") == [("shop", "https://shop.example")]
    assert origins.origins() == [("blog", "https://blog.example"), ("shop", "https://shop.example")]
    assert origins.allowed("https://shop.example", "shop")
    assert not origins.allowed("https://shop.example", "blog")
    assert origins.allowed("https://blog.example")  # listed for some project: a preflight passes
    assert origins.remove("shop", "https://shop.example") is True
    assert origins.remove("shop", "https://shop.example") is False
    assert not origins.allowed("https://shop.example")


def test_the_cli_changes_a_running_service(tmp_path: Path) -> None:
    db = str(tmp_path / "cli.db")
    out = cli(db, "--project", "shop", "feedback", "origins", "add", "HTTP://127.0.0.1:9100/")
    assert out.strip() == "http://127.0.0.1:9100 allowed for project 'shop'"
    live = start_server(db)
    try:
        preflight = httpx.options(
            live.url + "/v1/feedback", headers={"Origin": "http://127.0.0.1:9100", **ASK}
        )
        assert preflight.status_code == 204
        assert "shop\thttp://127.0.0.1:9100" in cli(db, "feedback", "origins", "list")
        cli(db, "--project", "shop", "feedback", "origins", "remove", "http://127.0.0.1:9100")
        again = httpx.options(live.url + "/v1/feedback", headers={"Origin": "http://127.0.0.1:9100", **ASK})
        assert again.status_code == 403  # no restart needed
    finally:
        live.stop()
