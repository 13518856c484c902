"""The archive's rows are the same as before the columnar build: every file an archive run writes
equals, row by row and column by column, the table the original row-per-dict code (frozen below,
as it was before the change) builds from the same stored events — its ``event`` text, the store's
own, is the same event to the last digit (written again, the old text); the text written from an
event (upcast ones) is the standard library's exact text whether or not orjson writes it."""

from __future__ import annotations

import json
import math
import random
import struct
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from preflog.archive import archive_events, open_target, rows
from preflog.archive.rows import SCHEMA, _candidate_ids, _text, canonical_text, utc
from preflog.archive.target import part_files
from preflog.erasure import erase
from preflog.store import Store
from preflog.store.base import StoredEvent
from preflog.store.common import subject_id
from tests import factories as f
from tests.archive.conftest import PROJECT, day_events
from tests.compile.helpers import append_all


def old_row_of(item: StoredEvent) -> dict[str, Any]:
    """``preflog.archive.rows.row_of`` before the columnar build (commit 7b44953), verbatim."""
    event = item.event
    listed = event.get("candidates") or []
    candidates = [c for c in listed if isinstance(c, dict)]
    source = event.get("source") or {}
    score = event.get("score")
    return {
        "position": item.position,
        "event_id": item.event_id,
        "type": item.type,
        "request_id": item.request_id,
        "occurred_at": utc(event.get("occurred_at")),
        "received_at": utc(event.get("received_at")),
        "user_id": subject_id(event),
        "candidate_ids": _candidate_ids(event, candidates),
        "models": [str((c.get("model") or {}).get("name") or "") for c in candidates] or None,
        "model_versions": [str((c.get("model") or {}).get("version") or "") for c in candidates] or None,
        "chosen": _text(event.get("chosen")),
        "rejected": _text(event.get("rejected")),
        "outcome": _text(event.get("outcome")),
        "source_kind": _text(source.get("kind")) if isinstance(source, dict) else None,
        "score": float(score) if isinstance(score, int | float) and not isinstance(score, bool) else None,
        "signal": _text(event.get("signal")),
        "erased": item.erased,
        "event": json.dumps(event, ensure_ascii=False, sort_keys=True, separators=(",", ":")),
    }


# The columns the old code wrote (format 1); format 2's typed text columns are checked against the
# event JSON in tests/archive/test_archive_columns.py.
TEXT_COLUMNS = ("prompt_text", "outputs", "text_only", "criterion", "strength", "presented")
OLD_SCHEMA = pa.schema([f for f in SCHEMA if f.name not in TEXT_COLUMNS])


def old_table_of(items: list[StoredEvent]) -> pa.Table:
    return pa.Table.from_pylist([old_row_of(i) for i in items], schema=OLD_SCHEMA)


def old_columns(table: pa.Table) -> pa.Table:
    return table.select(OLD_SCHEMA.names)


def varied_events() -> list[dict[str, Any]]:
    """Every shape the columns read: version 1 and 2 inferences (tool calls, empty answers,
    refusals, continuations), judgments of each type, floats orjson writes differently, an
    integer beyond 64 bits, non-ASCII text and keys, and events on several days."""
    events = day_events(4, day=2) + day_events(3, day=3, user="u2")
    inf = f.inference(outputs=('Grüße, 世界 \u2028 \x01 "q" \\', ""), user_id="u3")
    inf["metadata"] = {"é": 1e-7, "tiny": 0.00001, "big": 2**70, "neg": -0.0, "large": 1e22, "k": [0.5, 3]}
    tool = f.tool_inference(occurred_at="2026-11-04T23:59:59.999999-05:00")
    rid, tid = inf["request_id"], tool["request_id"]
    events += [
        inf,
        tool,
        f.preference(rid, kind="end_user", metadata={"note": "0.00001 e-5 in text"}),
        f.score(rid, value=1e-9),
        f.score(rid, "c1", value=7),
        f.signal(rid, "c1", kind="copy", user_id="u3"),
        f.preference(tid, "c0", "c2"),
    ]
    rejected = f.preference(rid, "c1", "c0")
    return [*events, rejected, f.retraction(rid, rejected["event_id"])]


def archived(uri: str) -> list[tuple[str, pa.Table]]:
    place = open_target(uri, create=False)
    return [(path, pq.read_table(path, filesystem=place.fs)) for _, _, path in part_files(place, PROJECT)]


def assert_same_as_old(store: Store, uri: str) -> int:
    """Each archived file against the old code's table of the same events; the rows it checked."""
    checked = 0
    for path, table in archived(uri):
        first, last = (int(x) for x in path.rsplit("part-", 1)[1].removesuffix(".parquet").split("-"))
        day = path.rsplit("/", 2)[-2].removeprefix("day=")
        items = [
            i
            for i in store.iter_events(project=PROJECT, after=first - 1, until_position=last)
            if rows.day_of(i) == day
        ]
        expected = old_table_of(items)
        assert table.schema.equals(SCHEMA), path
        table = old_columns(table)
        assert table.schema.equals(expected.schema), path
        for name in OLD_SCHEMA.names:
            if name != "event":
                assert table[name].to_pylist() == expected[name].to_pylist(), (path, name)
        # ``event``: the store's own text where it gives one (tests/store/test_body_mark.py), the
        # same event to the last digit: written again by the standard library, the old code's text
        again = [
            json.dumps(json.loads(text), ensure_ascii=False, sort_keys=True, separators=(",", ":"))
            for text in table["event"].to_pylist()
        ]
        assert again == expected["event"].to_pylist(), path
        assert table.drop_columns(["event"]).equals(expected.drop_columns(["event"])), path
        checked += len(table)
    return checked


