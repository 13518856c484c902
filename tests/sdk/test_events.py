"""What the SDK builds: every event it stores passes the contract's validation, ids are right, and
invalid arguments raise at the call that made them, naming the argument."""

from __future__ import annotations

import copy
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

import preflog
from preflog.events import candidate_ids, validate_event
from preflog.sdk import LocalTransport
from preflog.store.base import AppendResult
from tests.sdk.conftest import PROJECT, stored

CHAT = [
    {"role": "system", "content": "Be brief."},
    {"role": "user", "content": "Capital of France?"},
]


def log_everything(client: preflog.Client) -> dict[str, str]:
    """One call of every kind and shape; returns the ids they answered with."""
    ids: dict[str, str] = {}
    ids["plain"] = client.log_inference("What is 2+2?", ["4", "5"], model="gpt-x")
    ids["one"] = client.log_inference("Say hi", "hi", model={"name": "m", "version": "2", "provider": "acme"})
    ids["chat"] = client.log_inference(
        CHAT,
        candidates=[
            {"output": "Paris.", "model": "small", "usage": {"input_tokens": 12, "output_tokens": 2}},
            {"output": "Lyon.", "model": {"name": "large", "version": "1"}, "latency_ms": 420.5},
            {"output": "Paris!", "candidate_id": "mine", "params": {"temperature": 0.0, "seed": 7}},
        ],
        model="fallback",
        system="You are a geography tutor.",
        params={"temperature": 0.7, "top_p": 0.9, "max_tokens": 64},
        presented=["mine", "c0", "c1"],
        user_id="user-1",
        session_id="s-1",
        tags=["geo", "ab-test"],
        metadata={"route": "/chat", "nested": {"ok": [1, 2]}},
        features={"country": "FR"},
    )
    ids["own"] = client.log_inference(
        "Backfilled",
        ["a", "b"],
        model="m",
        request_id="gateway-req-42",
        occurred_at=datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone(timedelta(hours=2))),
    )
    rid = ids["plain"]
    ids["pair"] = client.log_preference(rid, chosen="c0", rejected="c1", source_id="ann-7", strength=0.8)
    ids["ranking"] = client.log_preference(
        ids["chat"],
        ranking=["mine", ["c0", "c1"]],
        source={"kind": "ai_judge", "id": "judge", "version": "3"},
    )
    ids["tie"] = client.log_preference(rid, outcome="tie", candidates=["c0", "c1"], source="end_user")
    ids["bad"] = client.log_preference(
        rid, outcome="both_bad", candidates=("c0", "c1"), criterion="helpfulness", rationale="both wrong"
    )
    ids["scored"] = client.log_preference(
        rid,
        chosen="c1",
        rejected="c0",
        source="reward_model",
        scores={"c0": 0.1, "c1": 0.9},
        presented=["c1", "c0"],
    )
    ids["score"] = client.log_score(
        rid, "c0", 0.75, scorer="rm-small", scorer_version="3", scorer_kind="reward_model"
    )
    ids["score2"] = client.log_score(rid, "c1", -1.5, scorer={"name": "judge"}, criterion="harmlessness")
    ids["signal"] = client.log_signal(rid, "c0", "thumbs_up", user_id="user-1")
    ids["dwell"] = client.log_signal(rid, "c1", "dwell_ms", 1500, session_id="s-1", metadata={"page": 2})
    ids["retract"] = client.retract(ids["pair"], rid, reason="misclick", source="human")
    ids["erase"] = client.erase(request_id=ids["one"], reason="user asked")
    return ids


class RecordingTransport(LocalTransport):
    """The real local transport, keeping a copy of every event exactly as the SDK built it."""

    def __init__(self, db: str) -> None:
        super().__init__(db)
        self.sent: list[dict[str, Any]] = []

    def send(self, events: list[dict[str, Any]], project: str) -> list[AppendResult]:
        self.sent.extend(copy.deepcopy(events))
        return super().send(events, project)


def test_every_event_the_sdk_builds_is_valid(make_client: Callable[..., preflog.Client], db: str) -> None:
    transport = RecordingTransport(db)
    client = make_client(db=None, transport=transport)
    ids = log_everything(client)
    assert client.flush(timeout=10)
    assert len(transport.sent) == len(ids)
    for event in transport.sent:
        assert validate_event(event, project=PROJECT) == event  # valid, and already normalized
    assert len(stored(db)) == len(ids)
    stats = client.stats()
    assert (stats.sent, stats.rejected, stats.failed) == (len(ids), 0, 0)


