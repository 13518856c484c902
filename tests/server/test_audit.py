"""The audit log of admin actions (keys created and revoked, erasures), over the API and the CLI;
keys hashed at rest in the raw table; revocation effective at once in every worker of a real
service; and redaction configured from the environment, with its counts in /metrics. Every test
runs on both stores (SQLite and PostgreSQL)."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from starlette.testclient import TestClient
from tests import factories as f
from tests.server.conftest import OTHER, PROJECT, KeyMaker, auth
from tests.server.live import cli, start_server

from preflog.server.app import create_app, options_from_env
from preflog.server.keys import KeyStore, parse_token
from preflog.store.base import Store
from preflog.store.common import user_key
from preflog.store.sql import SQLStore


def _entries(client: TestClient, headers: dict[str, str], **params: Any) -> list[dict[str, Any]]:
    response = client.get("/v1/audit", params=params, headers=headers)
    assert response.status_code == 200, response.text
    entries: list[dict[str, Any]] = response.json()["entries"]
    return entries


def test_key_creation_and_revocation_are_audited(client: TestClient, make_key: KeyMaker) -> None:
    admin_token = make_key("admin")
    admin = auth(admin_token)
    admin_id = (parse_token(admin_token) or ("", ""))[0]
    created = client.post("/v1/keys", json={"scope": "ingest", "name": "svc"}, headers=admin).json()
    assert client.delete(f"/v1/keys/{created['key_id']}", headers=admin).status_code == 200
    entries = _entries(client, admin)
    assert [(e["action"], e["target"], e["actor"], e["via"]) for e in entries] == [
        ("key.create", created["key_id"], admin_id, "api"),
        ("key.revoke", created["key_id"], admin_id, "api"),
    ]
    assert entries[0]["details"] == {"scope": "ingest", "name": "svc"}
    assert entries[0]["project"] == PROJECT and entries[0]["at"].endswith("Z")
    assert entries[0]["id"] < entries[1]["id"]
    assert [e["action"] for e in _entries(client, admin, action="key.revoke")] == ["key.revoke"]
    assert _entries(client, admin, after=entries[1]["id"]) == []
    assert _entries(client, auth(make_key("admin", project=OTHER))) == []  # another project's log


def test_erasures_are_audited_without_the_user_id(client: TestClient, make_key: KeyMaker) -> None:
    admin = auth(make_key("admin"))
    inf = f.inference(user_id="ann@example.com")
    assert client.post("/v1/events", json=[inf], headers=admin).status_code == 200
    by_request, by_user = f.erasure(request_id=inf["request_id"]), f.erasure(user_id="ann@example.com")
    assert client.post("/v1/events", json=[by_request, by_user], headers=admin).status_code == 200
    assert client.post("/v1/events", json=[by_user], headers=admin).json()["counts"]["duplicate"] == 1
    entries = _entries(client, admin)
    assert [(e["action"], e["target"]) for e in entries] == [
        ("erase.request", inf["request_id"]),
        ("erase.user", "sha256:" + user_key("ann@example.com")),
    ]
    assert entries[1]["details"] == {"event_id": by_user["event_id"]}
    assert "ann@example.com" not in json.dumps(entries)


@pytest.mark.parametrize("scope", ["ingest", "read", "annotate"])
def test_only_admin_keys_read_the_audit_log(client: TestClient, make_key: KeyMaker, scope: str) -> None:
    response = client.get("/v1/audit", headers=auth(make_key(scope)))
    assert response.status_code == 403 and response.json()["error"] == "forbidden"
    assert client.get("/v1/audit").status_code == 401


def test_cli_key_actions_are_audited(db_url: str) -> None:
    db = db_url
    token = cli(db, "keys", "create", "--project", PROJECT, "--scope", "read").strip()
    key_id = (parse_token(token) or ("", ""))[0]
    cli(db, "keys", "revoke", key_id)
    listed = json.loads(cli(db, "audit", "list", "--project", PROJECT, "--format", "json"))
    assert [(e["action"], e["target"], e["via"]) for e in listed] == [
        ("key.create", key_id, "cli"),
        ("key.revoke", key_id, "cli"),
    ]
    assert listed[0]["actor"].startswith("cli:")
    table = cli(db, "audit", "list")
    assert "key.create" in table and "key.revoke" in table


def test_keys_are_hashed_at_rest_in_the_raw_table(
    client: TestClient, make_key: KeyMaker, store: Store
) -> None:
    created = client.post("/v1/keys", json={"scope": "ingest"}, headers=auth(make_key("admin"))).json()
    key_id, secret = parse_token(created["key"]) or ("", "")
    assert isinstance(store, SQLStore)
    with store.connection("test") as tx:
        rows = [tuple(r) for r in tx.all("SELECT * FROM api_keys")]
    raw = json.dumps(rows)
    assert key_id in raw and secret not in raw and created["key"] not in raw
    row = next(r for r in rows if r[0] == key_id)
    assert all(secret not in str(cell) for cell in row)


@pytest.mark.slow
def test_revocation_is_effective_at_once_in_every_worker(db_url: str) -> None:
    db = db_url
    admin = cli(db, "keys", "create", "--project", PROJECT, "--scope", "admin").strip()
    reader = cli(db, "keys", "create", "--project", PROJECT, "--scope", "read").strip()
    live = start_server(db, "--workers", "2")
    try:
        fresh = {"Authorization": f"Bearer {reader}", "Connection": "close"}  # spread over workers
        with httpx.Client(base_url=live.url, timeout=10) as client:
            assert all(client.get("/v1/events", headers=fresh).status_code == 200 for _ in range(20))
            key_id = (parse_token(reader) or ("", ""))[0]
            revoked = client.delete(f"/v1/keys/{key_id}", headers={"Authorization": f"Bearer {admin}"})
            assert revoked.status_code == 200
            assert {client.get("/v1/events", headers=fresh).status_code for _ in range(40)} == {401}
    finally:
        live.stop()


def test_redaction_from_the_environment_and_its_metrics(
    store: Store, keys: KeyStore, make_key: KeyMaker, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PREFLOG_REDACT", "email,secrets")
    with TestClient(create_app(store, key_store=keys, **options_from_env())) as client:
        inf = f.inference(
            prompt="ann@example.com asks", outputs=("token sk-abcdefghijklmnopqrstuvwxyz", "no")
        )
        assert client.post("/v1/events", json=[inf], headers=auth(make_key("ingest"))).status_code == 200
        view = client.get(f"/v1/requests/{inf['request_id']}", headers=auth(make_key("read"))).json()
        assert view["inference"]["prompt"] == "[REDACTED:email] asks"
        metrics = client.get("/metrics").text
    assert 'preflog_redactions_total{kind="email"} 1' in metrics
    assert 'preflog_redactions_total{kind="secret"} 1' in metrics
