"""The JSON Schema agrees with preflog.events: same fields, same enums, and the same verdict on events."""

from __future__ import annotations

import json
from typing import Any

import pytest

from preflog.cli import main
from preflog.demo import demo_events
from preflog.events import (
    CANDIDATE_FIELDS,
    ENVELOPE_FIELDS,
    EVENT_TYPES,
    FUNCTION_FIELDS,
    MESSAGE_FIELDS,
    MESSAGE_ROLES,
    OUTCOMES,
    PAYLOAD_FIELDS,
    SCHEMA_VERSION,
    SIGNAL_KINDS,
    SOURCE_KINDS,
    TOOL_CALL_FIELDS,
    TOOL_CALL_TYPES,
    Limits,
    check_event,
    validate_event,
)
from preflog.schema import event_json_schema
from tests import factories as f

SCHEMA = event_json_schema()
DEFS = SCHEMA["$defs"]


def every_kind_of_event() -> list[dict[str, Any]]:
    inf = f.inference(prompt=[{"role": "user", "content": "hi"}], system="Be brief.", presented=["c1", "c0"])
    rid = inf["request_id"]
    return [
        f.inference(),
        inf,
        f.inference(
            outputs=("a", "b", "c", "d"), tags=["x"], user_id="u1", session_id="s1", features={"k": 1}
        ),
        f.preference(rid),
        f.preference(rid, chosen=None, rejected=None, ranking=["c0", ["c1", "c2"]], strength=0.5),
        f.preference(rid, chosen=None, rejected=None, outcome="tie", candidates=["c0", "c1"]),
        f.preference(rid, chosen=None, rejected=None, outcome="both_bad", candidates=["c0", "c1"]),
        f.preference(
            rid, kind="end_user", scores={"c0": 1, "c1": 0.5}, rationale="better", criterion="helpfulness"
        ),
        f.score(rid),
        f.score(rid, scorer={"name": "judge", "version": "2", "kind": "ai_judge"}),
        f.signal(rid),
        f.signal(rid, kind="dwell_ms", value=1500),
        f.retraction(rid, inf["event_id"], reason="oops", source={"kind": "human", "id": "a1"}),
        f.erasure(request_id=rid),
        f.erasure(user_id="u1"),
        *version_2_events(),
    ]


def version_2_events() -> list[dict[str, Any]]:
    """Contract version 2: tool calls, refusals, empty answers, continuations, tool turns."""
    call = f.tool_call()
    model = {"name": "m"}
    return [
        f.tool_inference(),
        f.inference(outputs=("", " ")),
        f.inference(candidates=[{"candidate_id": "a", "output": None, "tool_calls": [call], "model": model}]),
        f.inference(candidates=[{"candidate_id": "a", "refusal": "No.", "model": model}]),
        f.inference(
            candidates=[{"candidate_id": "a", "tool_calls": [], "finish_reason": "end_turn", "model": model}]
        ),
        f.inference(
            prompt=[{"role": "user", "content": "x"}, {"role": "assistant", "content": "", "refusal": "No."}],
            candidates=[
                {
                    "candidate_id": "a",
                    "messages": [{"role": "assistant", "content": None, "refusal": "No."}],
                    "model": model,
                }
            ],
        ),
        f.inference(schema_version=1, outputs=("fine", "")),
    ]


def invalid_events() -> list[dict[str, Any]]:
    inf = f.inference()
    rid = inf["request_id"]
    return [
        {**inf, "type": "nonsense"},
        {**inf, "extra": 1},
        {k: v for k, v in inf.items() if k != "candidates"},
        {**inf, "candidates": [{**inf["candidates"][0], "model": {"version": "1"}}]},
        {**inf, "prompt": [{"role": "robot", "content": "hi"}]},
        {**inf, "candidates": [{**inf["candidates"][0], "params": {"top_p": 1.5}}]},
        {**inf, "event_id": "not-a-uuid"},
        {**inf, "schema_version": 99},
        {**inf, "project": "bad project!"},
        f.preference(rid, source={"kind": "crowd"}),
        f.preference(rid, ranking=["c0", "c1"]),
        f.preference(rid, chosen=None, rejected=None, outcome="tie"),
        f.preference(rid, chosen=None, rejected=None, outcome="meh", candidates=["c0", "c1"]),
        f.preference(rid, strength=2),
        {k: v for k, v in f.preference(rid).items() if k != "source"},
        f.score(rid, scorer={"version": "1"}),
        f.score(rid, score="high"),
        f.signal(rid, kind="like"),
        f.signal(rid, kind="dwell_ms"),
        f.retraction(rid, "r-1"),
        {**f.erasure(user_id="u1"), "request_id": rid},
        f.erasure(),
        *invalid_version_2_events(),
    ]