def test_inference_fields_arrive_as_given(make_client: Callable[..., preflog.Client], db: str) -> None:
    client = make_client()
    ids = log_everything(client)
    client.flush(timeout=10)
    by_request = {e.event["request_id"]: e.event for e in stored(db) if e.type == "inference"}
    chat = by_request[ids["chat"]]
    assert chat["prompt"] == CHAT and chat["system"] == "You are a geography tutor."
    assert candidate_ids(chat) == ["c0", "c1", "mine"]
    assert chat["candidates"][0]["model"] == {"name": "small"}
    assert chat["candidates"][0]["params"] == {"temperature": 0.7, "top_p": 0.9, "max_tokens": 64}
    assert chat["candidates"][2]["model"] == {"name": "fallback"}
    assert chat["candidates"][2]["params"] == {"temperature": 0.0, "seed": 7}
    assert chat["candidates"][1]["latency_ms"] == 420.5
    assert chat["presented"] == ["mine", "c0", "c1"] and chat["tags"] == ["geo", "ab-test"]
    assert chat["metadata"]["nested"] == {"ok": [1, 2]} and chat["features"] == {"country": "FR"}
    plain = by_request[ids["plain"]]
    assert [c["output"] for c in plain["candidates"]] == ["4", "5"]
    assert plain["candidates"][1] == {"candidate_id": "c1", "output": "5", "model": {"name": "gpt-x"}}
    assert by_request["gateway-req-42"]["occurred_at"] == "2026-01-02T01:04:05.000000Z"


def test_request_id_generated_or_the_callers_own(make_client: Callable[..., preflog.Client], db: str) -> None:
    client = make_client()
    generated = {client.log_inference("q", ["a"], model="m") for _ in range(100)}
    assert len(generated) == 100
    assert all(len(rid) == 36 and rid.count("-") == 4 for rid in generated)
    assert client.log_inference("q", ["a"], model="m", request_id="my-own-id") == "my-own-id"
    client.flush(timeout=10)
    assert {e.event["request_id"] for e in stored(db)} == generated | {"my-own-id"}


def test_judgment_ids_are_event_ids(make_client: Callable[..., preflog.Client], db: str) -> None:
    client = make_client()
    rid = client.log_inference("q", ["a", "b"], model="m")
    given = "0f8fad5b-d9cb-469f-a165-70867728950e"
    assert client.log_preference(rid, chosen="c0", rejected="c1", event_id=given) == given
    signal_id = client.log_signal(rid, "c0", "copy")
    client.flush(timeout=10)
    assert {e.event_id for e in stored(db) if e.type != "inference"} == {given, signal_id}


def test_occurred_at_is_the_call_time(make_client: Callable[..., preflog.Client], db: str) -> None:
    client = make_client()
    before = datetime.now(UTC)
    client.log_inference("q", ["a"], model="m")
    client.log_signal("r", "c0", "click")
    after = datetime.now(UTC)
    client.flush(timeout=10)
    for item in stored(db):
        when = datetime.fromisoformat(item.event["occurred_at"])
        assert before - timedelta(milliseconds=1) <= when <= after


def test_later_changes_by_the_caller_do_not_leak(make_client: Callable[..., preflog.Client], db: str) -> None:
    client = make_client(flush_interval=60)
    messages = [{"role": "user", "content": "hello"}]
    outputs = ["hi", "hey"]
    tags = ["a"]
    client.log_inference(messages, outputs, model="m", tags=tags)
    messages.append({"role": "assistant", "content": "hi"})  # the usual chat loop
    outputs.append("yo")
    tags.append("b")
    client.flush(timeout=10)
    (event,) = (e.event for e in stored(db))
    assert event["prompt"] == [{"role": "user", "content": "hello"}]
    assert len(event["candidates"]) == 2 and event["tags"] == ["a"]


def _call(method: str, *args: Any, **kwargs: Any) -> Callable[[preflog.Client], object]:
    return lambda client: getattr(client, method)(*args, **kwargs)


