"""Browser feedback through the HTTP API — the real app in process over a real SQLite file: tokens,
thumbs, picks, comments, changed votes, refusals (nothing stored), CORS, rate limits, the SDK's
``client.feedback_token``, and a compile of what end users said."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from preflog.compile import compile_dataset
from preflog.formats.base import read_rows_file
from preflog.server.app import create_app
from preflog.server.feedback_origins import MemoryOriginStore
from preflog.server.feedback_settings import FeedbackSettings
from preflog.server.keys import create_key, open_key_store, revoke_key
from preflog.store import Store

PROJECT = "shop"
PAGE = "http://127.0.0.1:9001"
REQUEST = "req-1"


@dataclass
class Service:
    client: TestClient
    store: Store
    keys: dict[str, str]
    origins: MemoryOriginStore

    def token(self, key: str = "ingest", **body: Any) -> str:
        answer = self.client.post(
            "/v1/feedback-tokens", json={"request_id": REQUEST, **body}, headers=self.auth(key)
        )
        assert answer.status_code == 201, answer.text
        return str(answer.json()["token"])

    def auth(self, key: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.keys[key]}"}

    def send(self, token: str, origin: str | None = PAGE, **body: Any) -> Any:
        headers = {"Authorization": f"Bearer {token}"}
        if origin is not None:
            headers["Origin"] = origin
        return self.client.post("/v1/feedback", json=body, headers=headers)

    def judgments(self) -> list[dict[str, Any]]:
        types = ["preference", "signal", "retraction"]
        return [e.event for e in self.store.iter_events(project=PROJECT, types=types)]


@pytest.fixture
def service(store: Store) -> Iterator[Service]:
    keys = open_key_store(store)
    made = {
        "ingest": create_key(keys, project=PROJECT, scope="ingest")[0],
        "admin": create_key(keys, project=PROJECT, scope="admin")[0],
        "read": create_key(keys, project=PROJECT, scope="read")[0],
        "other": create_key(keys, project="blog", scope="ingest")[0],
    }
    origins = MemoryOriginStore()
    origins.add(PROJECT, PAGE)
    origins.add("blog", "http://127.0.0.1:9002")
    app = create_app(store, origin_store=origins, feedback=FeedbackSettings(rate=50, burst=50))
    store.append([_inference(REQUEST)], project=PROJECT)
    with TestClient(app) as client:
        yield Service(client, store, made, origins)


def _inference(request_id: str) -> dict[str, Any]:
    return {
        "event_id": "0f8fad5b-d9cb-469f-a165-70867728950e",
        "type": "inference",
        "request_id": request_id,
        "occurred_at": "2026-11-26T10:00:00Z",
        "prompt": "Which jacket for rain?",
        "candidates": [
            {"candidate_id": "c0", "output": "The waxed one.", "model": {"name": "m-small"}},
            {"candidate_id": "c1", "output": "The Gore-Tex shell.", "model": {"name": "m-large"}},
        ],
    }


def test_minting_needs_an_ingest_or_admin_key(service: Service) -> None:
    answer = service.client.post(
        "/v1/feedback-tokens",
        json={"request_id": REQUEST, "kinds": ["thumbs"], "ttl": 60, "user_id": "u-7"},
        headers=service.auth("admin"),
    )
    assert answer.status_code == 201
    body = answer.json()
    assert (body["request_id"], body["kinds"], body["user_id"]) == (REQUEST, ["thumbs"], "u-7")
    payload = json.loads(base64.urlsafe_b64decode(body["token"].split(".")[1] + "=="))
    assert (payload["p"], payload["r"], payload["kinds"], payload["u"]) == (
        PROJECT,
        REQUEST,
        ["thumbs"],
        "u-7",
    )
    refused = service.client.post(
        "/v1/feedback-tokens", json={"request_id": REQUEST}, headers=service.auth("read")
    )
    assert refused.status_code == 403
    for bad in (
        {"request_id": REQUEST, "kinds": ["stars"]},
        {"request_id": REQUEST, "ttl": 0},
        {"kinds": []},
    ):
        answer = service.client.post("/v1/feedback-tokens", json=bad, headers=service.auth("ingest"))
        assert answer.status_code == 422, bad
        assert answer.json()["details"], answer.text


def test_thumbs_repeated_changed_and_back(service: Service) -> None:
    token = service.token(user_id="u-7")
    first = service.send(token, action="thumbs", candidate_id="c0", value="up")
    assert first.status_code == 201 and first.json()["status"] == "stored"
    assert first.headers["access-control-allow-origin"] == PAGE
    again = service.send(token, action="thumbs", candidate_id="c0", value="up")
    assert again.status_code == 200 and again.json() == {
        "status": "unchanged",
        "event_id": first.json()["event_id"],
    }
    assert len(service.judgments()) == 1  # a repeated click stores nothing

    changed = service.send(token, action="thumbs", candidate_id="c0", value="down").json()
    assert changed["status"] == "changed" and changed["retracted"] == first.json()["event_id"]
    back = service.send(token, action="thumbs", candidate_id="c0", value="up").json()
    assert back["status"] == "changed" and back["event_id"] != first.json()["event_id"]
    events = service.judgments()
    signals = [e for e in events if e["type"] == "signal"]
    assert [s["signal"] for s in signals] == ["thumbs_up", "thumbs_down", "thumbs_up"]
    assert all(s["user_id"] == "u-7" and s["candidate_id"] == "c0" for s in signals)
    assert [e["retracts"] for e in events if e["type"] == "retraction"] == [
        signals[0]["event_id"],
        signals[1]["event_id"],
    ]
    view = service.store.get_request(REQUEST, project=PROJECT)
    live = [s for s in view.signals if s.event_id not in view.retracted]
    assert [s.event["signal"] for s in live] == ["thumbs_up"]
    assert live[0].event["metadata"]["feedback"]["origin"] == PAGE


def test_a_pick_with_its_presented_order_and_a_comment(service: Service) -> None:
    token = service.token(user_id="u-9")
    assert service.send(token, action="comment", text="hm").status_code == 409  # nothing to comment on yet
    pick = service.send(token, action="pick", chosen="c1", presented=["c1", "c0"], request_id=REQUEST)
    assert pick.status_code == 201
    (vote,) = service.judgments()
    assert (vote["chosen"], vote["rejected"], vote["presented"]) == ("c1", "c0", ["c1", "c0"])
    assert vote["source"] == {"kind": "end_user", "id": "u-9"}
    commented = service.send(token, action="comment", text="The shell breathes better.").json()
    assert commented["status"] == "changed"
    latest = service.judgments()[-1]
    assert latest["rationale"] == "The shell breathes better." and latest["chosen"] == "c1"
    # the same pick again keeps the comment: nothing new
    assert (
        service.send(token, action="pick", chosen="c1", presented=["c1", "c0"]).json()["status"]
        == "unchanged"
    )
    changed = service.send(token, action="pick", chosen="c0", presented=["c1", "c0"]).json()
    assert changed["status"] == "changed"
    view = service.store.get_request(REQUEST, project=PROJECT)
    live = [p.event for p in view.preferences if p.event_id not in view.retracted]
    assert [(p["chosen"], p.get("rationale")) for p in live] == [("c0", None)]


def test_a_pick_among_three_is_a_ranking(service: Service) -> None:
    service.store.append(
        [
            dict(
                _inference("req-3"),
                event_id="6c1d7a3e-8f2b-4d9a-b0c4-5e6f7a8b9c0d",
                candidates=[
                    *_inference("x")["candidates"],
                    {"candidate_id": "c2", "output": "A poncho.", "model": {"name": "m"}},
                ],
            )
        ],
        project=PROJECT,
    )
    answer = service.client.post(
        "/v1/feedback-tokens", json={"request_id": "req-3"}, headers=service.auth("ingest")
    )
    token = answer.json()["token"]
    assert service.send(token, action="pick", chosen="c2", presented=["c0", "c2", "c1"]).status_code == 201
    (vote,) = service.judgments()
    assert vote["ranking"] == ["c2", ["c0", "c1"]] and vote["presented"] == ["c0", "c2", "c1"]


def _forged(token: str, **changes: Any) -> str:
    head, payload, signature = token.split(".")
    data = json.loads(base64.urlsafe_b64decode(payload + "=="))
    data.update(changes)
    raw = base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()
    return f"{head}.{raw}.{signature}"


def test_refused_tokens_store_nothing(service: Service) -> None:
    token = service.token()
    cases = {
        "forged request": (_forged(token, r="req-other"), 401, "signature"),
        "forged kinds": (_forged(token, kinds=["thumbs", "pick", "comment", "x"]), 401, "signature"),
        "garbage": ("pft1.nope", 401, "not a feedback token"),
        "an API key": (service.keys["ingest"], 401, "not a feedback token"),
        "other request": (token, 403, "another request"),
        "other project": (service.token("other"), 403, "origin"),
    }
    for name, (bad, status, words) in cases.items():
        body: dict[str, Any] = {"action": "thumbs", "candidate_id": "c0", "value": "up"}
        if name == "other request":
            body["request_id"] = "req-2"
        answer = service.send(bad, **body)
        assert answer.status_code == status, (name, answer.text)
        assert words in answer.json()["message"], (name, answer.text)
    blog = service.token("other")
    mismatch = service.send(
        blog, origin="http://127.0.0.1:9002", action="thumbs", candidate_id="c0", value="up", project=PROJECT
    )
    assert mismatch.status_code == 403 and "another project" in mismatch.json()["message"]
    no_origin_header = service.client.post("/v1/feedback", json={"action": "thumbs"})
    assert no_origin_header.status_code == 401
    assert service.judgments() == []


def test_expired_and_revoked_tokens_are_refused(service: Service) -> None:
    expired = service.token(ttl=1)
    time.sleep(1.1)
    answer = service.send(expired, action="thumbs", candidate_id="c0", value="up")
    assert answer.status_code == 401 and "expired" in answer.json()["message"]
    keys = open_key_store(service.store)
    key_id = service.keys["ingest"].split("_")[1]
    token = service.token()
    revoke_key(keys, key_id)
    answer = service.send(token, action="thumbs", candidate_id="c0", value="up")
    assert answer.status_code == 401 and "revoked" in answer.json()["message"]
    assert service.judgments() == []


def test_what_the_token_does_not_allow(service: Service) -> None:
    thumbs_only = service.token(kinds=["thumbs"])
    assert service.send(thumbs_only, action="pick", chosen="c0", presented=["c0", "c1"]).status_code == 403
    token = service.token()
    bad = [
        ({"action": "thumbs", "candidate_id": "c9", "value": "up"}, "candidate_id"),
        ({"action": "thumbs", "candidate_id": "c0", "value": "meh"}, "value"),
        ({"action": "pick", "chosen": "c0", "presented": ["c0"]}, "presented"),
        ({"action": "pick", "chosen": "c0", "presented": ["c1", "c9"]}, "presented"),
        ({"action": "stars", "value": 5}, "action"),
        ({"action": "thumbs", "candidate_id": "c0", "value": "up", "extra": 1}, "extra"),
    ]
    for body, field in bad:
        answer = service.send(token, **body)
        assert answer.status_code == 422, body
        assert answer.json()["details"][0]["field"] == field, answer.text
        assert answer.headers["access-control-allow-origin"] == PAGE  # the page can read why
    assert service.judgments() == []


def test_cors_preflight(service: Service) -> None:
    ask = {
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization,content-type",
    }
    listed = service.client.options("/v1/feedback", headers={"Origin": PAGE, **ask})
    assert listed.status_code == 204
    assert listed.headers["access-control-allow-origin"] == PAGE
    assert "POST" in listed.headers["access-control-allow-methods"]
    assert "authorization" in listed.headers["access-control-allow-headers"]
    unlisted = service.client.options("/v1/feedback", headers={"Origin": "http://127.0.0.1:9999", **ask})
    assert unlisted.status_code == 403 and "access-control-allow-origin" not in unlisted.headers
    answer = service.send(
        service.token(), origin="http://127.0.0.1:9999", action="thumbs", candidate_id="c0", value="up"
    )
    assert answer.status_code == 403 and "access-control-allow-origin" not in answer.headers
    assert service.judgments() == []


def test_each_token_is_rate_limited(store: Store) -> None:
    keys = open_key_store(store)
    key = create_key(keys, project=PROJECT, scope="ingest")[0]
    app = create_app(store, origin_store=MemoryOriginStore(), feedback=FeedbackSettings(rate=0.01, burst=2))
    with TestClient(app) as client:
        tokens = [
            client.post(
                "/v1/feedback-tokens",
                json={"request_id": REQUEST},
                headers={"Authorization": f"Bearer {key}"},
            ).json()["token"]
            for _ in range(2)
        ]
        body = {"action": "thumbs", "candidate_id": "c0", "value": "up"}
        statuses = [
            client.post(
                "/v1/feedback", json=body, headers={"Authorization": f"Bearer {tokens[0]}"}
            ).status_code
            for _ in range(3)
        ]
        assert statuses == [201, 200, 429]
        other = client.post("/v1/feedback", json=body, headers={"Authorization": f"Bearer {tokens[1]}"})
        assert other.status_code == 201  # its own bucket (and, naming no user, a voter of its own)


def test_the_origins_api_and_the_script(service: Service) -> None:
    admin = service.auth("admin")
    assert service.client.get("/v1/feedback-origins", headers=admin).json() == {"origins": [PAGE]}
    added = service.client.post(
        "/v1/feedback-origins", json={"origin": "HTTPS://Shop.Example:443/"}, headers=admin
    )
    assert added.status_code == 201 and added.json() == {"origin": "https://shop.example", "added": True}
    assert service.origins.allowed("https://shop.example", PROJECT)
    bad = service.client.post("/v1/feedback-origins", json={"origin": "shop.example/path"}, headers=admin)
    assert bad.status_code == 422
    gone = service.client.delete(
        "/v1/feedback-origins", params={"origin": "https://shop.example"}, headers=admin
    )
    assert gone.json() == {"origin": "https://shop.example", "removed": True}
    assert service.client.get("/v1/feedback-origins", headers=service.auth("ingest")).status_code == 403
    script = service.client.get("/static/preflog-feedback.js")
    assert script.status_code == 200 and script.headers["content-type"].startswith("text/javascript")
    assert "PreflogFeedback" in script.text and "innerHTML" not in script.text


def test_end_user_judgments_compile(service: Service, tmp_path: Path) -> None:
    token = service.token(user_id="u-1")
    service.send(token, action="pick", chosen="c1", presented=["c0", "c1"])
    service.send(token, action="thumbs", candidate_id="c1", value="up")
    compile_dataset(service.store, project=PROJECT, out_dir=tmp_path / "trl", format="trl")
    (row,) = read_rows_file(tmp_path / "trl" / "train.jsonl")
    assert (row["chosen"], row["rejected"]) == ("The Gore-Tex shell.", "The waxed one.")


def test_the_sdk_mints_tokens_through_its_service(service: Service) -> None:
    from preflog import Client
    from preflog.errors import ConfigError, ValidationError
    from preflog.sdk.asgi import ASGIWire
    from preflog.sdk.http import HTTPTransport

    transport = HTTPTransport(
        "http://preflog.test",
        api_key=service.keys["ingest"],
        project=PROJECT,
        spool=False,
        wire=ASGIWire(service.client.app),
    )
    with Client(transport=transport, project=PROJECT) as client:
        token = client.feedback_token(REQUEST, kinds=["thumbs"], ttl=600, user_id="u-5")
        answer = service.send(token, action="thumbs", candidate_id="c1", value="down")
        assert answer.status_code == 201
        with pytest.raises(ValidationError) as bad:
            client.feedback_token(REQUEST, kinds=["stars"])
        assert bad.value.field == "kinds"
    local_db = str(Path(service.store.path).with_name("local.db"))  # type: ignore[attr-defined]
    with Client(db=local_db, project=PROJECT) as local, pytest.raises(ConfigError, match="url="):
        local.feedback_token(REQUEST)
    (signal,) = [e for e in service.judgments() if e["type"] == "signal"]
    assert (signal["signal"], signal["user_id"]) == ("thumbs_down", "u-5")
