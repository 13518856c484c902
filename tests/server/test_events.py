"""Writes and reads through the app in process, on a real SQLite file."""

from __future__ import annotations

import gzip
import json
from typing import Any

from starlette.testclient import TestClient
from tests import factories as f
from tests.server.conftest import PROJECT

from preflog.server.models import BatchResponse, EventsPage, RequestViewModel


def ndjson(*lines: Any) -> bytes:
    return b"".join(
        (line if isinstance(line, bytes) else json.dumps(line).encode()) + b"\n" for line in lines
    )


def post_events(client: TestClient, headers: dict[str, str], events: Any) -> Any:
    response = client.post("/v1/events", json=events, headers=headers)
    BatchResponse.model_validate(response.json())
    return response


def test_batch_answers_each_event_and_stores_the_valid_ones(
    client: TestClient, admin: dict[str, str]
) -> None:
    inf = f.inference()
    bad = f.inference(outputs=("fine", "bad\x00"))
    conflict = dict(inf, prompt="another prompt")
    events = [inf, f.preference(inf["request_id"]), bad, inf, conflict, "not an object"]
    response = post_events(client, admin, events)
    body = response.json()
    assert response.status_code == 207
    assert body["partial"] is True
    assert body["counts"] == {"stored": 2, "duplicate": 1, "conflict": 1, "rejected": 2}
    statuses = [(r["index"], r["status"]) for r in body["results"]]
    assert statuses == [
        (0, "stored"),
        (1, "stored"),
        (2, "rejected"),
        (3, "duplicate"),
        (4, "conflict"),
        (5, "rejected"),
    ]
    assert body["results"][2]["field"] == "candidates[1].output"
    assert body["results"][2]["reason"] == "contains a NUL character"
    assert body["results"][3]["position"] == body["results"][0]["position"]
    page = client.get("/v1/events", headers=admin).json()
    assert [e["event_id"] for e in page["events"]] == [inf["event_id"], events[1]["event_id"]]


def test_all_accepted_is_200_and_none_accepted_is_422(client: TestClient, admin: dict[str, str]) -> None:
    inf = f.inference()
    ok = post_events(client, admin, [inf])
    assert ok.status_code == 200 and ok.json()["partial"] is False
    again = post_events(client, admin, [inf])
    assert again.status_code == 200 and again.json()["counts"]["duplicate"] == 1
    none = post_events(client, admin, [{"type": "inference"}, 3])
    assert none.status_code == 422 and none.json()["partial"] is False
    assert none.json()["counts"]["rejected"] == 2
    empty = post_events(client, admin, [])
    assert empty.status_code == 200 and empty.json()["results"] == []


def test_single_object_body_is_a_batch_of_one(client: TestClient, admin: dict[str, str]) -> None:
    response = post_events(client, admin, f.inference())
    assert response.status_code == 200 and response.json()["counts"]["stored"] == 1


def test_ndjson_keeps_valid_lines_and_reports_malformed_ones(
    client: TestClient, admin: dict[str, str]
) -> None:
    inf = f.inference()
    body = ndjson(
        inf,
        b'{"event_id": "truncated',
        b"",
        f.signal(inf["request_id"]),
        b"\xff\xfe not utf-8",
        b"[" * 100_000,
    )
    headers = dict(admin, **{"Content-Type": "application/x-ndjson"})
    response = client.post("/v1/events", content=body, headers=headers)
    assert response.status_code == 207
    results = response.json()["results"]
    assert [(r["index"], r["line"], r["status"]) for r in results] == [
        (0, 1, "stored"),
        (1, 2, "rejected"),
        (2, 4, "stored"),
        (3, 5, "rejected"),
        (4, 6, "rejected"),
    ]
    assert results[1]["reason"].startswith("invalid JSON")
    assert "invalid JSON" in results[4]["reason"]


def test_gzip_body(client: TestClient, admin: dict[str, str]) -> None:
    events = [f.inference() for _ in range(20)]
    body = gzip.compress(json.dumps(events).encode())
    headers = dict(admin, **{"Content-Encoding": "gzip", "Content-Type": "application/json"})
    response = client.post("/v1/events", content=body, headers=headers)
    assert response.status_code == 200
    assert response.json()["counts"]["stored"] == 20
    nd = gzip.compress(ndjson(*[f.signal(events[0]["request_id"]) for _ in range(3)]))
    headers["Content-Type"] = "application/x-ndjson"
    assert client.post("/v1/events", content=nd, headers=headers).json()["counts"]["stored"] == 3