def test_every_archived_file_equals_the_old_codes_table(store: Store, tmp_path: Path) -> None:
    events = varied_events()
    append_all(store, events, PROJECT)
    uri = str(tmp_path / "archive")
    report = archive_events(store, project=PROJECT, out=uri, batch=7)  # chunks that split days
    assert report.events == len(events)
    assert len(report.files_written) > 3
    assert assert_same_as_old(store, uri) == len(events)


def test_files_rewritten_after_an_erasure_equal_the_old_codes_table(store: Store, tmp_path: Path) -> None:
    append_all(store, varied_events(), PROJECT)
    uri = str(tmp_path / "archive")
    archive_events(store, project=PROJECT, out=uri)
    erase(store, project=PROJECT, user_id="u3")
    report = archive_events(store, project=PROJECT, out=uri)
    assert report.files_rewritten
    assert any(table["erased"].to_pylist().count(True) for _, table in archived(uri))
    assert assert_same_as_old(store, uri) == store.last_position(project=PROJECT)


def test_the_parquet_bytes_equal_the_old_codes(store: Store, tmp_path: Path) -> None:
    append_all(store, varied_events(), PROJECT)
    items = list(store.iter_events(project=PROJECT))
    new, old = tmp_path / "new.parquet", tmp_path / "old.parquet"
    pq.write_table(old_columns(rows.table_of(items)), new, compression="zstd")
    pq.write_table(old_table_of(items), old, compression="zstd")
    assert new.read_bytes() == old.read_bytes()
    assert old_columns(rows.table_of([])).equals(old_table_of([]))


def _floats(n: int) -> list[float]:
    rng = random.Random(7)
    out: list[float] = []
    while len(out) < n:
        bits = struct.unpack("d", struct.pack("Q", rng.getrandbits(64)))[0]
        scaled = rng.uniform(-1, 1) * 10 ** rng.randint(-330, 308)
        for value in (bits, scaled, round(rng.uniform(-1000, 1000), rng.randint(0, 12))):
            if not (math.isnan(value) or math.isinf(value)):
                out.append(value)
    return out


@pytest.mark.parametrize("with_orjson", [True, False])
def test_the_event_text_is_the_standard_librarys(with_orjson: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    if not with_orjson:
        monkeypatch.setattr(rows, "_orjson", None)
    elif rows._orjson is None:
        pytest.skip("orjson is not installed (the server extra brings it)")
    values: list[Any] = [
        *_floats(30_000),
        2**63 - 1,
        2**64,
        -(2**70),
        "\ud800 lone surrogate",
        "".join(chr(c) for c in [*range(0x80), 0x2028, 0x2029, 0xFEFF, 0x10000]),
    ]
    for value in values:
        event = {"z": [value, {"b": value, "a": True}], "é": None, "a": "1e-5"}
        expected = json.dumps(event, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
        assert canonical_text(event) == expected, value


ODD_EVENTS: list[dict[str, Any]] = [
    {"type": "retraction", "source": {"kind": "human", "id": 7}, "score": True, "presented": "ab"},
    {"type": "preference", "source": {"id": None}, "user_id": 0, "score": 2**70, "presented": [1, None]},
    {"type": "preference", "source": ["id"], "score": -0.0, "chosen": 1, "strength": 1.0},
    {"type": "signal", "source": {"id": "s"}, "score": "1", "presented": []},
    {"type": "score", "user_id": "", "score": 3, "occurred_at": None, "received_at": "2026-01-01T00:00:00Z"},
    {"type": "inference", "candidates": "ab", "prompt": ["x"], "presented": ["a", "b"]},
]


@pytest.mark.parametrize("event", ODD_EVENTS)
def test_the_inlined_reads_answer_as_their_functions(event: dict[str, Any]) -> None:
    """values_of inlines the score test, _presented and Stamps.micros (and calls subject_id): on odd shapes
    (ids that are not strings, a bool score, a huge integer, presented not a list) each column is
    what the function it replaced gives."""
    event = {"event_id": "e1", "occurred_at": "2026-01-02T03:04:05Z", **event}
    row = rows.values_of(StoredEvent(1, event), rows.Stamps(), "{}")
    named = dict(zip(SCHEMA.names, row, strict=True))
    assert named["user_id"] == subject_id(event)
    score = event.get("score")
    assert named["score"] == (
        float(score) if isinstance(score, int | float) and not isinstance(score, bool) else None
    )
    presented = event.get("presented")
    assert named["presented"] == ([str(x) for x in presented] if isinstance(presented, list) else None)
    for column in ("occurred_at", "received_at"):
        assert named[column] == rows.Stamps().micros(event.get(column))
