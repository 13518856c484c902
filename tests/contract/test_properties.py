"""Hypothesis: version-1 events keep their meaning when upcast to version 2; version-2 events with
every new field round-trip through validation, JSON and both stores (SQLite and PostgreSQL); the
JSON Schema accepts every event the validator accepts."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from preflog.events import (
    SCHEMA_VERSION,
    candidate_messages,
    candidate_text,
    check_event,
    is_continuation,
    new_id,
    upcast,
    validate_event,
)
from preflog.schema import event_json_schema
from preflog.store import Store
from tests.contract.strategies import inferences_v2, normalized
from tests.store.test_roundtrip import any_event as v1_events

FIXTURES = [HealthCheck.function_scoped_fixture]


@settings(max_examples=200, deadline=None)
@given(v1_events)
def test_a_version_1_event_means_the_same_in_version_2(event: dict[str, Any]) -> None:
    v1 = {**event, "schema_version": 1}
    assert upcast(v1) == {**event, "schema_version": SCHEMA_VERSION}  # every field kept as it is
    assert check_event(v1) == []
    expected = {**event, "project": "p", "schema_version": SCHEMA_VERSION}
    assert validate_event(v1, project="p") == validate_event(event, project="p") == expected
    for cand in event.get("candidates", []) if event["type"] == "inference" else []:
        # What compile and analytics read from a version-1 candidate is its output, as before.
        assert not is_continuation(cand) and candidate_text(cand) == cand["output"]
        assert candidate_messages(cand) == [{"role": "assistant", "content": cand["output"]}]


@settings(max_examples=200, deadline=None)
@given(inferences_v2())
def test_version_2_events_validate_normalize_and_survive_json(event: dict[str, Any]) -> None:
    got = validate_event(event, project="p")
    assert got == normalized(event, "p")
    assert validate_event(json.loads(json.dumps(got)), project="p") == got  # idempotent, JSON-safe


@settings(max_examples=25, deadline=None, suppress_health_check=FIXTURES)
@given(
    events=st.lists(
        inferences_v2(),
        min_size=1,
        max_size=5,
        unique_by=(lambda e: e["event_id"], lambda e: e["request_id"]),
    )
)
def test_version_2_events_round_trip_through_the_store(store: Store, events: list[dict[str, Any]]) -> None:
    project = "v2-" + new_id()  # the store is shared by every example; a project of its own is not
    results = store.append(events, project=project)
    assert [r.status for r in results] == ["stored"] * len(events), [r.reason for r in results]
    for written, read in zip(events, store.read(project=project, limit=100), strict=True):
        assert read.event.pop("received_at")
        assert read.event == normalized(written, project)
        again = store.get_request(written["request_id"], project=project)
        assert again.inference is not None and again.inference.event["candidates"] == read.event["candidates"]
    assert [r.status for r in store.append(events, project=project)] == ["duplicate"] * len(events)


@settings(max_examples=15, deadline=None, suppress_health_check=FIXTURES)
@given(events=st.lists(v1_events, min_size=1, max_size=6, unique_by=lambda e: e["event_id"]))
def test_version_1_events_are_stored_as_written_and_read_as_version_2(
    store: Store, events: list[dict[str, Any]]
) -> None:
    events = [{**e, "schema_version": 1} for e in events if e["type"] != "erasure"]  # erasures blank others
    project = "v1-" + new_id()
    assert {r.status for r in store.append(events, project=project)} <= {"stored"}
    for written, read in zip(events, store.read(project=project, limit=100), strict=True):
        assert read.event.pop("received_at")
        assert read.event == {**written, "project": project, "schema_version": SCHEMA_VERSION}
    assert {r.status for r in store.append(events, project=project)} <= {"duplicate"}


@pytest.fixture(scope="module")
def schema_validator() -> Any:
    jsonschema_rs = pytest.importorskip("jsonschema_rs")
    return jsonschema_rs.Draft202012Validator(event_json_schema())


@settings(max_examples=200, deadline=None)
@given(inferences_v2())
def test_the_json_schema_accepts_every_valid_version_2_event(
    schema_validator: Any, event: dict[str, Any]
) -> None:
    assert schema_validator.is_valid(event), [str(e) for e in schema_validator.iter_errors(event)]
    assert schema_validator.is_valid(validate_event(event))
