"""Configuration read at the service's edge and passed down: ServerSettings from the environment
through preflog.config, the web UI's session TTL and secret as arguments, redaction given to the
app, and ``serve --workers`` handing its workers the store without touching the environment."""

from __future__ import annotations

import functools
import os
import time
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient
from tests import factories as f
from tests.server.conftest import PROJECT, KeyMaker, auth

from preflog.errors import ConfigError
from preflog.redact import Redactor
from preflog.server import app as app_module
from preflog.server.app import create_app, serve
from preflog.server.keys import KeyStore, create_key
from preflog.server.settings import DEFAULT_SESSION_TTL_S, ServerSettings
from preflog.server.ui.session import load_session, sign_in
from preflog.store.base import Store


@pytest.fixture
def backend() -> str:
    """SQLite only: what is checked here is how settings travel, not the store."""
    return "sqlite"


def test_server_settings_from_the_environment() -> None:
    env = {
        "PREFLOG_MAX_PAGE": "50",
        "PREFLOG_RATE_LIMIT": "2.5",
        "PREFLOG_SESSION_TTL": "600",
        "PREFLOG_SESSION_SECRET": "pepper",
        "PREFLOG_MAX_TAGS": "3",
    }
    settings = ServerSettings.from_env(env)
    assert (settings.max_page, settings.rate_limit, settings.burst) == (50, 2.5, 5)
    assert (settings.session_ttl_s, settings.session_secret) == (600, "pepper")
    assert settings.limits.max_tags == 3
    assert "pepper" not in repr(settings)  # a secret is not printed with the settings
    defaults = ServerSettings.from_env({})
    assert defaults == ServerSettings() and defaults.session_ttl_s == DEFAULT_SESSION_TTL_S


@pytest.mark.parametrize(
    ("name", "value"),
    [("PREFLOG_SESSION_TTL", "soon"), ("PREFLOG_SESSION_TTL", "0"), ("PREFLOG_MAX_PAGE", "-3")],
)
def test_a_bad_setting_is_one_clear_error_naming_the_variable(name: str, value: str) -> None:
    with pytest.raises(ConfigError, match=name):
        ServerSettings.from_env({name: value})


def test_session_ttl_and_secret_are_arguments(keys: KeyStore) -> None:
    token, _ = create_key(keys, project=PROJECT, scope="read")
    signed = sign_in(keys, token, ttl_s=60, secret="s1")
    assert signed is not None
    cookie, session = signed
    assert abs(session.expires - (time.time() + 60)) < 5
    loaded = load_session(keys, cookie, secret="s1")
    assert loaded is not None and loaded.key.key_id == session.key.key_id
    assert loaded.csrf == session.csrf
    assert load_session(keys, cookie, secret="s2") is None  # rotating the secret ends the session
    assert load_session(keys, cookie) is None


def test_the_app_passes_the_session_settings_to_the_ui(store: Store, keys: KeyStore) -> None:
    token, _ = create_key(keys, project=PROJECT, scope="read")
    settings = ServerSettings(session_ttl_s=90, session_secret="s1")
    with TestClient(create_app(store, settings=settings, key_store=keys)) as client:
        form = client.get("/ui/login")
        csrf = client.cookies.get("preflog_login_csrf")
        assert form.status_code == 200 and csrf
        response = client.post("/ui/login", data={"api_key": token, "csrf": csrf}, follow_redirects=False)
        assert response.status_code == 303, response.text
        cookie = response.cookies.get("preflog_session")
        assert cookie and 80 <= int(cookie.split(".")[2]) - time.time() <= 95
    assert load_session(keys, cookie, secret="s1") is not None
    assert load_session(keys, cookie, secret="") is None


def test_a_redactor_given_to_the_app_is_the_stores(store: Store, keys: KeyStore, make_key: KeyMaker) -> None:
    redactor = Redactor.from_names(["email"])
    with TestClient(create_app(store, key_store=keys, redactor=redactor)) as client:
        inf = f.inference(prompt="write to ann@example.com")
        assert client.post("/v1/events", json=[inf], headers=auth(make_key("ingest"))).status_code == 200
    assert store.redactor is redactor and redactor.counts() == {"email": 1}
    stored = store.get_event(inf["event_id"], project=PROJECT)
    assert stored is not None and stored.event["prompt"] == "write to [REDACTED:email]"


def test_serve_with_workers_passes_the_store_as_an_argument(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """uvicorn's supervisor cannot start here without taking a port and processes; what it is
    given is checked instead (tests/server/test_live.py runs the real thing)."""
    started: list[Any] = []

    class Supervisor:
        def __init__(self, config: Any, sockets: list[Any]) -> None:
            started.append(config)
            for sock in sockets:
                sock.close()

        def run(self) -> None:
            pass

    monkeypatch.setattr("uvicorn.supervisors.Multiprocess", Supervisor)
    monkeypatch.delenv("PREFLOG_DB", raising=False)
    before = dict(os.environ)
    db = str(tmp_path / "served.db")
    serve(db, workers=3, host="127.0.0.1", port=0, log_level="warning")
    assert dict(os.environ) == before  # nothing written to reach the workers
    (config,) = started
    assert config.workers == 3 and config.factory is True
    factory = config.app
    assert isinstance(factory, functools.partial)
    assert factory.func is app_module.create_app_from_env and factory.args == (db,)
