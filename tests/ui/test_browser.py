"""The web UI in a real browser (Debian's Chromium via Playwright) against a live ``preflog serve``.

Each test signs in with its own key, so they do not depend on each other's order. Screenshots of
every page go to a temporary directory, or with ``--screenshots DIR`` (``make screenshots``) to
docs/screenshots/, which docs/ui.md shows.
"""

from __future__ import annotations

from typing import Any

import pytest

from preflog.analytics import extract_battles, rate, win_rate_matrix
from preflog.store import open_store
from tests.server.live import LiveServer
from tests.ui.conftest import sign_in
from tests.ui.seed import XSS_IMG, XSS_SCRIPT, Seeded

pytestmark = [pytest.mark.browser, pytest.mark.slow]

KEYS = ["1", "2", "3", "4"]


def _preferences(db: str, project: str) -> dict[str, dict[str, Any]]:
    store = open_store(db)
    try:
        events = store.read(project=project, types=["preference", "retraction"], limit=10_000)
    finally:
        store.close()
    return {e.event_id: e.event for e in events}


def _current(page: Any, previous: str | None = None) -> tuple[str, list[str]]:
    """Wait for an item other than ``previous``; return its request id and presented order."""
    page.wait_for_function(
        "prev => { const a = document.getElementById('item');"
        " return a && !a.hidden && a.dataset.requestId && a.dataset.requestId !== prev"
        " && !document.body.dataset.busy; }",
        arg=previous or "",
    )
    article = page.locator("#item")
    presented = str(article.get_attribute("data-presented")).split(",")
    return str(article.get_attribute("data-request-id")), presented


def test_sign_in_wrong_key_and_sign_out(page: Any, server: LiveServer, seeded: Seeded, shoot: Any) -> None:
    page.goto(server.url + "/")
    assert page.url.endswith("/ui/login?next=%2Fui%2F")
    shoot(page, "login")
    page.get_by_label("API key").fill("pfl_000000000000_notarealkeynotarealkeynotarealkey")
    page.get_by_role("button", name="Sign in").click()
    assert "not valid" in page.locator("#login-error").inner_text()
    page.get_by_label("API key").fill(seeded.keys["ingester"])  # an ingest key may not sign in
    page.get_by_role("button", name="Sign in").click()
    assert "not valid" in page.locator("#login-error").inner_text()

    sign_in(page, server, seeded.keys["carol"])
    assert page.url.endswith("/ui/arena")
    cookie = next(c for c in page.context.cookies() if c["name"] == "preflog_session")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
    assert seeded.keys["carol"] not in cookie["value"]  # the key itself never goes to the browser
    assert page.evaluate("document.cookie") == ""  # HttpOnly: invisible to scripts
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url("**/ui/login")
    page.goto(server.url + "/ui/arena")
    assert "/ui/login" in page.url


def test_annotate_twenty_items_by_keyboard(page: Any, server: LiveServer, seeded: Seeded, shoot: Any) -> None:
    sign_in(page, server, seeded.keys["alice"])
    expected: dict[str, tuple[str, list[str]]] = {}
    previous = None
    for n in range(20):
        request_id, presented = _current(page, previous)
        assert len(presented) == 2 and request_id in seeded.arena_requests
        if n == 0:
            assert page.locator(".candidate").count() == 2
            assert page.locator(".candidate pre code").count() == 1  # the fenced code block
            assert page.locator(".candidate strong").count() >= 1  # **bold**
            shoot(page, "arena")
        key = KEYS[n % 4]
        expected[request_id] = (key, presented)
        page.keyboard.press(key)
        previous = request_id
    _current(page, previous)
    assert page.locator("#session-count").inner_text() == "20"
    assert page.locator("#done").inner_text() == "20"

    stored = [e for e in _preferences(seeded.db, "arena").values() if e["source"]["id"] == "alice"]
    assert len(stored) == 20
    for event in stored:
        key, presented = expected[event["request_id"]]
        assert event["type"] == "preference"
        assert event["source"] == {"kind": "human", "id": "alice"}
        assert event["presented"] == presented
        assert event["metadata"]["via"] == "web-ui"
        if key == "1":
            assert (event["chosen"], event["rejected"]) == (presented[0], presented[1])
        elif key == "2":
            assert (event["chosen"], event["rejected"]) == (presented[1], presented[0])
        else:
            assert event["outcome"] == {"3": "tie", "4": "both_bad"}[key]
            assert event["candidates"] == presented
    orders = {tuple(p) for _, p in expected.values()}
    assert orders == {("a", "b"), ("b", "a")}  # left/right is randomized per item


