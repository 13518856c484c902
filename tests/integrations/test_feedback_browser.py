"""The feedback script in a real browser: Debian's Chromium (Playwright) loads a product page served
from another loopback origin that embeds ``/static/preflog-feedback.js`` of a live ``preflog serve``.
Thumbs, an A/B pick (with the order shown), a changed vote and a comment are stored as end-user
judgments; forged, expired, other-request and other-project tokens, and a page on an origin that
is not listed, store nothing."""

from __future__ import annotations

import base64
import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest

from preflog.store import open_store
from tests.server.live import LiveServer, cli, start_server

pytestmark = [pytest.mark.browser, pytest.mark.slow]

PROJECT = "shop"
REQUEST = "req-jacket"


class PageServer:
    """A product page on its own loopback origin: ``html()`` is served at ``/``."""

    def __init__(self, html: Callable[[], str]) -> None:
        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                body = html().encode()
                self.send_response(200)
                self.send_header("content-type", "text/html; charset=utf-8")
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.origin = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@dataclass
class Shop:
    server: LiveServer
    db: str
    keys: dict[str, str]

    def token(self, request_id: str = REQUEST, key: str = "ingest", **body: Any) -> str:
        answer = httpx.post(
            self.server.url + "/v1/feedback-tokens",
            json={"request_id": request_id, **body},
            headers={"Authorization": f"Bearer {self.keys[key]}"},
        )
        assert answer.status_code == 201, answer.text
        return str(answer.json()["token"])

    def judgments(self) -> list[dict[str, Any]]:
        with open_store(self.db) as store:
            types = ["preference", "signal", "retraction"]
            return [e.event for e in store.iter_events(project=PROJECT, types=types)]


def _key(db: str, project: str, scope: str) -> str:
    return str(
        json.loads(cli(db, "keys", "create", "--project", project, "--scope", scope, "--format", "json"))[
            "key"
        ]
    )


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Shop]:
    db = str(tmp_path_factory.mktemp("feedback") / "shop.db")
    keys = {
        "ingest": _key(db, PROJECT, "ingest"),
        "admin": _key(db, PROJECT, "admin"),
        "blog": _key(db, "blog", "ingest"),
    }
    with open_store(db) as store:
        store.append(
            [
                {
                    "event_id": "0f8fad5b-d9cb-469f-a165-70867728950e",
                    "type": "inference",
                    "request_id": REQUEST,
                    "occurred_at": "2026-11-26T10:00:00Z",
                    "prompt": "Which jacket for rain?",
                    "candidates": [
                        {"candidate_id": "c0", "output": "The waxed one.", "model": {"name": "m-small"}},
                        {"candidate_id": "c1", "output": "The Gore-Tex shell.", "model": {"name": "m-large"}},
                    ],
                }
            ],
            project=PROJECT,
        )
    live = start_server(db)
    yield Shop(live, db, keys)
    live.stop()


def _forged(token: str) -> str:
    head, payload, signature = token.split(".")
    data = json.loads(base64.urlsafe_b64decode(payload + "=="))
    data["kinds"] = ["thumbs", "pick", "comment"]
    data["exp"] += 10**6
    raw = base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()
    return f"{head}.{raw}.{signature}"


def _widget(element_id: str, token: str, candidates: str, **data: str) -> str:
    extra = "".join(f' data-{k.replace("_", "-")}="{v}"' for k, v in data.items())
    attributes = (
        f'id="{element_id}" data-preflog-feedback data-token="{token}" data-candidates="{candidates}"'
    )
    return f"<div {attributes}{extra}></div>"


def _page(preflog: str, widgets: list[str]) -> str:
    return (
        "<!doctype html><html><head><title>Jackets</title></head><body><h1>Rain jackets</h1>"
        + "".join(widgets)
        + f'<script src="{preflog}/static/preflog-feedback.js"></script></body></html>'
    )


RECORD = """() => { window.__answers = [];
  document.addEventListener('preflog:feedback',
    e => window.__answers.push(Object.assign({id: e.target.id}, e.detail)));
}"""


def _click(page: Any, selector: str) -> dict[str, Any]:
    """Click and wait for the widget's answer (the preflog:feedback event)."""
    seen = page.evaluate("() => window.__answers.length")
    page.click(selector)
    page.wait_for_function("n => window.__answers.length > n", arg=seen)
    answer: dict[str, Any] = page.evaluate("() => window.__answers[window.__answers.length - 1]")
    return answer


