"""The stored body's mark: text orjson wrote ends in a newline and is read back by orjson alone;
every other body — the standard library's (an integer beyond 64 bits), or one stored before the
mark existed — by the exact reader. Both read back exactly what was appended, on both backends."""

from __future__ import annotations

import json
from typing import Any

import pytest

from preflog.store import Store
from preflog.store.common import ORJSON_MARK, decode_body, encode_body
from tests import factories

BIG = {"seed": 123456789012345678901234567890, "low": -(2**63) - 1}


def _body(store: Store, event_id: str) -> str:
    with store.connection("read") as tx:  # type: ignore[attr-defined]
        (body,) = tx.one("SELECT body FROM events WHERE event_id = ?", (event_id,))
    return str(body)


def _read(store: Store, project: str, event_id: str) -> dict[str, Any]:
    (found,) = [e.event for e in store.read(project=project, after=0, limit=10) if e.event_id == event_id]
    return found


def test_orjson_text_is_marked_and_the_standard_librarys_is_not() -> None:
    pytest.importorskip("orjson")
    plain = factories.inference()
    big = factories.inference()
    big["candidates"][0]["metadata"] = dict(BIG)
    assert encode_body(plain).endswith(ORJSON_MARK)
    assert not encode_body(big).endswith(ORJSON_MARK)  # orjson refused it: json.dumps wrote it
    assert decode_body(encode_body(big))["candidates"][0]["metadata"] == BIG


def test_marked_and_unmarked_bodies_read_back_exactly(store: Store, project: str) -> None:
    plain = factories.inference()
    big = factories.inference()
    big["candidates"][0]["metadata"] = dict(BIG)
    store.append([plain, big], project=project)
    assert _body(store, plain["event_id"]).endswith(ORJSON_MARK)
    assert not _body(store, big["event_id"]).endswith(ORJSON_MARK)
    metadata = _read(store, project, big["event_id"])["candidates"][0]["metadata"]
    assert metadata == BIG and all(isinstance(v, int) for v in metadata.values())
    assert _read(store, project, plain["event_id"])["prompt"] == plain["prompt"]


def test_a_body_stored_before_the_mark_is_read_exactly(store: Store, project: str) -> None:
    """A store written by an earlier preflog holds orjson-shaped text without the mark; one holding
    a big integer must not be read by orjson (which would make it a float)."""
    event = factories.inference()
    store.append([event], project=project)
    stored = json.loads(_body(store, event["event_id"]))
    stored["candidates"][0]["metadata"] = dict(BIG)
    legacy = json.dumps(stored, ensure_ascii=False, separators=(",", ":"))
    with store.transaction("write") as tx:  # type: ignore[attr-defined]
        tx.execute("UPDATE events SET body = ? WHERE event_id = ?", (legacy, event["event_id"]))
    metadata = _read(store, project, event["event_id"])["candidates"][0]["metadata"]
    assert metadata == BIG and all(isinstance(v, int) for v in metadata.values())


def test_a_resent_event_is_a_duplicate_of_its_unmarked_earlier_copy(store: Store, project: str) -> None:
    """Duplicate detection compares bodies: an event stored before the mark and sent again is a
    duplicate, not a conflict."""
    event = factories.inference()
    store.append([event], project=project)
    unmarked = _body(store, event["event_id"]).rstrip(ORJSON_MARK)
    with store.transaction("write") as tx:  # type: ignore[attr-defined]
        tx.execute("UPDATE events SET body = ? WHERE event_id = ?", (unmarked, event["event_id"]))
    (result,) = store.append([event], project=project)
    assert result.status == "duplicate", result


def _exact(value: Any) -> str:
    """Text that tells ``1`` from ``1.0`` and keeps big integers: for comparing events exactly."""
    return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def _set_body(store: Store, event_id: str, body: str) -> None:
    with store.transaction("write") as tx:  # type: ignore[attr-defined]
        tx.execute("UPDATE events SET body = ? WHERE event_id = ?", (body, event_id))


def test_scan_texts_gives_the_stored_body_with_project_and_received_at(store: Store, project: str) -> None:
    """The archive's ``event`` text straight from the body (marked or not): the same event as
    :meth:`scan` reads, exactly; none for an upcast event or a body holding ``project`` itself
    (its text would name the key twice), which the archive writes from the event instead."""
    plain, big, old, odd = (factories.inference() for _ in range(4))
    big["candidates"][0]["metadata"] = dict(BIG)
    plain["metadata"] = {"tiny": 1e-7, "k": [0.5, 3, -0.0], "é": "Grüße \u2028"}
    old["schema_version"] = 1
    store.append([plain, big, old, odd], project=project)
    holding = _body(store, odd["event_id"]).replace('{"', '{"project":"elsewhere","', 1)
    _set_body(store, odd["event_id"], holding)
    last = store.last_position(project=project)
    scanned = list(store.scan_texts(project=project, after=0, until_position=last, batch=2))
    events = list(store.scan(project=project, after=0, until_position=last, batch=2))
    assert [item for item, _ in scanned] == events
    texts = {item.event_id: text for item, text in scanned}
    assert texts[old["event_id"]] is None and texts[odd["event_id"]] is None
    for item in events:
        text = texts[item.event_id]
        if text is None:
            continue
        head = _exact({"project": project, "received_at": item.event["received_at"]})[:-1] + ","
        body = _body(store, item.event_id)
        assert text == head + body[1:].removesuffix(ORJSON_MARK)
        assert _exact(json.loads(text)) == _exact(item.event)
    assert texts[big["event_id"]] is not None and texts[plain["event_id"]] is not None
    assert not _body(store, big["event_id"]).endswith(ORJSON_MARK)  # both kinds of body were spliced