def test_undo_records_a_retraction(page: Any, server: LiveServer, seeded: Seeded) -> None:
    sign_in(page, server, seeded.keys["bob"])
    first, _ = _current(page)
    page.get_by_label("Criterion").select_option("helpfulness")
    page.get_by_label("Strength").select_option("0.67")
    page.get_by_label("Rationale (optional)").fill("B cites the right function.")
    page.get_by_role("button", name="B is better").click()
    second, _ = _current(page, first)
    page.keyboard.press("u")
    page.wait_for_function("rid => document.getElementById('item').dataset.requestId === rid", arg=first)
    page.wait_for_selector("#status[data-kind='ok']")
    assert "withdrawn" in page.locator("#status").inner_text()

    events = _preferences(seeded.db, "arena")
    mine = [e for e in events.values() if e["type"] == "preference" and e["source"]["id"] == "bob"]
    assert len(mine) == 1
    judgment = mine[0]
    assert judgment["criterion"] == "helpfulness" and judgment["strength"] == 0.67
    assert judgment["rationale"] == "B cites the right function."
    retractions = [e for e in events.values() if e["type"] == "retraction"]
    assert [r["retracts"] for r in retractions if r["source"]["id"] == "bob"] == [judgment["event_id"]]
    assert second != first


def test_xss_outputs_stay_inert(page: Any, server: LiveServer, seeded: Seeded, shoot: Any) -> None:
    messages: list[str] = []
    page.on("console", lambda m: messages.append(m.text))
    sign_in(page, server, seeded.keys["xss-annotator"])
    request_id, _ = _current(page)
    assert request_id == seeded.xss_request
    candidates = page.locator("#candidates")
    assert XSS_SCRIPT in candidates.inner_text()
    assert XSS_IMG in candidates.inner_text()
    assert XSS_SCRIPT in page.locator("#conversation").inner_text()
    assert page.locator("#item script, #item img").count() == 0
    assert page.evaluate("typeof window.__pwned") == "undefined"
    shoot(page, "arena-xss")

    page.goto(f"{server.url}/ui/explorer?open={request_id}")
    page.wait_for_selector("body[data-ready='1']")
    page.wait_for_selector(f"#record[data-request-id='{request_id}']")
    assert XSS_IMG in page.locator("#record").inner_text()
    assert page.locator("#record script, #record img").count() == 0
    assert page.evaluate("typeof window.__pwned") == "undefined"


def test_explorer_shows_the_joined_record(page: Any, server: LiveServer, seeded: Seeded, shoot: Any) -> None:
    sign_in(page, server, seeded.keys["demo-admin"], "/ui/explorer")
    store = open_store(seeded.db)
    try:
        retractions = store.read(project="demo", types=["retraction"], limit=50)
        views = [store.get_request(e.request_id or "", project="demo") for e in retractions]
        erased = store.read(project="demo", types=["erasure"], limit=5)
    finally:
        store.close()
    view = next(v for v in views if v.inference is not None and v.preferences and v.scores)
    page.get_by_label("Request id").fill(view.request_id[:13])
    page.get_by_role("button", name="Search").click()
    page.wait_for_selector(f"#record[data-request-id='{view.request_id}']")
    record = page.locator("#record")
    assert record.locator("#judgments tbody tr").count() == len(view.preferences)
    withdrawn = view.retracted & {p.event_id for p in view.preferences}
    assert record.locator("#judgments tr.retracted").count() == len(withdrawn)
    assert view.inference is not None
    assert record.locator(".candidates .candidate").count() == len(view.inference.event["candidates"])
    shoot(page, "explorer")

    erased_request = erased[0].request_id or ""
    if erased_request:
        page.goto(f"{server.url}/ui/explorer?open={erased_request}")
        page.wait_for_selector("#record [data-flag='erased']")

    page.goto(f"{server.url}/ui/explorer?model=cirrus-70b")
    page.wait_for_selector("body[data-ready='1']")
    assert "requests" in page.locator("#results-caption").inner_text()
    assert all("cirrus-70b" in t for t in page.locator("#results tbody td:nth-child(3)").all_inner_texts())


