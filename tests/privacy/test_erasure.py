"""Erasure end to end, on a real SQLite file: by the API and by ``preflog erase`` (a real process),
for a request and for a user. Afterwards the content is gone from the raw store, from
``GET /v1/requests/...``, from every later compile, and the manifests of earlier compiles that held
it are listed. The audit log has each erasure."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from starlette.testclient import TestClient

from preflog.compile import compile_dataset
from preflog.erasure import manifests_holding
from preflog.server.app import create_app
from preflog.server.keys import create_key, open_key_store
from preflog.store import open_store
from tests import factories as f
from tests.server.live import cli

PROJECT = "p1"
SECRET_TEXT = "Ann's private question about her diagnosis"


def _seed(db: Path) -> tuple[dict[str, object], dict[str, object], dict[str, object]]:
    """Three requests with a preference each: two of user ann, one of bob."""
    store = open_store(str(db))
    made = []
    for user, prompt in (
        ("ann", SECRET_TEXT),
        ("ann", "Ann asks again, privately"),
        ("bob", "Bob's question"),
    ):
        inf = f.inference(
            prompt=prompt, user_id=user, outputs=(f"answer A to {prompt}", f"answer B to {prompt}")
        )
        store.append([inf, f.preference(str(inf["request_id"]))], project=PROJECT)
        made.append(inf)
    store.close()
    return made[0], made[1], made[2]


def _everything(db: Path, out: Path) -> str:
    raw = "\n".join(str(r) for r in sqlite3.connect(db).execute("SELECT * FROM events").fetchall())
    files = (
        "\n".join(p.read_text(errors="replace") for p in out.rglob("*") if p.is_file())
        if out.exists()
        else ""
    )
    return raw + files


def test_erase_a_user_with_the_cli(tmp_path: Path) -> None:
    db = tmp_path / "events.db"
    ann1, ann2, _ = _seed(db)
    with open_store(str(db)) as store:
        compile_dataset(store, project=PROJECT, out_dir=tmp_path / "before")
        assert SECRET_TEXT in _everything(db, tmp_path / "before")
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "manifest.json").write_text(
        json.dumps({"project": "p2", "watermark": {"position": 99}})
    )

    out = cli(
        str(db),
        "--project",
        PROJECT,
        "erase",
        "--user",
        "ann",
        "--manifests",
        str(tmp_path),
        "--format",
        "json",
    )
    report = json.loads(out)
    assert report["status"] == "stored" and report["kind"] == "user"
    assert sorted(report["request_ids"]) == sorted([ann1["request_id"], ann2["request_id"]])
    assert report["events_blanked"] == 4
    assert [Path(m["path"]).parent.name for m in report["manifests"]] == ["before"]  # not p2's

    with open_store(str(db)) as store:
        compile_dataset(store, project=PROJECT, out_dir=tmp_path / "after")
    after = _everything(db, tmp_path / "after")
    assert "Ann asks again" not in after and SECRET_TEXT not in after.split("before")[-1]
    # The erasure event itself keeps the user id it names (the store needs it); every other row is clean.
    rows = sqlite3.connect(db).execute("SELECT body, user_id FROM events WHERE type != 'erasure'").fetchall()
    raw = "\n".join(str(r) for r in rows)
    assert SECRET_TEXT not in raw and "Ann asks again" not in raw and "'ann'" not in raw
    assert "Bob" in raw  # only ann's content went
    audit = json.loads(cli(str(db), "audit", "list", "--format", "json"))
    assert [(e["action"], e["via"]) for e in audit] == [("erase.user", "cli")]
    assert "ann" not in audit[0]["target"]
    again = cli(str(db), "--project", PROJECT, "erase", "--user", "ann")  # a new request: harmless
    assert "0 request(s), 0 event(s) blanked" in again
    assert len(json.loads(cli(str(db), "audit", "list", "--format", "json"))) == 2


def test_erase_a_request_with_the_api(tmp_path: Path) -> None:
    db = tmp_path / "events.db"
    ann1, _, _ = _seed(db)
    store = open_store(str(db))
    keys = open_key_store(store)
    token, _ = create_key(keys, project=PROJECT, scope="admin")
    headers = {"Authorization": f"Bearer {token}"}
    before = compile_dataset(store, project=PROJECT, out_dir=tmp_path / "v1")
    with TestClient(create_app(store, key_store=keys)) as client:
        erasure = f.erasure(request_id=str(ann1["request_id"]))
        assert client.post("/v1/events", json=[erasure], headers=headers).status_code == 200
        view = client.get(f"/v1/requests/{ann1['request_id']}", headers=headers).json()
        assert view["erased"] is True and SECRET_TEXT not in json.dumps(view)
        assert "prompt" not in view["inference"] and all(
            "output" not in c for c in view["inference"]["candidates"]
        )
        page = client.get("/v1/events", params={"limit": 1000}, headers=headers).json()
        assert SECRET_TEXT not in json.dumps(page)
        audit = client.get("/v1/audit", headers=headers).json()["entries"]
        assert [(e["action"], e["target"]) for e in audit] == [("erase.request", ann1["request_id"])]
    # Later compiles never emit it; the earlier compile's manifest is listed by its watermark.
    compile_dataset(store, project=PROJECT, out_dir=tmp_path / "v2")
    assert SECRET_TEXT not in _everything(db, tmp_path / "v2").split("v2")[-1]
    hits = manifests_holding(store, PROJECT, [str(ann1["request_id"])], [tmp_path])
    assert [Path(h.path).parent.name for h in hits] == ["v1"]  # v2 was compiled after the erasure
    assert hits[0].reason == "watermark" and hits[0].watermark == before.watermark
    keys.close()
    store.close()
