"""``preflog log`` of the files people have (issue #12, item 6): JSON arrays on one line or
pretty-printed, ``jq .`` output, a UTF-8 byte order mark; and the same words for the same bad
JSON in ``log`` and over the API. Real SQLite files; the API is the real app behind TestClient."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from preflog.cli import main
from preflog.ndjson import append_ndjson
from preflog.server.app import create_app
from preflog.server.keys import create_key, open_key_store
from preflog.store import open_store
from tests import factories as f

pytestmark = pytest.mark.usefixtures("needs_store")


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, list[str]]:
    code = main(list(argv))
    return code, capsys.readouterr().out.splitlines()


@pytest.fixture
def events() -> list[dict[str, Any]]:
    inf = f.inference()
    return [inf, f.preference(inf["request_id"]), f.score(inf["request_id"])]


def stored(db: Path) -> int:
    with open_store(str(db)) as store:
        return store.stats(project="default").events


@pytest.mark.parametrize("indent", [None, 2], ids=["one-line", "pretty"])
def test_a_json_array_is_logged_event_by_event(
    indent: int | None, events: list[dict[str, Any]], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "events.json"
    path.write_text(json.dumps(events, indent=indent) + "\n")
    db = tmp_path / "a.db"
    code, lines = run(capsys, "--db", str(db), "log", str(path))
    assert code == 0, lines
    heads = [line.split(":")[0] for line in lines[:3]]
    if indent is None:
        assert heads == ["item 1 (line 1)", "item 2 (line 1)", "item 3 (line 1)"]
    else:
        assert [h.split(" (")[0] for h in heads] == ["item 1", "item 2", "item 3"]
    assert all(" stored  event " in line for line in lines[:3])
    assert lines[-1] == "3 events: 3 stored, 0 duplicate, 0 conflict, 0 rejected"
    assert stored(db) == 3


def test_pretty_array_items_name_the_line_they_start_on(tmp_path: Path) -> None:
    first, second = f.inference(), f.inference()
    text = json.dumps([first, second], indent=2)
    starts = [n for n, line in enumerate(text.splitlines(), start=1) if line == "  {"]
    with open_store(str(tmp_path / "s.db")) as store:
        results = list(append_ndjson(store, text.encode().splitlines(keepends=True), project="default"))
    assert [(r.item, r.line, r.status) for r in results] == [
        (1, starts[0], "stored"),
        (2, starts[1], "stored"),
    ]


def test_jq_output_of_pretty_events_one_after_another(
    events: list[dict[str, Any]], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "events.json"
    path.write_text("".join(json.dumps(e, indent=2) + "\n" for e in events))
    code, lines = run(capsys, "--db", str(tmp_path / "j.db"), "log", str(path))
    assert code == 0 and lines[-1] == "3 events: 3 stored, 0 duplicate, 0 conflict, 0 rejected"


def test_a_syntax_error_in_an_array_keeps_the_events_before_it(
    events: list[dict[str, Any]], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = json.dumps(events[:2], indent=2)[:-2] + ',\n  {"oops\n]\n'
    path = tmp_path / "broken.json"
    path.write_text(text)
    db = tmp_path / "b.db"
    code, lines = run(capsys, "--db", str(db), "log", str(path))
    assert code == 1
    bad = text.splitlines().index('  {"oops') + 1
    assert lines[2].startswith(f"line {bad}: rejected  invalid JSON: ") and f"line {bad}, column" in lines[2]
    assert lines[-1] == "3 events: 2 stored, 0 duplicate, 0 conflict, 1 rejected"
    assert stored(db) == 2


def test_a_byte_order_mark_costs_nothing(
    events: list[dict[str, Any]], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "bom.ndjson"
    path.write_bytes(b"\xef\xbb\xbf" + "".join(json.dumps(e) + "\r\n" for e in events).encode())
    code, lines = run(capsys, "--db", str(tmp_path / "bom.db"), "log", str(path))
    assert code == 0, lines
    assert lines[0].startswith("line 1: stored")
    assert lines[-1] == "3 lines: 3 stored, 0 duplicate, 0 conflict, 0 rejected"


def test_the_same_bad_line_gets_the_same_words_from_log_and_the_api(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    good = json.dumps(f.inference())
    bad_lines = ['{"oops', '{"a": 1,}', "{'single': 1}", "[1, 2", "nul"]
    path = tmp_path / "bad.ndjson"
    path.write_text("".join(line + "\n" for line in [good, *bad_lines]))
    db = tmp_path / "api.db"
    _, lines = run(capsys, "--db", str(db), "log", str(path))
    from_log = [line.split("rejected  ", 1)[1] for line in lines if " rejected " in line]

    store = open_store(str(db))
    try:
        token, _ = create_key(open_key_store(store), project="default", scope="ingest")
        with TestClient(create_app(store)) as client:
            body = "".join(line + "\n" for line in bad_lines).encode()
            headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/x-ndjson"}
            answer = client.post("/v1/events", content=body, headers=headers).json()
            bom = client.post("/v1/events", content=b"\xef\xbb\xbf" + good.encode(), headers=headers).json()
    finally:
        store.close()
    from_api = [r["reason"] for r in answer["results"]]
    assert from_log == from_api
    assert from_log[0] == "invalid JSON: Unterminated string starting at column 2"
    assert bom["results"][0]["status"] == "duplicate"  # the BOM is skipped over HTTP too