def test_dashboards_draw_charts_from_the_data(
    page: Any, server: LiveServer, seeded: Seeded, shoot: Any
) -> None:
    sign_in(page, server, seeded.keys["demo-admin"], "/ui/dashboards")
    page.wait_for_selector("#agreement[data-rendered='1']")
    store = open_store(seeded.db)
    try:
        battles = extract_battles(store, "demo")
    finally:
        store.close()
    board = rate(battles)
    matrix = win_rate_matrix(battles)
    rows = page.locator("#leaderboard g.lb-row")
    assert rows.count() == len(board.rows)
    shown = [rows.nth(i).get_attribute("data-model") for i in range(rows.count())]
    assert shown == [r.model for r in board.rows]
    assert page.locator("#leaderboard rect.interval").count() == len(board.rows)
    n = len(matrix.models)
    assert page.locator("#matrix rect.cell").count() == n * n
    defined = sum(v is not None for row in matrix.values for v in row)
    assert page.locator("#matrix rect.cell:not(.none)").count() == defined
    counts = page.locator("#volume rect.bar").evaluate_all("els => els.map(e => +e.dataset.count)")
    judgments = len(set(battles.judgment.tolist()))
    assert sum(counts) == judgments
    assert page.locator("#position circle.pt").count() >= 10  # one point per day with decisive battles
    assert page.locator("#length circle.pt").count() > 0
    assert page.locator("#latency circle.pt").count() > 0
    assert page.locator("#agreement g.hbar").count() >= 2
    shoot(page, "dashboards")

    page.locator("#filters select[name=source]").select_option("ai_judge")
    page.get_by_role("button", name="Apply").click()
    page.wait_for_selector("body[data-ready='1']")
    judge = extract_battles(open_store(seeded.db), "demo", source="ai_judge")
    counts = page.locator("#volume rect.bar").evaluate_all("els => els.map(e => +e.dataset.count)")
    assert sum(counts) == len(set(judge.judgment.tolist()))
    assert "source=ai_judge" in page.url


def test_read_key_cannot_annotate(page: Any, server: LiveServer, seeded: Seeded, shoot: Any) -> None:
    sign_in(page, server, seeded.keys["reader"])
    assert "/ui/dashboards" in page.url  # a read key lands on what it may see
    page.goto(server.url + "/ui/arena")
    assert "not available" in page.locator("h1").inner_text()
    before = len(_preferences(seeded.db, "arena"))
    status = page.evaluate(
        """async (rid) => (await fetch('/ui/api/judgments', {method: 'POST',
            headers: {'Content-Type': 'application/json', 'X-CSRF-Token': document.body.dataset.csrf},
            body: JSON.stringify({request_id: rid, presented: ['a', 'b'], choice: 'a'})})).status""",
        seeded.arena_requests[-1],
    )
    assert status == 403
    assert len(_preferences(seeded.db, "arena")) == before
    shoot(page, "arena-read-only", full_page=False)


def test_key_of_another_project_sees_nothing(page: Any, server: LiveServer, seeded: Seeded) -> None:
    sign_in(page, server, seeded.keys["outsider"])
    page.wait_for_selector("#empty:not([hidden])")
    assert page.locator("#remaining").inner_text() == "0"
    target = seeded.arena_requests[0]
    for path in (f"/ui/api/requests/{target}", f"/ui/api/queue/item/{target}"):
        status = page.evaluate("async (p) => (await fetch(p)).status", path)
        assert status == 404
    page.goto(server.url + "/ui/explorer")
    page.wait_for_selector("body[data-ready='1']")
    assert page.locator("#results tbody tr[data-request]").count() == 0
    page.goto(server.url + "/ui/dashboards")
    page.wait_for_selector("#leaderboard[data-rendered='1']")
    assert page.locator("svg.svg-chart").count() == 0