INVALID = [
    ("prompt", _call("log_inference", "", ["a"], model="m")),
    ("prompt", _call("log_inference", "   ", ["a"], model="m")),
    ("prompt", _call("log_inference", 42, ["a"], model="m")),
    ("prompt[0].role", _call("log_inference", [{"role": "boss", "content": "x"}], ["a"], model="m")),
    ("prompt[0].content", _call("log_inference", [{"role": "user"}], ["a"], model="m")),
    ("outputs", _call("log_inference", "q", model="m")),
    ("outputs", _call("log_inference", "q", [], model="m")),
    ("outputs", _call("log_inference", "q", 7, model="m")),
    ("outputs[0]", _call("log_inference", "q", [None], model="m")),
    ("outputs[1]", _call("log_inference", "q", ["a", 7], model="m")),
    ("candidates[0].output", _call("log_inference", "q", candidates=[{"model": "m"}])),
    (
        "candidates[0].tool_calls[0].function.arguments",
        _call(
            "log_inference",
            "q",
            candidates=[
                {
                    "output": None,
                    "tool_calls": [
                        {"id": "1", "type": "function", "function": {"name": "f", "arguments": {}}}
                    ],
                    "model": "m",
                }
            ],
        ),
    ),
    (
        "candidates[0].output",
        _call("log_inference", "q", candidates=[{"output": "a", "messages": [], "model": "m"}]),
    ),
    (
        "candidates[0].messages[0].role",
        _call(
            "log_inference", "q", candidates=[{"messages": [{"role": "user", "content": "x"}], "model": "m"}]
        ),
    ),
    (
        "prompt[1].tool_calls",
        _call(
            "log_inference",
            [{"role": "user", "content": "x"}, {"role": "tool", "content": "", "tool_calls": []}],
            ["a"],
            model="m",
        ),
    ),
    ("prompt[0].content", _call("log_inference", [{"role": "assistant", "content": None}], ["a"], model="m")),
    ("model", _call("log_inference", "q", ["a"])),
    ("model", _call("log_inference", "q", ["a"], model="")),
    ("model.name", _call("log_inference", "q", ["a"], model={"version": "1"})),
    ("model.flavour", _call("log_inference", "q", ["a"], model={"name": "m", "flavour": "x"})),
    ("params", _call("log_inference", "q", ["a"], model="m", params=[0.7])),
    ("params.temperature", _call("log_inference", "q", ["a"], model="m", params={"temperature": -1})),
    ("params.top_p", _call("log_inference", "q", ["a"], model="m", params={"top_p": 1.5})),
    ("params.max_tokens", _call("log_inference", "q", ["a"], model="m", params={"max_tokens": 1.5})),
    ("candidates", _call("log_inference", "q", ["a"], candidates=[{"output": "b"}], model="m")),
    ("candidates[0].model", _call("log_inference", "q", candidates=[{"output": "b"}])),
    (
        "candidates[1].candidate_id",
        _call("log_inference", "q", candidates=[{"output": "b", "model": "m", "candidate_id": "x"}] * 2),
    ),
    (
        "candidates[0].colour",
        _call("log_inference", "q", candidates=[{"output": "b", "model": "m", "colour": 1}]),
    ),
    (
        "candidates[0].usage.input_tokens",
        _call(
            "log_inference", "q", candidates=[{"output": "b", "model": "m", "usage": {"input_tokens": -3}}]
        ),
    ),
    ("request_id", _call("log_inference", "q", ["a"], model="m", request_id="")),
    ("request_id", _call("log_inference", "q", ["a"], model="m", request_id=12)),
    ("system", _call("log_inference", "q", ["a"], model="m", system="")),
    ("presented[0]", _call("log_inference", "q", ["a", "b"], model="m", presented=["c9"])),
    ("user_id", _call("log_inference", "q", ["a"], model="m", user_id="a\nb")),
    ("tags", _call("log_inference", "q", ["a"], model="m", tags="x")),
    ("metadata", _call("log_inference", "q", ["a"], model="m", metadata=["x"])),
    ("occurred_at", _call("log_inference", "q", ["a"], model="m", occurred_at=datetime(2026, 1, 1))),
    ("occurred_at", _call("log_inference", "q", ["a"], model="m", occurred_at="yesterday")),
    ("chosen", _call("log_preference", "r")),
    ("rejected", _call("log_preference", "r", chosen="c0")),
    ("rejected", _call("log_preference", "r", chosen="c0", rejected="c0")),
    ("ranking", _call("log_preference", "r", chosen="c0", rejected="c1", ranking=["c0", "c1"])),
    ("ranking", _call("log_preference", "r", ranking=["c0"])),
    ("outcome", _call("log_preference", "r", outcome="draw", candidates=["c0", "c1"])),
    ("candidates", _call("log_preference", "r", outcome="tie")),
    ("source", _call("log_preference", "r", chosen="c0", rejected="c1", source="boss")),
    ("source.kind", _call("log_preference", "r", chosen="c0", rejected="c1", source={"id": "x"})),
    ("strength", _call("log_preference", "r", chosen="c0", rejected="c1", strength=2)),
    ("request_id", _call("log_preference", "", chosen="c0", rejected="c1")),
    ("event_id", _call("log_preference", "r", chosen="c0", rejected="c1", event_id="not-a-uuid")),
    ("score", _call("log_score", "r", "c0", "high", scorer="rm")),
    ("score", _call("log_score", "r", "c0", float("nan"), scorer="rm")),
    ("scorer.name", _call("log_score", "r", "c0", 1.0, scorer={"version": "1"})),
    ("candidate_id", _call("log_score", "r", "", 1.0, scorer="rm")),
    ("signal", _call("log_signal", "r", "c0", "like")),
    ("value", _call("log_signal", "r", "c0", "dwell_ms")),
    ("event_id", _call("retract", "nope", "r")),
    ("request_id", _call("erase")),
]