def test_bad_gzip_and_bad_json_are_400(client: TestClient, admin: dict[str, str]) -> None:
    headers = dict(admin, **{"Content-Encoding": "gzip", "Content-Type": "application/json"})
    assert client.post("/v1/events", content=b"not gzip", headers=headers).json()["error"] == "invalid_gzip"
    truncated = gzip.compress(b"[" + b"1," * 1000 + b"1]")[:-20]
    assert client.post("/v1/events", content=truncated, headers=headers).status_code == 400
    response = client.post(
        "/v1/events", content=b"[{", headers=dict(admin, **{"Content-Type": "application/json"})
    )
    assert response.status_code == 400 and response.json()["error"] == "invalid_json"
    response = client.post("/v1/events", content=b"x", headers=dict(admin, **{"Content-Type": "text/csv"}))
    assert response.status_code == 415


def test_convenience_routes_fill_type_ids_and_time(client: TestClient, admin: dict[str, str]) -> None:
    inference = f.inference()
    for key in ("event_id", "type", "occurred_at", "request_id"):
        del inference[key]
    response = client.post("/v1/inferences", json=inference, headers=admin)
    assert response.status_code == 200, response.text
    result = response.json()["results"][0]
    request_id = result["request_id"]
    preference = f.preference(request_id)
    score = f.score(request_id)
    signals = [f.signal(request_id), f.signal(request_id, kind="copy")]
    for item in (preference, score, *signals):
        del item["type"], item["event_id"], item["occurred_at"]
    assert client.post("/v1/preferences", json=preference, headers=admin).status_code == 200
    assert client.post("/v1/scores", json=[score], headers=admin).status_code == 200
    assert client.post("/v1/signals", json=signals, headers=admin).json()["counts"]["stored"] == 2
    wrong = client.post("/v1/scores", json=f.signal(request_id), headers=admin)
    assert wrong.status_code == 422
    assert wrong.json()["results"][0]["field"] == "type"
    view = client.get(f"/v1/requests/{request_id}", headers=admin).json()
    assert view["inference"]["event_id"] == result["event_id"]
    assert (len(view["preferences"]), len(view["scores"]), len(view["signals"])) == (1, 1, 2)


def test_request_view_and_orphans(client: TestClient, admin: dict[str, str]) -> None:
    inf = f.inference()
    pref = f.preference(inf["request_id"])
    post_events(client, admin, [pref])
    orphan = client.get(f"/v1/requests/{inf['request_id']}", headers=admin)
    assert orphan.status_code == 200
    assert orphan.json()["orphaned"] is True and orphan.json()["inference"] is None
    post_events(client, admin, [inf, f.retraction(inf["request_id"], pref["event_id"])])
    view = client.get(f"/v1/requests/{inf['request_id']}", headers=admin).json()
    RequestViewModel.model_validate(view)
    assert view["orphaned"] is False
    assert view["retracted"] == [pref["event_id"]]
    assert view["inference"]["project"] == PROJECT
    missing = client.get("/v1/requests/nope", headers=admin)
    assert missing.status_code == 404 and missing.json()["error"] == "not_found"


def test_tailing_with_after_never_skips(client: TestClient, admin: dict[str, str]) -> None:
    events = [f.inference() for _ in range(25)]
    post_events(client, admin, events[:10])
    seen: list[str] = []
    after = 0
    for _ in range(20):
        page = client.get("/v1/events", params={"after": after, "limit": 4}, headers=admin).json()
        EventsPage.model_validate(page)
        seen += [e["event_id"] for e in page["events"]]
        assert all(e["position"] > after for e in page["events"])
        after = page["next_after"]
        if not page["has_more"]:
            if len(seen) == 10:
                post_events(client, admin, events[10:])
                continue
            break
    assert seen == [e["event_id"] for e in events]
    typed = client.get("/v1/events", params={"type": "signal"}, headers=admin).json()
    assert typed["events"] == [] and typed["next_after"] == 0
    bad = client.get("/v1/events", params={"after": "x"}, headers=admin)
    assert bad.status_code == 422 and bad.json()["error"] == "invalid_request"


def test_page_size_is_capped_by_max_page(client: TestClient, admin: dict[str, str]) -> None:
    post_events(client, admin, [f.inference() for _ in range(5)])
    client.app.state.preflog.settings = type(client.app.state.preflog.settings)(max_page=2)  # type: ignore[attr-defined]
    page = client.get("/v1/events", params={"limit": 1000}, headers=admin).json()
    assert len(page["events"]) == 2 and page["has_more"] is True


def test_health_and_ready(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200 and ready.json()["status"] == "ready"