def test_phone_layout(browser: Any, server: LiveServer, seeded: Seeded, shoot: Any) -> None:
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    try:
        page = context.new_page()
        sign_in(page, server, seeded.keys["demo-admin"])
        _current(page)
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 392  # nothing forces sideways scrolling
        shoot(page, "arena-phone", full_page=False)
    finally:
        context.close()


def test_api_docs_render_without_internet(page: Any, server: LiveServer, shoot: Any) -> None:
    """/docs (Swagger UI) and /redoc with every request to another host refused, as offline."""
    elsewhere: list[str] = []

    def only_this_server(route: Any) -> None:
        if route.request.url.startswith(server.url):
            route.continue_()
        else:
            elsewhere.append(route.request.url)
            route.abort()

    page.route("**/*", only_this_server)
    page.goto(server.url + "/docs")
    page.wait_for_selector(".swagger-ui .opblock-tag")
    assert "preflog" in page.locator(".swagger-ui .info .title").inner_text()
    assert page.locator(".swagger-ui .opblock").count() >= 10  # the routes of /v1
    page.locator(".swagger-ui .opblock-summary", has_text="/v1/events").first.click()
    page.wait_for_selector(".swagger-ui .opblock.is-open")
    shoot(page, "api-docs", full_page=False)
    assert elsewhere == []
    page.goto(server.url + "/redoc")
    page.wait_for_selector("h1:has-text('preflog')")
    assert page.get_by_text("/v1/events").count() >= 1
    # ReDoc's bundle tries its "powered by" logo on its maker's CDN and hides it when that fails.
    assert all(url.endswith("/redoc/logo-mini.svg") for url in elsewhere), elsewhere


CONTRAST = """el => {
  const rgb = (c) => (c.match(/[\\d.]+/g) || []).slice(0, 4).map(Number);
  const lum = ([r, g, b]) => {
    const f = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; };
    return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
  };
  let node = el, back = null;
  while (node && !back) {  // the first opaque background behind the text
    const c = rgb(getComputedStyle(node).backgroundColor);
    if (c.length === 3 || c[3] > 0) back = c;
    node = node.parentElement;
  }
  const fore = lum(rgb(getComputedStyle(el).color)), under = lum(back || [255, 255, 255]);
  return (Math.max(fore, under) + 0.05) / (Math.min(fore, under) + 0.05);
}"""


def test_ranking_mode_shows_its_own_keys_and_a_readable_enter_badge(
    page: Any, server: LiveServer, seeded: Seeded, shoot: Any
) -> None:
    sign_in(page, server, seeded.keys["ranker"])
    shown, _ = _current(page)
    page.get_by_label("Queue").select_option("oldest")  # the three-answer requests come first
    page.wait_for_function(
        "rid => document.getElementById('item').dataset.requestId === rid && !document.body.dataset.busy",
        arg=seeded.ranking_requests[0],
    )
    request_id, presented = _current(page, shown if shown != seeded.ranking_requests[0] else None)
    assert request_id == seeded.ranking_requests[0] and len(presented) == 3
    assert page.locator("#item").get_attribute("data-mode") == "ranking"
    assert page.locator("#help-ranking").is_visible() and not page.locator("#help-pair").is_visible()
    footer = page.locator("#help-ranking").inner_text()
    assert "Enter" in footer and "Backspace" in footer and "A better" not in footer
    badge = page.locator("#rank-submit kbd")
    assert badge.inner_text() == "Enter"
    assert badge.evaluate(CONTRAST) >= 3.0  # the text of the key cap shows on its background
    for key in ("2", "3", "1"):
        page.keyboard.press(key)
    assert page.locator("#rank-submit").is_enabled()
    assert page.locator("#rank-submit kbd").evaluate(CONTRAST) >= 3.0
    shoot(page, "arena-ranking", full_page=False)
    page.keyboard.press("Enter")
    _current(page, request_id)
    mine = [e for e in _preferences(seeded.db, "ranking").values() if e["request_id"] == request_id]
    assert [e["ranking"] for e in mine] == [[presented[1], presented[2], presented[0]]]


