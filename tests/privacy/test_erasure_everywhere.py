"""Erasure reaches everything (#11.6), on both stores: judgments the erased user gave
(``source.id``) are blanked too, and ``erase --rewrite`` rewrites the datasets compiled before —
the erased requests' rows removed, the files matching their new manifest hashes, no erased text left."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from preflog.compile import CompileOptions, compile_dataset
from preflog.erasure import erase
from preflog.events import new_id
from preflog.store import Store
from tests import factories as f
from tests.server.live import cli
from tests.store.conftest import BACKENDS

ANN_PROMPT = "Ann's private question about her diagnosis"
ANN_AGAIN = "Ann asks again, privately"
ANN_RATIONALE = "Ann thinks the second answer is rude"
BOB_PROMPT = "Bob's question about trains"


@pytest.fixture(params=sorted(BACKENDS))
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    opened = BACKENDS[str(request.param)](tmp_path / "store")
    yield opened
    opened.close()


@pytest.fixture
def project() -> str:
    return "e-" + new_id()[:12]


def _seed(store: Store, project: str) -> dict[str, Any]:
    """Ann: two requests (one chat, with thumbs); Bob: two requests, one of which Ann judged."""
    made: dict[str, Any] = {}
    events: list[dict[str, Any]] = []
    for key, user, prompt in (
        ("ann1", "ann", ANN_PROMPT),
        ("ann2", "ann", [{"role": "user", "content": ANN_AGAIN}]),
        ("bob1", "bob", BOB_PROMPT),
        ("bob2", "bob", "Bob asks about buses"),
    ):
        outputs = (f"answer A to {key}", f"answer B to {key}")
        inf = f.inference(prompt=prompt, user_id=user, outputs=outputs, models=("alpha", "beta"))
        made[key] = inf
        events += [inf, f.preference(str(inf["request_id"]), source={"kind": "human", "id": "annotator-1"})]
    judged_by_ann = f.preference(
        str(made["bob2"]["request_id"]),
        "c1",
        "c0",
        rationale=ANN_RATIONALE,
        source={"kind": "end_user", "id": "ann"},
    )
    events += [judged_by_ann, f.signal(str(made["ann1"]["request_id"]), "c0", "thumbs_up", user_id="ann")]
    results = store.append(events, project=project)
    assert {r.status for r in results} == {"stored"}
    made["judged_by_ann"] = judged_by_ann
    return made


def _compile(store: Store, project: str, out: Path, fmt: str = "trl", **options: Any) -> None:
    compile_dataset(store, project=project, out_dir=out, format=fmt, options=CompileOptions(**options))


def _text_of(root: Path) -> str:
    return "\n".join(p.read_text(encoding="utf-8", errors="replace") for p in root.rglob("*") if p.is_file())


def _check_hashes(directory: Path) -> dict[str, Any]:
    """Every file the manifest lists exists with the listed size, rows and SHA-256."""
    manifest = json.loads((directory / "manifest.json").read_text(encoding="utf-8"))
    for entry in manifest["files"]:
        data = (directory / entry["name"]).read_bytes()
        assert hashlib.sha256(data).hexdigest() == entry["sha256"], entry["name"]
        assert len(data) == entry["bytes"], entry["name"]
        if entry["name"].endswith(".jsonl"):
            assert len([line for line in data.splitlines() if line.strip()]) == entry["rows"]
    return manifest


def test_rewrite_removes_the_erased_users_rows_everywhere(store: Store, project: str, tmp_path: Path) -> None:
    pytest.importorskip("pyarrow")
    made = _seed(store, project)
    root = tmp_path / "datasets"
    _compile(store, project, root / "trl", test_fraction=0.5)
    _compile(store, project, root / "parquet", parquet=True)
    _compile(store, project, root / "by-user", group_by="user")
    _compile(store, project, root / "kto", "trl-kto", unpaired_from_pairs=True)
    _compile(store, project, root / "llamafactory", "llamafactory")  # a format with a side file
    assert ANN_PROMPT in _text_of(root / "trl") and ANN_AGAIN in _text_of(root / "kto")
    bob_lines = {
        line for p in (root / "trl").glob("*.jsonl") for line in p.read_bytes().splitlines() if b"Bob" in line
    }
    before = {d.name: json.loads((d / "manifest.json").read_text()) for d in root.iterdir()}

    report = erase(store, project=project, user_id="ann", rewrite=[root])

    assert sorted(Path(r.path).parent.name for r in report.rewritten) == sorted(before)
    text = _text_of(root)
    for secret in (ANN_PROMPT, ANN_AGAIN, "answer A to ann1", "answer B to ann2", "users/ann"):
        assert secret not in text, secret
    assert BOB_PROMPT in text
    for name, old in before.items():
        manifest = _check_hashes(root / name)
        (record,) = manifest["erasures"]
        assert record["event_id"] == report.event_id and record["kind"] == "user"
        assert "ann" not in json.dumps(record)  # the record names no one
        removed = record["rows"]
        assert removed >= sum(record["rows_removed"].values())
        assert removed > 0 and manifest["counts_out"]["items"] == old["counts_out"]["items"] - removed
        assert sum(manifest["counts_out"]["by_split"].values()) == manifest["counts_out"]["items"]
        assert "## Erasures" in (root / name / "README.md").read_text(encoding="utf-8")
    kept = {line for p in (root / "trl").glob("*.jsonl") for line in p.read_bytes().splitlines()}
    assert bob_lines <= kept  # Bob's rows are kept byte for byte
    assert not (root / "by-user" / "users" / "ann").exists()
    assert (root / "by-user" / "users" / "bob").is_dir()
    assert not any("users/ann" in e["name"] for e in _check_hashes(root / "by-user")["files"])
    info = json.loads((root / "llamafactory" / "dataset_info.json").read_text(encoding="utf-8"))
    assert info  # the side file was written again and hashed (checked above)
    assert report.request_ids == sorted([made["ann1"]["request_id"], made["ann2"]["request_id"]])


def test_judgments_the_user_gave_are_blanked_and_stay_blanked(store: Store, project: str) -> None:
    made = _seed(store, project)
    report = erase(store, project=project, user_id="ann")
    judged = store.get_event(made["judged_by_ann"]["event_id"], project=project)
    assert judged is not None and judged.erased
    assert ANN_RATIONALE not in json.dumps(judged.event) and "ann" not in json.dumps(judged.event["source"])
    assert judged.event["source"] == {"kind": "end_user"}  # the kind counts; the person is gone
    assert (judged.event["chosen"], judged.event["rejected"]) == ("c1", "c0")
    bob = store.get_request(str(made["bob2"]["request_id"]), project=project)
    assert bob.inference is not None and not bob.inference.erased  # Bob's request is Bob's
    assert report.events_blanked == 2 * 2 + 1 + 1  # ann's two requests, her thumbs, her judgment
    late = f.preference(
        str(made["bob1"]["request_id"]),
        rationale="Ann again, later",
        source={"kind": "end_user", "id": "ann"},
    )
    (stored,) = store.append([late], project=project)
    assert stored.status == "stored"
    again = store.get_event(late["event_id"], project=project)
    assert again is not None and again.erased and "Ann again" not in json.dumps(again.event)
    everything = store.read(project=project, limit=10_000)
    leaked = [e.event for e in everything if e.type != "erasure" and '"ann"' in json.dumps(e.event)]
    assert leaked == []  # only the erasure event itself names her


def test_request_erasure_drops_the_id_of_the_person_who_judged(store: Store, project: str) -> None:
    made = _seed(store, project)
    erase(store, project=project, request_id=str(made["bob2"]["request_id"]))
    judged = store.get_event(made["judged_by_ann"]["event_id"], project=project)
    assert judged is not None and judged.erased and judged.event["source"] == {"kind": "end_user"}
    annotator = store.get_request(str(made["bob2"]["request_id"]), project=project).preferences[0]
    assert annotator.event["source"]["kind"] == "human" and "id" not in annotator.event["source"]


def test_rewrite_of_a_request_and_of_what_was_erased_before(
    store: Store, project: str, tmp_path: Path
) -> None:
    made = _seed(store, project)
    _compile(store, project, tmp_path / "out")
    first = erase(store, project=project, request_id=str(made["bob1"]["request_id"]), rewrite=[tmp_path])
    assert [r.removed for r in first.rewritten] == [1] and first.texts_unknown == 0
    assert BOB_PROMPT not in _text_of(tmp_path / "out") and ANN_PROMPT in _text_of(tmp_path / "out")
    _check_hashes(tmp_path / "out")
    # Erased again: its texts are gone from the store, so rows could no longer be found (none are
    # left here); the dataset still records the second erasure.
    again = erase(store, project=project, request_id=str(made["bob1"]["request_id"]), rewrite=[tmp_path])
    assert again.texts_unknown == 1 and [r.removed for r in again.rewritten] == [0]
    assert len(_check_hashes(tmp_path / "out")["erasures"]) == 2  # both recorded


def test_cli_erase_rewrite(tmp_path: Path) -> None:
    db = tmp_path / "events.db"
    store = BACKENDS["sqlite"](tmp_path)
    _seed(store, "p")
    _compile(store, "p", tmp_path / "compiled" / "a")
    store.close()
    out = cli(
        str(tmp_path / "events.db"),
        "--project",
        "p",
        "erase",
        "--user",
        "ann",
        "--rewrite",
        str(tmp_path / "compiled"),
    )
    assert "datasets rewritten: 1" in out and "row(s) removed" in out
    assert ANN_PROMPT not in _text_of(tmp_path / "compiled")
    data = json.loads(
        cli(
            str(db),
            "--project",
            "p",
            "erase",
            "--user",
            "bob",
            "--rewrite",
            str(tmp_path / "compiled"),
            "--format",
            "json",
        )
    )
    assert data["rewritten"][0]["removed"] >= 1 and _check_hashes(tmp_path / "compiled" / "a")


def _as_before_the_upgrade(store: Store, backend: str, judgment_id: str, blanked_id: str) -> None:
    """Make the store look as version 3 left it: judgments without the user_id column, a blanked
    judgment that kept the person's id, and migration 4 (and those after it) not applied."""
    from preflog.store.sql import SQLStore

    assert isinstance(store, SQLStore)
    with store.transaction("test") as tx:
        tx.execute("UPDATE events SET user_id = NULL WHERE event_id = ?", (judgment_id,))
        if backend == "sqlite":
            tx.execute(
                "UPDATE events SET body = json_set(body, '$.source.id', 'ann') WHERE event_id = ?",
                (blanked_id,),
            )
            tx.execute("PRAGMA user_version = 3")
        else:
            kept_id = "jsonb_set(body::jsonb, '{source,id}', '\"ann\"')::text"
            tx.execute(f"UPDATE events SET body = {kept_id} WHERE event_id = ?", (blanked_id,))
            tx.execute("DELETE FROM preflog_migrations WHERE version >= 4")  # 4 and the later ones


