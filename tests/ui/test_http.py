"""The UI's server side without a browser: sessions, CSRF, headers, scopes, the queue and judgments.

The app runs in process behind Starlette's TestClient on a real SQLite file.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from preflog.server.app import create_app
from preflog.server.keys import create_key, open_key_store, revoke_key
from preflog.server.ui.web import CSP
from preflog.store import open_store
from preflog.store.base import Store
from tests.conftest import ROOT
from tests.ui.seed import arena_events, ranking_events, uid


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = open_store(str(tmp_path / "ui.db"))
    s.append(arena_events("arena"), project="arena")
    yield s
    s.close()


@pytest.fixture
def keys(store: Store) -> dict[str, str]:
    ks = open_key_store(store)
    out = {}
    for name, project, scope in (
        ("alice", "arena", "annotate"),
        ("bob", "arena", "annotate"),
        ("reader", "arena", "read"),
        ("ingester", "arena", "ingest"),
        ("outsider", "other", "admin"),
    ):
        out[name], _ = create_key(ks, project=project, scope=scope, name=name)
    return out


@pytest.fixture
def app_client(store: Store) -> Iterator[TestClient]:
    with TestClient(create_app(store), follow_redirects=False) as client:
        yield client


def second_client(client: TestClient) -> TestClient:
    """Another browser on the same app (no ``with``: its exit would run the app's shutdown)."""
    return TestClient(client.app, follow_redirects=False)


def login(client: TestClient, token: str) -> str:
    """Sign in; return the CSRF token of the session (read from the page, as the browser does)."""
    client.cookies.clear()
    form = client.get("/ui/login")
    csrf = re.search(r'name="csrf" value="([^"]+)"', form.text)
    assert csrf is not None
    answer = client.post("/ui/login", data={"csrf": csrf.group(1), "api_key": token, "next": ""})
    assert answer.status_code == 303, answer.text
    page = client.get("/ui/explorer")
    found = re.search(r'data-csrf="([^"]+)"', page.text)
    assert found is not None
    return found.group(1)


def judge(client: TestClient, csrf: str, request_id: str, **extra: Any) -> Any:
    body = {"request_id": request_id, "presented": ["b", "a"], "choice": "a", **extra}
    return client.post("/ui/api/judgments", json=body, headers={"X-CSRF-Token": csrf})


def test_pages_carry_a_strict_csp_and_the_api_docs_do_not(app_client: TestClient) -> None:
    page = app_client.get("/ui/login")
    assert page.headers["content-security-policy"] == CSP
    assert "script-src 'self'" in CSP and "unsafe-inline" not in CSP
    assert page.headers["x-frame-options"] == "DENY" and page.headers["x-content-type-options"] == "nosniff"
    assert "<script>" not in page.text and " style=" not in page.text  # no inline script or style
    assert app_client.get("/ui/static/ui.css").headers["x-content-type-options"] == "nosniff"
    assert "content-security-policy" not in app_client.get("/docs").headers


def test_api_docs_pages_load_every_asset_from_this_server(app_client: TestClient) -> None:
    """/docs and /redoc name no other host: their scripts, styles and icon are served here."""
    for page in ("/docs", "/redoc"):
        html = app_client.get(page)
        assert html.status_code == 200
        urls = re.findall(r'(?:src|href)="([^"]+)"|url: *[\'"]([^\'"]+)', html.text)
        urls = [u for pair in urls for u in pair if u]
        assert urls and all(u.startswith("/") and not u.startswith("//") for u in urls), urls
        assert "fonts.googleapis" not in html.text and "cdn" not in html.text.lower()
        for url in urls:
            if url.startswith("/docs/assets/"):
                asset = app_client.get(url)
                assert asset.status_code == 200 and len(asset.content) > 1000, url
    assert "/openapi.json" in app_client.get("/docs").text


def test_signed_out_pages_redirect_to_sign_in(app_client: TestClient) -> None:
    assert app_client.get("/").headers["location"] == "/ui/"
    answer = app_client.get("/ui/arena")
    assert answer.status_code == 303 and answer.headers["location"] == "/ui/login?next=%2Fui%2Farena"
    assert app_client.get("/ui/api/facets").status_code == 401


def test_sign_in_sets_a_strict_http_only_cookie(app_client: TestClient, keys: dict[str, str]) -> None:
    form = app_client.get("/ui/login")
    csrf = re.search(r'name="csrf" value="([^"]+)"', form.text).group(1)  # type: ignore[union-attr]
    answer = app_client.post(
        "/ui/login", data={"csrf": csrf, "api_key": keys["alice"], "next": "/ui/explorer"}
    )
    assert answer.status_code == 303 and answer.headers["location"] == "/ui/explorer"
    cookie = next(c for c in answer.headers.get_list("set-cookie") if c.startswith("preflog_session="))
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie
    secret = keys["alice"].split("_", 2)[2]  # pfl_<id>_<secret>; the secret itself may contain "_"
    assert secret not in cookie and secret[:16] not in cookie  # the key's secret is not in the cookie


@pytest.mark.parametrize(
    ("csrf", "headers", "status"),
    [(None, {}, 403), ("wrong", {}, 403), ("ok", {"Origin": "https://evil.example"}, 403), ("ok", {}, 303)],
)
def test_sign_in_form_needs_its_csrf_token(
    app_client: TestClient, keys: dict[str, str], csrf: str | None, headers: dict[str, str], status: int
) -> None:
    form = app_client.get("/ui/login")
    real = re.search(r'name="csrf" value="([^"]+)"', form.text).group(1)  # type: ignore[union-attr]
    data = {"api_key": keys["alice"]}
    if csrf is not None:
        data["csrf"] = real if csrf == "ok" else csrf
    assert app_client.post("/ui/login", data=data, headers=headers).status_code == status


def test_only_ui_scopes_sign_in_and_next_stays_local(app_client: TestClient, keys: dict[str, str]) -> None:
    form = app_client.get("/ui/login")
    csrf = re.search(r'name="csrf" value="([^"]+)"', form.text).group(1)  # type: ignore[union-attr]
    assert app_client.post("/ui/login", data={"csrf": csrf, "api_key": keys["ingester"]}).status_code == 401
    form = app_client.get("/ui/login")
    csrf = re.search(r'name="csrf" value="([^"]+)"', form.text).group(1)  # type: ignore[union-attr]
    data = {"csrf": csrf, "api_key": keys["reader"], "next": "//evil.example/x"}
    assert app_client.post("/ui/login", data=data).headers["location"] == "/ui/"


def test_posts_need_the_session_csrf_token(
    app_client: TestClient, keys: dict[str, str], store: Store
) -> None:
    csrf = login(app_client, keys["alice"])
    rid = uid("arena", "request", 3)
    body = {"request_id": rid, "presented": ["a", "b"], "choice": "a"}
    assert app_client.post("/ui/api/judgments", json=body).status_code == 403
    assert (
        app_client.post("/ui/api/judgments", json=body, headers={"X-CSRF-Token": "x" * 43}).status_code == 403
    )
    cross = {"X-CSRF-Token": csrf, "Sec-Fetch-Site": "cross-site"}
    assert app_client.post("/ui/api/judgments", json=body, headers=cross).status_code == 403
    assert store.read(project="arena", types=["preference"]) == []
    assert judge(app_client, csrf, rid).status_code == 200


def test_a_judgment_is_the_preference_event_of_what_was_shown(
    app_client: TestClient, keys: dict[str, str], store: Store
) -> None:
    csrf = login(app_client, keys["alice"])
    rid = uid("arena", "request", 5)
    answer = judge(
        app_client, csrf, rid, choice="a", strength=0.33, criterion="correctness", rationale=" ok "
    )
    assert answer.status_code == 200, answer.text
    event = store.get_event(answer.json()["event_id"], project="arena")
    assert event is not None
    e = event.event
    assert (e["chosen"], e["rejected"], e["presented"]) == ("b", "a", ["b", "a"])  # "a" = first shown
    assert e["source"] == {"kind": "human", "id": "alice"}
    assert (e["strength"], e["criterion"], e["rationale"]) == (0.33, "correctness", "ok")
    tie = judge(app_client, csrf, uid("arena", "request", 6), choice="both_bad")
    event = store.get_event(tie.json()["event_id"], project="arena")
    assert event is not None and event.event["outcome"] == "both_bad"
    assert event.event["candidates"] == ["b", "a"]
    bad = judge(app_client, csrf, rid, presented=["a", "z"])
    assert bad.status_code == 422 and "presented" in bad.json()["message"]


def test_undo_retracts_only_your_own_last_judgment(
    app_client: TestClient, store: Store, keys: dict[str, str]
) -> None:
    csrf = login(app_client, keys["alice"])
    first = judge(app_client, csrf, uid("arena", "request", 1)).json()["event_id"]
    second = judge(app_client, csrf, uid("arena", "request", 2)).json()["event_id"]
    undone = app_client.post("/ui/api/undo", json={}, headers={"X-CSRF-Token": csrf})
    assert undone.json()["retracts"] == second
    undone = app_client.post("/ui/api/undo", json={}, headers={"X-CSRF-Token": csrf})
    assert undone.json()["retracts"] == first
    again = app_client.post("/ui/api/undo", json={"event_id": first}, headers={"X-CSRF-Token": csrf})
    assert again.status_code == 409
    retractions = store.read(project="arena", types=["retraction"])
    assert [r.event["retracts"] for r in retractions] == [second, first]

    mine = judge(app_client, csrf, uid("arena", "request", 7)).json()["event_id"]
    bob_client = second_client(app_client)
    bob_csrf = login(bob_client, keys["bob"])
    theft = bob_client.post("/ui/api/undo", json={"event_id": mine}, headers={"X-CSRF-Token": bob_csrf})
    assert theft.status_code == 404


def test_sessions_end_with_sign_out_revocation_or_tampering(
    app_client: TestClient, store: Store, keys: dict[str, str]
) -> None:
    login(app_client, keys["alice"])
    cookie = app_client.cookies["preflog_session"]
    parts = cookie.split(".")
    forged = ".".join([parts[0], parts[1], str(int(parts[2]) + 3600), parts[3], parts[4]])
    other = second_client(app_client)
    other.cookies.set("preflog_session", forged)
    assert other.get("/ui/api/facets").status_code == 401
    csrf = login(app_client, keys["alice"])
    cookie = app_client.cookies["preflog_session"]
    assert app_client.post("/ui/logout", data={"csrf": csrf}).status_code == 303
    replay = second_client(app_client)
    replay.cookies.set("preflog_session", cookie)
    assert replay.get("/ui/api/facets").status_code == 401  # signed out: the old cookie is dead
    login(app_client, keys["reader"])
    assert app_client.get("/ui/api/facets").status_code == 200
    revoke_key(open_key_store(store), keys["reader"].split("_")[1])
    assert app_client.get("/ui/api/facets").status_code == 401


def test_scopes_and_projects(app_client: TestClient, keys: dict[str, str]) -> None:
    csrf = login(app_client, keys["reader"])
    assert "not available" in app_client.get("/ui/arena").text
    assert app_client.get("/ui/api/queue/next").status_code == 403
    assert judge(app_client, csrf, uid("arena", "request", 1)).status_code == 403
    assert app_client.get("/ui/api/requests").json()["total"] == 24

    login(app_client, keys["outsider"])
    assert app_client.get("/ui/api/requests").json()["total"] == 0
    assert app_client.get(f"/ui/api/requests/{uid('arena', 'request', 1)}").status_code == 404
    assert app_client.get("/ui/api/queue/next").json()["item"] is None
    board = app_client.get("/ui/api/dashboard").json()
    assert board["leaderboard"]["rows"] == [] and board["volume"]["judgments"] == 0


def test_queue_policies_and_distinct_annotators(app_client: TestClient, keys: dict[str, str]) -> None:
    csrf = login(app_client, keys["alice"])
    item = app_client.get("/ui/api/queue/next", params={"policy": "uncertain"}).json()["item"]
    assert item["request_id"] == uid("arena", "request", 23)  # the smallest reward-score gap
    item = app_client.get("/ui/api/queue/next", params={"policy": "oldest"}).json()
    assert item["item"]["request_id"] == uid("arena", "request", 0)
    assert item["progress"] == {"remaining": 24, "done": 0}
    assert sorted(item["item"]["presented"]) == ["a", "b"] and "model" not in str(item["item"]["candidates"])
    judge(app_client, csrf, uid("arena", "request", 0), presented=item["item"]["presented"])
    after = app_client.get("/ui/api/queue/next", params={"policy": "oldest"}).json()
    assert after["item"]["request_id"] == uid("arena", "request", 1)
    assert after["progress"] == {"remaining": 23, "done": 1}
    skipped = app_client.get(
        "/ui/api/queue/next", params={"policy": "oldest", "exclude": uid("arena", "request", 1)}
    )
    assert skipped.json()["item"]["request_id"] == uid("arena", "request", 2)

    bob_client = second_client(app_client)
    login(bob_client, keys["bob"])
    one = bob_client.get("/ui/api/queue/next", params={"policy": "oldest"}).json()
    assert one["item"]["request_id"] != uid("arena", "request", 0)  # judged once: done with N=1
    two = bob_client.get("/ui/api/queue/next", params={"policy": "oldest", "annotators": 2}).json()
    assert two["item"]["request_id"] == uid("arena", "request", 0)  # N=2 wants a second person
    balanced = app_client.get("/ui/api/queue/next", params={"policy": "balanced"}).json()["item"]
    assert balanced is not None
    assert app_client.get("/ui/api/queue/next", params={"policy": "nope"}).status_code == 422


def test_the_arena_never_offers_identical_answers(app_client: TestClient, store: Store) -> None:
    """A request whose answers are all the same is never offered; identical answers among others
    are shown once, and the judgment of what was shown is stored."""
    store.append(ranking_events("ranking"), project="ranking")
    token, _ = create_key(open_key_store(store), project="ranking", scope="annotate", name="ranker")
    csrf = login(app_client, token)
    offered: dict[str, list[str]] = {}
    while True:
        params = {"policy": "oldest", "exclude": ",".join(offered)}
        item = app_client.get("/ui/api/queue/next", params=params).json()["item"]
        if item is None:
            break
        offered[item["request_id"]] = [c["output"] for c in item["candidates"]]
    assert uid("ranking", "request", 100) not in offered  # "Paris." and "Paris."
    collapsed = offered[uid("ranking", "request", 101)]
    assert sorted(collapsed) == ["4", "four"]
    assert all(len(set(outputs)) == len(outputs) for outputs in offered.values())
    item = app_client.get(f"/ui/api/queue/item/{uid('ranking', 'request', 101)}").json()["item"]
    assert item["mode"] == "pair" and len(item["presented"]) == 2
    answer = judge(app_client, csrf, uid("ranking", "request", 101), presented=item["presented"])
    assert answer.status_code == 200, answer.text
    direct = app_client.get(f"/ui/api/queue/item/{uid('ranking', 'request', 100)}")
    assert direct.status_code == 404


def test_screenshots_go_to_a_temporary_directory_unless_asked(
    request: pytest.FixtureRequest, screenshot_dir: Path
) -> None:
    """make test must leave the work tree clean: docs/screenshots is written by make screenshots only."""
    if request.config.getoption("--screenshots"):
        pytest.skip("--screenshots was given: this run keeps them where asked")
    assert ROOT not in screenshot_dir.parents and screenshot_dir.is_dir()
