"""An event holding a lone surrogate (JSON's "\\ud800" escape, which the standard library reads)
is rejected with the field and the reason, on both backends, through the service and the store;
the other events of its batch are stored. No database can store such text: the service answered
500 for the whole batch (UnicodeEncodeError in the driver), so an SDK retried it forever."""

from __future__ import annotations

import json
from typing import Any

from tests import factories
from tests.server.conftest import PROJECT, KeyMaker, auth

from preflog.store.base import Store


def _bad_and_good() -> tuple[dict[str, Any], dict[str, Any]]:
    bad = factories.inference(prompt="Capital of France? \ud800")
    bad["candidates"][1]["metadata"] = {"note": "fine"}
    return bad, factories.inference()


def test_the_service_rejects_the_event_by_field_and_stores_the_rest(
    client: Any, store: Store, make_key: KeyMaker
) -> None:
    bad, good = _bad_and_good()
    body = json.dumps([bad, good])  # ASCII escapes: the surrogate travels as \ud800
    headers = {**auth(make_key("ingest")), "Content-Type": "application/json"}
    answer = client.post("/v1/events", content=body, headers=headers)
    assert answer.status_code == 207, answer.text  # partial: one stored, one rejected
    first, second = answer.json()["results"]
    assert first["status"] == "rejected" and first["field"] == "prompt"
    assert "lone surrogate (U+D800)" in first["reason"]
    assert second["status"] == "stored"
    stored = [e.event_id for e in store.read(project=PROJECT, after=0, limit=10)]
    assert stored == [good["event_id"]]


def test_an_append_rejects_it_naming_the_nested_field(store: Store) -> None:
    bad, good = factories.inference(), factories.inference()
    bad["candidates"][1]["metadata"] = {"note": "x\udfff"}
    results = store.append([bad, good], project=PROJECT)
    assert [r.status for r in results] == ["rejected", "stored"]
    assert results[0].field == "candidates[1].metadata.note"
    assert "U+DFFF" in (results[0].reason or "")
    assert [e.event_id for e in store.read(project=PROJECT, after=0, limit=10)] == [good["event_id"]]