def _migrate(store: Store, backend: str) -> None:
    from preflog.store import postgres_schema, sqlite_schema

    if backend == "sqlite":
        import sqlite3

        conn = sqlite3.connect(str(store.path), isolation_level=None)  # type: ignore[attr-defined]
        assert sqlite_schema.migrate(conn) == 3
        conn.close()
    else:
        with store.transaction("test") as tx:  # type: ignore[attr-defined]
            assert postgres_schema.migrate(tx.raw) == 3


def test_rows_stored_before_the_upgrade_are_reached(
    store: Store, project: str, request: pytest.FixtureRequest
) -> None:
    backend = request.node.callspec.params["store"]
    made = _seed(store, project)
    erase(store, project=project, request_id=str(made["bob1"]["request_id"]))
    blanked = store.get_request(str(made["bob1"]["request_id"]), project=project).preferences[0]
    _as_before_the_upgrade(store, backend, made["judged_by_ann"]["event_id"], blanked.event_id)
    _migrate(store, backend)
    before = store.get_event(blanked.event_id, project=project)
    assert before is not None and "id" not in before.event["source"]  # the kept id is gone
    erase(store, project=project, user_id="ann")
    judged = store.get_event(made["judged_by_ann"]["event_id"], project=project)
    assert judged is not None and judged.erased and ANN_RATIONALE not in json.dumps(judged.event)
