"""``preflog serve`` as ``make run`` uses it (issue #12, item 5), in real processes on loopback."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from preflog.server.keys import parse_token
from tests.server.live import cli, start_server

pytestmark = pytest.mark.usefixtures("needs_store")

PREFLOG = [sys.executable, "-m", "preflog"]


def test_a_busy_port_is_refused_before_anything_is_printed_or_made(tmp_path: Path) -> None:
    db = tmp_path / "demo.db"
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = subprocess.run(
            [*PREFLOG, "--db", str(db), "serve", "--demo", "--host", "127.0.0.1", "--port", str(port)],
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert done.returncode == 2
    assert done.stdout == ""  # no banner, no key
    (line,) = done.stderr.strip().splitlines()
    assert line.startswith(f"preflog: error: --port {port}: cannot listen on 127.0.0.1:{port}")
    assert not db.exists()  # no demo loaded, no key minted


def _demo_key(db: str) -> str:
    live = start_server(db, "--demo")
    try:
        key = live.banner.split("key: ")[1].strip()
        answer = httpx.get(f"{live.url}/v1/events?limit=1", headers={"Authorization": f"Bearer {key}"})
        assert answer.status_code == 200, answer.text  # the printed key works
        return key
    finally:
        live.stop()


@pytest.mark.slow
def test_serve_demo_keeps_one_audited_key_and_prints_it_each_time(tmp_path: Path) -> None:
    db = str(tmp_path / "preflog-demo.db")
    first = _demo_key(db)
    assert _demo_key(db) == first  # the same key on the next run: no new never-expiring admin key
    kept = Path(db + "-demo-key")
    assert kept.stat().st_mode & 0o777 == 0o600
    created = json.loads(cli(db, "audit", "list", "--action", "key.create", "--format", "json"))
    assert [(e["project"], e["details"]["name"], e["via"]) for e in created] == [
        ("demo", "serve --demo", "cli")
    ]
    assert created[0]["target"] == (parse_token(first) or ("", ""))[0]

    cli(db, "keys", "revoke", first)  # a revoked demo key is replaced, and the new one audited
    second = _demo_key(db)
    assert second != first
    actions = [e["action"] for e in json.loads(cli(db, "audit", "list", "--format", "json"))]
    assert actions == ["key.create", "key.revoke", "key.create"]
    listed = json.loads(cli(db, "keys", "list", "--format", "json"))
    assert [k["revoked_at"] is None for k in listed] == [False, True]