def test_explorer_links_are_shareable(page: Any, server: LiveServer, seeded: Seeded, browser: Any) -> None:
    sign_in(page, server, seeded.keys["demo-admin"], "/ui/explorer")
    rows = page.locator("#results tbody tr[data-request]")
    first, second = (str(rows.nth(i).get_attribute("data-request")) for i in (0, 1))
    rows.nth(0).locator("a").click()
    page.wait_for_selector(f"#record[data-request-id='{first}']")
    assert page.url.endswith(f"/ui/explorer?open={first}")
    rows.nth(1).locator("a").click()
    page.wait_for_selector(f"#record[data-request-id='{second}']")
    assert page.url.endswith(f"?open={second}")
    page.go_back()  # Back is the previous request
    page.wait_for_selector(f"#record[data-request-id='{first}']")
    assert page.url.endswith(f"?open={first}")

    page.get_by_label("Model").fill("cirrus-70b")
    page.get_by_role("button", name="Search").click()
    page.wait_for_function("() => location.search.includes('model=cirrus-70b')")
    assert "open=" not in page.url and page.locator("#record").is_hidden()  # no stale request
    shown = page.locator("#results tbody tr[data-request]").first.get_attribute("data-request")
    page.locator("#results tbody tr[data-request] a").first.click()
    page.wait_for_selector(f"#record[data-request-id='{shown}']")
    link = page.url
    assert "model=cirrus-70b" in link and f"open={shown}" in link
    assert page.locator("#permalink").get_attribute("href") == f"?open={shown}"

    other = page.context.new_page()  # the link, opened elsewhere, shows the same search and request
    other.goto(link)
    other.wait_for_selector("body[data-ready='1']")
    other.wait_for_selector(f"#record[data-request-id='{shown}']")
    assert other.get_by_label("Model").input_value() == "cirrus-70b"
    models = other.locator("#results tbody td:nth-child(3)").all_inner_texts()
    assert models and all("cirrus-70b" in t for t in models)
    other.close()


def test_agent_replies_show_their_tool_calls_refusals_and_turns(
    page: Any, server: LiveServer, seeded: Seeded
) -> None:
    # Contract v2 replies are data: a tool call (empty text), an empty answer, a refusal and a
    # multi-turn continuation are four different answers, each shown as what it is.
    sign_in(page, server, seeded.keys["agent-annotator"])
    request_id, presented = _current(page)
    assert request_id == seeded.agent_request and sorted(presented) == ["c0", "c1", "c2", "c3"]
    cards = {c: page.locator(f"#item .candidate[data-candidate='{c}']") for c in presented}
    assert 'get_weather({"city": "Lyon"})' in cards["c0"].locator(".tool-call").inner_text()
    assert cards["c1"].locator(".empty-answer").inner_text() == "(empty answer)"
    assert "I can't help with that." in cards["c2"].locator(".refusal").inner_text()
    turns = cards["c3"].locator(".continuation > li")
    assert turns.count() == 3
    assert (
        "Paris is warmer" in turns.nth(2).inner_text()
        and "tool get_weather" in turns.nth(1).inner_text().lower()
    )
    prompt = page.locator("#conversation > li")
    assert prompt.count() == 4 and "None" not in prompt.nth(2).inner_text()
    assert 'get_weather({"city": "Paris"})' in prompt.nth(2).inner_text()

    page.goto(f"{server.url}/ui/explorer?open={request_id}")
    page.wait_for_selector(f"#record[data-request-id='{request_id}']")
    record = page.locator("#record .candidates")
    assert record.locator(".candidate").count() == 4
    assert record.locator(".erased").count() == 0  # nothing of it reads "(content erased)"
    assert record.locator(".continuation > li").count() == 3
    assert record.locator(".tool-call").count() == 2
