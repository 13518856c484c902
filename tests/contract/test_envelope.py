"""Envelope rules found by fuzzing the service (schemathesis): an explicit null is no value."""

from __future__ import annotations

from preflog.events import check_event
from preflog.store.base import Store
from tests import factories as f


def test_an_erasure_with_user_id_null_needs_a_request_id(store: Store, project: str) -> None:
    # Once accepted with neither target, then a KeyError (HTTP 500) inside the store's erasure.
    event = {**f.erasure(), "user_id": None}
    assert [(e.path, e.reason) for e in check_event(event)] == [("request_id", "required")]
    (result,) = store.append([event], project=project)
    assert (result.status, result.field) == ("rejected", "request_id")
    assert check_event({**f.erasure(request_id="r1"), "user_id": None}) == []