def test_a_product_page_sends_feedback(shop: Shop, browser: Any) -> None:
    expired = shop.token(kinds=["thumbs"], ttl=1)
    thumbs = shop.token(kinds=["thumbs"], user_id="u-7")
    widgets = [
        _widget("single", thumbs, "c0"),
        _widget("ab", shop.token(user_id="u-7"), "c1,c0", labels="A,B"),
        _widget("forged", _forged(thumbs), "c0"),
        _widget("expired", expired, "c0"),
        _widget("other-request", shop.token("req-other", kinds=["thumbs"]), "c0", request_id=REQUEST),
        _widget("other-project", shop.token(key="blog", kinds=["thumbs"]), "c0"),
    ]
    page_server = PageServer(lambda: _page(shop.server.url, widgets))
    admin = {"Authorization": f"Bearer {shop.keys['admin']}"}
    added = httpx.post(
        shop.server.url + "/v1/feedback-origins", json={"origin": page_server.origin}, headers=admin
    )
    assert added.status_code == 201
    context = browser.new_context()
    try:
        page = context.new_page()
        page.goto(page_server.origin + "/")
        page.wait_for_selector("#other-project[data-preflog-ready='1']")
        page.evaluate(RECORD)

        up = _click(page, "#single .preflog-fb-up")
        assert (up["ok"], up["status"], up["httpStatus"]) == (True, "stored", 201)
        assert page.get_attribute("#single .preflog-fb-up", "aria-pressed") == "true"
        again = _click(page, "#single .preflog-fb-up")  # a repeated click
        assert again["status"] == "unchanged"
        assert "Thanks" in page.inner_text("#single .preflog-fb-status")

        assert page.inner_text("#ab .preflog-fb-choice >> nth=0") == "Prefer A"
        first = _click(page, "#ab .preflog-fb-choice >> nth=0")  # A is c1, shown first
        assert first["status"] == "stored"
        second = _click(page, "#ab .preflog-fb-choice >> nth=1")  # the user changes their mind: B (c0)
        assert second["status"] == "changed"
        page.fill("#ab textarea", "The waxed one is warmer.")
        comment = _click(page, "#ab .preflog-fb-send")
        assert comment["status"] == "changed"

        time.sleep(1.1)  # the 1-second token has expired by now
        for element, status in (
            ("forged", 401),
            ("expired", 401),
            ("other-request", 403),
            ("other-project", 403),
        ):
            refused = _click(page, f"#{element} .preflog-fb-up")
            assert (refused["ok"], refused["httpStatus"]) == (False, status), (element, refused)
            assert page.get_attribute(f"#{element} .preflog-fb-up", "aria-pressed") == "false"
    finally:
        context.close()
        page_server.close()

    events = shop.judgments()
    signals = [e for e in events if e["type"] == "signal"]
    assert [(s["signal"], s["candidate_id"], s["user_id"]) for s in signals] == [("thumbs_up", "c0", "u-7")]
    preferences = [e for e in events if e["type"] == "preference"]
    assert [(p["chosen"], p["rejected"], p["presented"]) for p in preferences] == [
        ("c1", "c0", ["c1", "c0"]),
        ("c0", "c1", ["c1", "c0"]),
        ("c0", "c1", ["c1", "c0"]),
    ]
    assert all(p["source"] == {"kind": "end_user", "id": "u-7"} for p in preferences)
    assert preferences[-1]["rationale"] == "The waxed one is warmer."
    retracted = [e["retracts"] for e in events if e["type"] == "retraction"]
    assert retracted == [preferences[0]["event_id"], preferences[1]["event_id"]]
    assert {p["metadata"]["feedback"]["origin"] for p in preferences} == {page_server.origin}


def test_a_page_on_an_unlisted_origin_is_refused(shop: Shop, browser: Any) -> None:
    before = shop.judgments()
    page_server = PageServer(
        lambda: _page(shop.server.url, [_widget("w", shop.token(kinds=["thumbs"]), "c0")])
    )
    preflight = httpx.options(
        shop.server.url + "/v1/feedback",
        headers={
            "Origin": page_server.origin,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization,content-type",
        },
    )
    assert preflight.status_code == 403 and "access-control-allow-origin" not in preflight.headers
    context = browser.new_context()
    try:
        page = context.new_page()
        page.goto(page_server.origin + "/")
        page.wait_for_selector("#w[data-preflog-ready='1']")
        page.evaluate(RECORD)
        refused = _click(page, "#w .preflog-fb-up")
        assert refused["ok"] is False and "httpStatus" not in refused  # the browser blocked the call
        assert "unreachable" in page.inner_text("#w .preflog-fb-status")
    finally:
        context.close()
        page_server.close()
    assert shop.judgments() == before