def invalid_version_2_events() -> list[dict[str, Any]]:
    call = f.tool_call()
    model = {"name": "m"}

    def one(**cand: Any) -> dict[str, Any]:
        return f.inference(candidates=[{"candidate_id": "a", "model": model, **cand}])

    def asking(*turns: dict[str, Any]) -> dict[str, Any]:
        return f.inference(prompt=[{"role": "user", "content": "q"}, *turns])

    return [
        one(),  # neither output nor messages
        one(output=None),
        one(output=1),
        one(output="a", messages=[{"role": "assistant", "content": "b"}]),
        one(messages=[{"role": "assistant", "content": "b"}], tool_calls=[call]),
        one(messages=[{"role": "assistant", "content": "b"}], refusal="no"),
        one(messages=[]),
        one(messages=[{"role": "user", "content": "b"}]),
        one(output="", tool_calls=call),
        one(output="", tool_calls=[{**call, "type": "code"}]),
        one(output="", tool_calls=[{**call, "function": {"name": "f", "arguments": {"a": 1}}}]),
        one(output="", tool_calls=[{**call, "function": {"name": "f"}}]),
        one(output="", tool_calls=[{"type": "function", "function": call["function"]}]),
        one(output="", tool_calls=[{**call, "extra": 1}]),
        one(output="", refusal=3),
        one(output="", finish_reason="a\nb"),
        asking({"role": "assistant", "content": None}),
        asking({"role": "assistant"}),
        asking({"role": "user", "content": "x", "tool_calls": [call]}),
        asking({"role": "tool", "content": None, "tool_call_id": "call_1"}),
        asking({"role": "user", "content": "x", "tool_call_id": "call_1"}),
        asking({"role": "assistant", "content": "", "tool_call_id": "call_1"}),
        asking({"role": "user", "content": " "}),
        asking({"role": "tool", "content": "", "refusal": "no"}),
    ]


def test_branches_list_exactly_the_fields_of_events_py() -> None:
    assert [b["$ref"] for b in SCHEMA["oneOf"]] == [f"#/$defs/{t}" for t in EVENT_TYPES]
    for etype in EVENT_TYPES:
        branch = DEFS[etype]
        assert set(branch["properties"]) == set(ENVELOPE_FIELDS) | set(PAYLOAD_FIELDS[etype]), etype
        assert branch["properties"]["type"] == {"const": etype}
        assert branch["additionalProperties"] is False
    assert set(DEFS["candidate"]["properties"]) == set(CANDIDATE_FIELDS)
    assert set(DEFS["message"]["properties"]) == set(MESSAGE_FIELDS)
    assert set(DEFS["tool_call"]["properties"]) == set(TOOL_CALL_FIELDS)
    assert set(DEFS["tool_call"]["properties"]["function"]["properties"]) == set(FUNCTION_FIELDS)


def test_enums_come_from_events_py() -> None:
    assert SCHEMA["properties"]["type"]["enum"] == list(EVENT_TYPES)
    assert DEFS["source"]["properties"]["kind"]["enum"] == list(SOURCE_KINDS)
    assert DEFS["signal"]["properties"]["signal"]["enum"] == list(SIGNAL_KINDS)
    assert DEFS["message"]["properties"]["role"]["enum"] == list(MESSAGE_ROLES)
    assert DEFS["tool_call"]["properties"]["type"]["enum"] == list(TOOL_CALL_TYPES)
    assert SCHEMA["$id"] == f"urn:preflog:event:v{SCHEMA_VERSION}"
    outcome = DEFS["preference"]["properties"]["outcome"]["anyOf"][0]
    assert outcome["enum"] == list(OUTCOMES)


def test_limits_follow_the_limits_given() -> None:
    small = event_json_schema(Limits(max_candidates=3, max_tags=2, max_output_bytes=100))
    cands = small["$defs"]["inference"]["properties"]["candidates"]
    assert cands["maxItems"] == 3
    assert "PREFLOG_MAX_CANDIDATES" in cands["description"]
    assert small["$defs"]["candidate"]["properties"]["output"]["anyOf"][0]["maxLength"] == 100
    assert DEFS["inference"]["properties"]["candidates"]["maxItems"] == Limits().max_candidates


def test_every_factory_event_is_valid_for_both() -> None:
    jsonschema_rs = pytest.importorskip("jsonschema_rs")
    validator = jsonschema_rs.Draft202012Validator(SCHEMA)
    for event in every_kind_of_event():
        normalized = validate_event(event)
        assert validator.is_valid(event), (event, [str(e) for e in validator.iter_errors(event)])
        assert validator.is_valid(normalized)


def test_invalid_events_fail_both() -> None:
    jsonschema_rs = pytest.importorskip("jsonschema_rs")
    validator = jsonschema_rs.Draft202012Validator(SCHEMA)
    for event in invalid_events():
        assert check_event(event), event
        assert not validator.is_valid(event), event
    for event in version_2_events():
        assert check_event(event) == [], event


def test_demo_events_are_valid_for_the_schema() -> None:
    jsonschema_rs = pytest.importorskip("jsonschema_rs")
    validator = jsonschema_rs.Draft202012Validator(SCHEMA)
    events = demo_events(requests=80)
    assert all(validator.is_valid(e) for e in events)


def test_schema_command_prints_the_schema(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["schema"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed == json.loads(json.dumps(SCHEMA))
    assert printed["$schema"] == "https://json-schema.org/draft/2020-12/schema"


def test_schema_command_uses_env_limits(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PREFLOG_MAX_CANDIDATES", "4")
    assert main(["schema"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["$defs"]["inference"]["properties"]["candidates"]["maxItems"] == 4