@pytest.mark.parametrize(("field", "call"), INVALID, ids=[f"{i}-{f}" for i, (f, _) in enumerate(INVALID)])
def test_invalid_arguments_raise_at_once_naming_them(
    make_client: Callable[..., preflog.Client], field: str, call: Callable[[preflog.Client], object]
) -> None:
    client = make_client()
    with pytest.raises(preflog.ValidationError) as caught:
        call(client)
    assert caught.value.field == field, str(caught.value)
    assert client.stats().logged == 0


def test_configuration_errors(db: str) -> None:
    with pytest.raises(preflog.errors.ConfigError, match="project"):
        preflog.Client(db=db, project="no spaces")
    with pytest.raises(preflog.errors.ConfigError, match="on_full"):
        preflog.Client(db=db, on_full="explode")
    with pytest.raises(preflog.errors.ConfigError, match="batch_size"):
        preflog.Client(db=db, batch_size=0)
    with pytest.raises(preflog.errors.ConfigError, match="api_key= is for the HTTP transport"):
        preflog.Client(db=db, api_key="k")
    with pytest.raises(preflog.errors.ConfigError, match="url"):
        preflog.Client(url="ftp://example")
    with pytest.raises(preflog.errors.ConfigError, match="not both"):
        preflog.Client(db=db, url="http://127.0.0.1:9")


def test_url_without_the_http_module_is_a_config_error(monkeypatch: pytest.MonkeyPatch) -> None:
    # As in an install that lacks the HTTP transport: importing preflog.sdk.http fails.
    monkeypatch.setitem(sys.modules, "preflog.sdk.http", None)
    with pytest.raises(preflog.errors.ConfigError, match="HTTP transport is not available"):
        preflog.Client(url="http://127.0.0.1:9", project="p")


def test_env_fallbacks(monkeypatch: pytest.MonkeyPatch, db: str) -> None:
    monkeypatch.delenv("PREFLOG_URL", raising=False)
    monkeypatch.setenv("PREFLOG_DB", db)
    monkeypatch.setenv("PREFLOG_PROJECT", "from-env")
    with preflog.Client() as client:
        assert client.project == "from-env"
        rid = client.log_inference("q", ["a"], model="m")
    assert [e.request_id for e in stored(db, "from-env")] == [rid]


