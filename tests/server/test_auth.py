"""Every /v1 route × every scope × another project's key, keys hashed, revocation at once."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from starlette.testclient import TestClient
from tests import factories as f
from tests.server.conftest import OTHER, PROJECT, KeyMaker, auth

from preflog.server.keys import KeyStore, create_key, parse_token, revoke_key

Call = Callable[[TestClient, dict[str, str], dict[str, Any]], Any]


def _strip(event: dict[str, Any]) -> dict[str, Any]:
    return dict(event, project=PROJECT)


def _write(path: str, build: Callable[[dict[str, Any]], dict[str, Any]]) -> Call:
    return lambda c, h, ctx: c.post(path, json=[_strip(build(ctx))], headers=h)


ROUTES: dict[str, Call] = {
    "POST /v1/events inference": _write("/v1/events", lambda ctx: f.inference()),
    "POST /v1/events erasure": _write("/v1/events", lambda ctx: f.erasure(request_id=ctx["request_id"])),
    "POST /v1/inferences": _write("/v1/inferences", lambda ctx: f.inference()),
    "POST /v1/preferences": _write("/v1/preferences", lambda ctx: f.preference(ctx["request_id"])),
    "POST /v1/scores": _write("/v1/scores", lambda ctx: f.score(ctx["request_id"])),
    "POST /v1/signals": _write("/v1/signals", lambda ctx: f.signal(ctx["request_id"])),
    "POST /v1/retractions": _write(
        "/v1/retractions", lambda ctx: f.retraction(ctx["request_id"], ctx["pref_id"])
    ),
    "GET /v1/events": lambda c, h, ctx: c.get("/v1/events", headers=h),
    "GET /v1/requests/{id}": lambda c, h, ctx: c.get(f"/v1/requests/{ctx['request_id']}", headers=h),
    "GET /v1/keys": lambda c, h, ctx: c.get("/v1/keys", headers=h),
    "POST /v1/keys": lambda c, h, ctx: c.post("/v1/keys", json={"scope": "read"}, headers=h),
    "DELETE /v1/keys/{id}": lambda c, h, ctx: c.delete(f"/v1/keys/{ctx['victim_key_id']}", headers=h),
    "GET /v1/analytics/leaderboard": lambda c, h, ctx: c.get("/v1/analytics/leaderboard", headers=h),
    "GET /v1/analytics/matrix": lambda c, h, ctx: c.get("/v1/analytics/matrix", headers=h),
    "GET /v1/analytics/ab/{a}/{b}": lambda c, h, ctx: c.get("/v1/analytics/ab/model-a/model-b", headers=h),
    "GET /v1/analytics/report": lambda c, h, ctx: c.get("/v1/analytics/report", headers=h),
    "GET /v1/analytics/judges": lambda c, h, ctx: c.get("/v1/analytics/judges", headers=h),
    "GET /v1/audit": lambda c, h, ctx: c.get("/v1/audit", headers=h),
}

# Expected status per route for: ingest, read, annotate, admin (all of PROJECT).
# 422 on a write = the request was authorized but every event was refused for its type.
EXPECTED: dict[str, tuple[int, int, int, int]] = {
    "POST /v1/events inference": (200, 403, 422, 200),
    "POST /v1/events erasure": (422, 403, 422, 200),
    "POST /v1/inferences": (200, 403, 422, 200),
    "POST /v1/preferences": (200, 403, 200, 200),
    "POST /v1/scores": (200, 403, 422, 200),
    "POST /v1/signals": (200, 403, 422, 200),
    "POST /v1/retractions": (200, 403, 200, 200),
    "GET /v1/events": (403, 200, 200, 200),
    "GET /v1/requests/{id}": (403, 200, 200, 200),
    "GET /v1/keys": (403, 403, 403, 200),
    "POST /v1/keys": (403, 403, 403, 201),
    "DELETE /v1/keys/{id}": (403, 403, 403, 200),
    "GET /v1/analytics/leaderboard": (403, 200, 200, 200),
    "GET /v1/analytics/matrix": (403, 200, 200, 200),
    "GET /v1/analytics/ab/{a}/{b}": (403, 200, 200, 200),
    "GET /v1/analytics/report": (403, 200, 200, 200),
    "GET /v1/analytics/judges": (403, 200, 200, 200),
    "GET /v1/audit": (403, 403, 403, 200),
}
SCOPES = ("ingest", "read", "annotate", "admin")


@pytest.fixture
def context(client: TestClient, make_key: KeyMaker, keys: KeyStore) -> dict[str, Any]:
    inf = f.inference()
    pref = f.preference(inf["request_id"])
    seed = client.post("/v1/events", json=[inf, pref], headers=auth(make_key("admin")))
    assert seed.status_code == 200
    _, victim = create_key(keys, project=PROJECT, scope="read")
    return {"request_id": inf["request_id"], "pref_id": pref["event_id"], "victim_key_id": victim.key_id}


@pytest.mark.parametrize("route", list(ROUTES))
@pytest.mark.parametrize("scope", SCOPES)
def test_route_by_scope(
    route: str, scope: str, client: TestClient, make_key: KeyMaker, context: dict[str, Any]
) -> None:
    response = ROUTES[route](client, auth(make_key(scope)), context)
    expected = EXPECTED[route][SCOPES.index(scope)]
    assert response.status_code == expected, response.text
    body = response.json()
    if expected == 403:
        assert body["error"] == "forbidden"
    if expected == 422 and route.startswith("POST /v1/") and "keys" not in route:
        assert body["results"][0]["field"] == "type"
        assert f"scope {scope!r}" in body["results"][0]["reason"]


@pytest.mark.parametrize("route", list(ROUTES))
@pytest.mark.parametrize("credentials", ["none", "garbage", "unknown id", "wrong secret", "basic"])
def test_route_without_a_valid_key_is_401(
    route: str, credentials: str, client: TestClient, make_key: KeyMaker, context: dict[str, Any]
) -> None:
    token = make_key("admin")
    key_id, secret = parse_token(token) or ("", "")
    headers = {
        "none": {},
        "garbage": auth("hello"),
        "unknown id": auth(f"pfl_000000000000_{secret}"),
        "wrong secret": auth(f"pfl_{key_id}_{'A' * len(secret)}"),
        "basic": {"Authorization": f"Basic {token}"},
    }[credentials]
    response = ROUTES[route](client, headers, context)
    assert response.status_code == 401
    assert response.json()["error"] == "unauthorized"
    assert response.headers["www-authenticate"].startswith("Bearer")


@pytest.mark.parametrize("route", list(ROUTES))
def test_another_projects_admin_key_sees_and_changes_nothing(
    route: str, client: TestClient, make_key: KeyMaker, context: dict[str, Any], store: Any
) -> None:
    before = store.last_position(project=PROJECT)
    response = ROUTES[route](client, auth(make_key("admin", project=OTHER)), context)
    assert store.last_position(project=PROJECT) == before
    if route.startswith("POST /v1/keys"):
        assert response.status_code == 201 and response.json()["project"] == OTHER
    elif route.startswith("POST"):
        assert response.status_code == 422
        result = response.json()["results"][0]
        assert result["status"] == "rejected" and result["field"] == "project"
    elif route == "GET /v1/events":
        assert response.status_code == 200 and response.json()["events"] == []
    elif route == "GET /v1/keys":
        assert all(k["project"] == OTHER for k in response.json()["keys"])
    elif route == "GET /v1/audit":
        assert response.status_code == 200 and response.json()["entries"] == []
    elif route == "GET /v1/analytics/ab/{a}/{b}":  # the models were judged in PROJECT only
        assert response.status_code == 422 and "unknown model" in response.text
    elif route.startswith("GET /v1/analytics"):
        assert response.status_code == 200, response.text
        body = response.json()
        assert body.get("rows", []) == [] and body.get("models", []) == []
        assert body.get("volume", {"judgments": 0})["judgments"] == 0
    else:  # the request and the key of PROJECT do not exist for OTHER
        assert response.status_code == 404, response.text


def test_events_without_project_take_the_keys_project(
    client: TestClient, make_key: KeyMaker, store: Any
) -> None:
    event = f.inference()
    response = client.post("/v1/events", json=[event], headers=auth(make_key("ingest", project=OTHER)))
    assert response.status_code == 200
    assert store.get_event(event["event_id"], project=OTHER).event["project"] == OTHER
    assert store.get_event(event["event_id"], project=PROJECT) is None


def test_revocation_is_effective_at_once(client: TestClient, keys: KeyStore, make_key: KeyMaker) -> None:
    token, key = create_key(keys, project=PROJECT, scope="read")
    assert client.get("/v1/events", headers=auth(token)).status_code == 200
    revoke_key(keys, key.key_id)
    assert client.get("/v1/events", headers=auth(token)).status_code == 401
    other, other_key = create_key(keys, project=PROJECT, scope="read")
    admin = auth(make_key("admin"))
    assert client.delete(f"/v1/keys/{other_key.key_id}", headers=admin).json()["revoked_at"]
    assert client.get("/v1/events", headers=auth(other)).status_code == 401


def test_keys_are_stored_hashed(client: TestClient, keys: KeyStore, make_key: KeyMaker) -> None:
    response = client.post(
        "/v1/keys", json={"scope": "ingest", "name": "svc"}, headers=auth(make_key("admin"))
    )
    created = response.json()
    token = created.pop("key")
    key_id, secret = parse_token(token) or ("", "")
    stored = keys.get_key(key_id)
    assert stored is not None and secret not in json.dumps(stored.__dict__)
    assert stored.secret_hash != secret and len(stored.salt) == 32
    listed = client.get("/v1/keys", headers=auth(make_key("admin"))).json()["keys"]
    assert created in listed and all("key" not in k and "secret_hash" not in k for k in listed)
    bad = client.post("/v1/keys", json={"scope": "root"}, headers=auth(make_key("admin")))
    assert bad.status_code == 422 and bad.json()["error"] == "invalid_request"
