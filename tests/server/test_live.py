"""The real service: ``preflog serve`` (uvicorn) on loopback, a real SQLite file or PostgreSQL
schema, httpx."""

from __future__ import annotations

import gzip
import json
import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from tests import factories as f
from tests.server.live import LiveServer, cli, start_server

pytestmark = pytest.mark.slow


@pytest.fixture
def db(db_url: str) -> str:
    return db_url


@pytest.fixture
def server(db: str) -> Iterator[LiveServer]:
    live = start_server(db)
    yield live
    live.stop()


def _key(db: str, scope: str, project: str = "p1") -> str:
    return cli(db, "keys", "create", "--project", project, "--scope", scope).strip()


def test_ingest_read_and_revoke_over_real_http(db: str, server: LiveServer) -> None:
    ingest, reader = _key(db, "ingest"), _key(db, "read")
    inf = f.inference()
    batch = [inf, f.preference(inf["request_id"]), f.inference(outputs=("bad\x00", "x")), inf]
    with httpx.Client(base_url=server.url, timeout=10) as client:
        body = gzip.compress(json.dumps(batch).encode())
        headers = {
            "Authorization": f"Bearer {ingest}",
            "Content-Encoding": "gzip",
            "Content-Type": "application/json",
        }
        response = client.post("/v1/events", content=body, headers=headers)
        assert response.status_code == 207
        assert response.json()["counts"] == {"stored": 2, "duplicate": 1, "conflict": 0, "rejected": 1}
        ndjson = b"\n".join([json.dumps(f.signal(inf["request_id"])).encode(), b"{oops"]) + b"\n"
        headers = {"Authorization": f"Bearer {ingest}", "Content-Type": "application/x-ndjson"}
        response = client.post("/v1/events", content=ndjson, headers=headers)
        assert [r["status"] for r in response.json()["results"]] == ["stored", "rejected"]
        read = {"Authorization": f"Bearer {reader}"}
        view = client.get(f"/v1/requests/{inf['request_id']}", headers=read).json()
        assert view["inference"]["event_id"] == inf["event_id"] and len(view["signals"]) == 1
        assert client.get("/v1/events", headers={"Authorization": f"Bearer {ingest}"}).status_code == 403
        assert len(client.get("/v1/events", headers=read).json()["events"]) == 3
        # Revoked by another process (the CLI): the running server refuses the key on the next request.
        key_id = reader.split("_")[1]
        assert "revoked" in cli(db, "keys", "revoke", key_id)
        assert client.get("/v1/events", headers=read).status_code == 401
        listed = json.loads(cli(db, "keys", "list", "--format", "json"))
        assert {k["key_id"]: k["revoked_at"] is not None for k in listed}[key_id] is True
        metrics = client.get("/metrics").text
        assert 'preflog_events_total{type="inference",outcome="stored"} 1' in metrics
        assert client.get("/readyz").json()["status"] == "ready"


def test_serve_demo_prints_the_url_and_a_working_admin_key(tmp_path: Path) -> None:
    db = str(tmp_path / "demo.db")
    live = start_server(db, "--demo", timeout_s=180)
    try:
        match = re.match(
            r"preflog is serving (http://127\.0\.0\.1:\d+)  key: (pfl_\S+)$", live.banner.strip()
        )
        assert match, live.banner
        assert match.group(1) == live.url
        headers = {"Authorization": f"Bearer {match.group(2)}"}
        page = httpx.get(live.url + "/v1/events", params={"limit": 5}, headers=headers, timeout=10).json()
        assert len(page["events"]) == 5 and page["events"][0]["project"] == "demo"
    finally:
        live.stop()


def test_several_workers_share_one_store(db: str, tmp_path: Path) -> None:
    admin = _key(db, "admin")
    decoy = tmp_path / "decoy.db"  # the workers serve --db, whatever PREFLOG_DB says
    live = start_server(db, "--workers", "2", env={"PREFLOG_DB": str(decoy)})
    try:
        headers = {"Authorization": f"Bearer {admin}"}
        with httpx.Client(base_url=live.url, timeout=10) as client:
            for _ in range(20):  # new connections spread over the workers
                events = [f.inference() for _ in range(5)]
                response = client.post("/v1/events", json=events, headers={**headers, "Connection": "close"})
                assert response.status_code == 200
            page = client.get("/v1/events", params={"limit": 1000}, headers=headers).json()
        positions = [e["position"] for e in page["events"]]
        assert len(positions) == 100 and positions == sorted(set(positions))
        assert not decoy.exists()
    finally:
        live.stop()
