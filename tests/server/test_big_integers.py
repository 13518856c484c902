"""An integer beyond 64 bits in an event (a seed, an id in metadata) is stored and read back as
that integer, through the HTTP service and the store, on both backends. orjson alone read it as a
float: the service stored 1.2345678901234568e+29 for 123456789012345678901234567890, and the store
read such a body back as a float too."""

from __future__ import annotations

from typing import Any

from tests import factories
from tests.server.conftest import PROJECT, KeyMaker, auth

from preflog.store.base import Store

NUMBERS = {"seed": 123456789012345678901234567890, "low": -(2**63) - 1, "top": 2**64}


def _inference() -> dict[str, Any]:
    event = factories.inference()
    event["candidates"][0]["metadata"] = dict(NUMBERS)
    return event


def _stored_metadata(store: Store, request_id: str) -> dict[str, Any]:
    (stored,) = [e for e in store.read(project=PROJECT, after=0, limit=10) if e.request_id == request_id]
    metadata: dict[str, Any] = stored.event["candidates"][0]["metadata"]
    return metadata


def test_big_integers_survive_the_service_and_the_store(
    client: Any, store: Store, make_key: KeyMaker
) -> None:
    event = _inference()
    answer = client.post("/v1/events", json=[event], headers=auth(make_key("ingest")))
    assert answer.status_code == 200, answer.text
    metadata = _stored_metadata(store, event["request_id"])
    assert metadata == NUMBERS
    assert all(isinstance(v, int) for v in metadata.values())


def test_big_integers_survive_an_append_and_a_read(store: Store) -> None:
    event = _inference()
    store.append([event], project=PROJECT)
    metadata = _stored_metadata(store, event["request_id"])
    assert metadata == NUMBERS and all(isinstance(v, int) for v in metadata.values())
