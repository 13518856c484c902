"""Contract version 2 over the HTTP API: OpenAI-shaped tool-call answers, empty answers and agent
continuations are accepted by ``POST /v1/events``, read back unchanged by ``GET /v1/events`` and
``/v1/requests/{id}``, and malformed parts are answered per event with their field path."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.testclient import TestClient
from tests import factories as f
from tests.contract.strategies import inferences_v2, normalized
from tests.sdk.test_events import OPENAI_TOOL_CALL_RESPONSE
from tests.server.conftest import PROJECT

from preflog.server.models import BatchResponse, StoredEventModel


def post(client: TestClient, headers: dict[str, str], events: Any) -> dict[str, Any]:
    response = client.post("/v1/events", json=events, headers=headers)
    body: dict[str, Any] = BatchResponse.model_validate(response.json()).model_dump()
    return body


def read_back(client: TestClient, headers: dict[str, str], request_id: str) -> dict[str, Any]:
    view = client.get(f"/v1/requests/{request_id}", headers=headers).json()
    event: dict[str, Any] = view["inference"]
    StoredEventModel.model_validate(event)
    for key in ("received_at", "position", "erased"):
        event.pop(key)
    return event


def test_an_openai_tool_call_answer_is_accepted_as_sent(client: TestClient, admin: dict[str, str]) -> None:
    choice = OPENAI_TOOL_CALL_RESPONSE["choices"][0]
    candidate = {
        "candidate_id": "a",
        "output": choice["message"]["content"],  # null: the answer only calls tools
        "tool_calls": choice["message"]["tool_calls"],
        "refusal": choice["message"]["refusal"],
        "finish_reason": choice["finish_reason"],
        "model": {"name": OPENAI_TOOL_CALL_RESPONSE["model"], "provider": "openai"},
    }
    event = f.inference(
        prompt=f.tool_prompt(),
        candidates=[candidate, {**candidate, "candidate_id": "b", "output": "", "tool_calls": None}],
    )
    body = post(client, admin, [event])
    assert body["counts"]["stored"] == 1, body
    got = read_back(client, admin, event["request_id"])
    assert got["candidates"][0] == {**candidate, "output": ""}  # content null is normalized to ""
    assert got["candidates"][1]["output"] == "" and got["prompt"] == f.tool_prompt()
    assert got["schema_version"] == 2 and got["project"] == PROJECT


def test_the_every_field_event_round_trips_and_is_then_a_duplicate(
    client: TestClient, admin: dict[str, str]
) -> None:
    event = f.tool_inference()
    assert post(client, admin, [event])["counts"]["stored"] == 1
    assert read_back(client, admin, event["request_id"]) == normalized(event, PROJECT)
    page = client.get("/v1/events", headers=admin).json()["events"]
    assert page[0]["candidates"] == event["candidates"]
    assert post(client, admin, event)["counts"]["duplicate"] == 1


def test_malformed_tool_calls_are_rejected_per_event_with_their_path(
    client: TestClient, admin: dict[str, str]
) -> None:
    good = f.tool_inference()
    bad = f.tool_inference()
    bad["candidates"][0]["tool_calls"][0]["function"]["arguments"] = {"city": "Lyon"}
    bad_prompt = f.inference(
        prompt=[{"role": "user", "content": "q"}, {"role": "assistant", "content": None}]
    )
    body = post(client, admin, [good, bad, bad_prompt])
    assert body["counts"] == {"stored": 1, "duplicate": 0, "conflict": 0, "rejected": 2}
    rejected = [(r["field"], r["reason"]) for r in body["results"] if r["status"] == "rejected"]
    assert rejected == [
        ("candidates[0].tool_calls[0].function.arguments", "must be a string, got object"),
        ("prompt[1].content", "required (null only with tool_calls or a refusal)"),
    ]


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(events=st.lists(inferences_v2(), min_size=1, max_size=4, unique_by=lambda e: e["request_id"]))
def test_version_2_events_round_trip_through_the_api(
    client: TestClient, admin: dict[str, str], events: list[dict[str, Any]]
) -> None:
    fresh = [
        {**e, "event_id": f.new_id(), "request_id": f.new_id()} for e in events
    ]  # the store outlives examples
    body = post(client, admin, fresh)
    assert body["counts"]["stored"] == len(fresh), body["results"]
    for event in fresh:
        assert read_back(client, admin, event["request_id"]) == normalized(event, PROJECT)