def test_preflog_url_picks_the_http_transport(
    monkeypatch: pytest.MonkeyPatch, db: str, tmp_path: Path
) -> None:
    monkeypatch.setenv("PREFLOG_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("PREFLOG_SPOOL_DIR", str(tmp_path / "spool"))
    client = preflog.Client(project="p", max_retries=0)
    try:
        assert type(client.transport).__name__ == "HTTPTransport"
    finally:
        client.close(timeout=1)
    with preflog.Client(db=db, project="p") as local:  # an explicit db= wins over the env
        assert isinstance(local.transport, LocalTransport)


# ---------------------------------------------------------------------------------------- contract version 2

# A Chat Completions response that only calls tools, as the OpenAI API returns it (and as the
# openai library's ``response.model_dump()`` gives it): content null, tool_calls, finish reason.
OPENAI_TOOL_CALL_RESPONSE: dict[str, Any] = {
    "id": "chatcmpl-AbC123",
    "object": "chat.completion",
    "created": 1764000000,
    "model": "gpt-4o-mini-2024-07-18",
    "choices": [
        {
            "index": 0,
            "message": {
                "role": "assistant",
                "content": None,
                "refusal": None,
                "tool_calls": [
                    {
                        "id": "call_Ab12",
                        "type": "function",
                        "function": {"name": "get_weather", "arguments": '{"city":"Paris","unit":"celsius"}'},
                    },
                    {
                        "id": "call_Cd34",
                        "type": "function",
                        "function": {"name": "get_weather", "arguments": '{"city":"Lyon","unit":"celsius"}'},
                    },
                ],
            },
            "logprobs": None,
            "finish_reason": "tool_calls",
        }
    ],
    "usage": {"prompt_tokens": 82, "completion_tokens": 51, "total_tokens": 133},
}


def test_an_openai_tool_call_answer_is_logged_as_given(
    make_client: Callable[..., preflog.Client], db: str
) -> None:
    choice = OPENAI_TOOL_CALL_RESPONSE["choices"][0]
    message = choice["message"]
    history = [
        {"role": "user", "content": "Weather in Paris and Lyon?"},
        {"role": "assistant", "content": None, "tool_calls": [message["tool_calls"][0]]},
        {"role": "tool", "tool_call_id": "call_Ab12", "content": '{"celsius": 14}'},
    ]
    client = make_client()
    rid = client.log_inference(
        history,
        candidates=[
            {
                "output": message["content"],
                "tool_calls": message["tool_calls"],
                "refusal": message["refusal"],
                "finish_reason": choice["finish_reason"],
                "usage": {"input_tokens": 82, "output_tokens": 51},
            },
            {"output": "", "finish_reason": "length"},  # an empty answer is data too
        ],
        model=OPENAI_TOOL_CALL_RESPONSE["model"],
    )
    message["tool_calls"][0]["function"]["arguments"] = "changed later"  # the event keeps the call's copy
    assert client.flush(timeout=10) and client.stats().rejected == 0
    (event,) = (e.event for e in stored(db))
    assert event["request_id"] == rid and event["prompt"][1]["content"] is None
    first, empty = event["candidates"]
    assert first["output"] == "" and first["finish_reason"] == "tool_calls"
    assert [c["function"]["arguments"] for c in first["tool_calls"]] == [
        '{"city":"Paris","unit":"celsius"}',
        '{"city":"Lyon","unit":"celsius"}',
    ]
    assert empty == {"candidate_id": "c1", "output": "", "finish_reason": "length", "model": first["model"]}
    assert validate_event(event) == {k: v for k, v in event.items() if k != "received_at"}


def test_a_continuation_candidate_and_empty_outputs(
    make_client: Callable[..., preflog.Client], db: str
) -> None:
    turns = [
        {
            "role": "assistant",
            "content": "",
            "tool_calls": [OPENAI_TOOL_CALL_RESPONSE["choices"][0]["message"]["tool_calls"][1]],
        },
        {"role": "tool", "tool_call_id": "call_Cd34", "name": "get_weather", "content": ""},
        {"role": "user", "content": "And tomorrow?"},
        {"role": "assistant", "content": "I can't see tomorrow's weather."},
    ]
    client = make_client()
    client.log_inference(
        "Weather in Lyon?", candidates=[{"messages": turns, "model": "agent"}, {"output": ""}], model="m"
    )
    client.log_inference("Say nothing", ["", " \n"], model="m")
    assert client.flush(timeout=10) and client.stats().rejected == 0
    agent, quiet = (e.event for e in stored(db))
    assert agent["candidates"][0] == {"candidate_id": "c0", "messages": turns, "model": {"name": "agent"}}
    assert agent["candidates"][1]["output"] == ""
    assert [c["output"] for c in quiet["candidates"]] == ["", " \n"]
    for event in (agent, quiet):
        assert validate_event(event) == {k: v for k, v in event.items() if k != "received_at"}


def test_the_worker_applies_the_limits_to_v2_candidates(
    make_client: Callable[..., preflog.Client], db: str
) -> None:
    """Sizes of tool calls and continuations are checked in the worker, not at the call."""
    client = make_client(limits=preflog.events.Limits(max_output_bytes=64))
    big = {"id": "c", "type": "function", "function": {"name": "f", "arguments": "x" * 100}}
    client.log_inference("q", candidates=[{"output": None, "tool_calls": [big], "model": "m"}])
    client.log_inference(
        "q", candidates=[{"messages": [{"role": "assistant", "content": "y" * 100}], "model": "m"}]
    )
    client.log_inference(
        "q",
        candidates=[
            {
                "output": "fits",
                "tool_calls": [dict(big, function={"name": "f", "arguments": "{}"})],
                "model": "m",
            }
        ],
    )
    assert client.flush(timeout=10)
    assert client.stats().rejected == 2 and len(stored(db)) == 1
