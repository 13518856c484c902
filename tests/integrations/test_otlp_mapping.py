"""The OTLP mapping on its own (no server): spans written as their conventions document them →
the events preflog makes, with what is ignored or rejected counted."""

from __future__ import annotations

import json
from typing import Any

import pytest

from preflog.events import validate_event
from preflog.integrations.otlp import Conversion, OtlpDecodeError, convert_spans, decode_request
from tests.integrations.otlp_json import END_NS, START_NS, TRACE_ID, messages, request, span

JSON = "application/json"

CURRENT_CHAT = {
    "gen_ai.operation.name": "chat",
    "gen_ai.provider.name": "openai",
    "gen_ai.request.model": "gpt-4o",
    "gen_ai.request.temperature": 0.7,
    "gen_ai.request.max_tokens": 200,
    "gen_ai.request.seed": 42,
    "gen_ai.response.model": "gpt-4o-2024-08-06",
    "gen_ai.response.id": "chatcmpl-123",
    "gen_ai.response.finish_reasons": ["stop", "tool_calls"],
    "gen_ai.usage.input_tokens": 30,
    "gen_ai.usage.output_tokens": 12,
    "gen_ai.system_instructions": json.dumps([{"type": "text", "content": "Be brief."}]),
    "gen_ai.input.messages": messages(("user", "Weather in Paris?")),
    "gen_ai.output.messages": json.dumps(
        [
            {"role": "assistant", "parts": [{"type": "text", "content": "Sunny."}], "finish_reason": "stop"},
            {
                "role": "assistant",
                "parts": [
                    {"type": "tool_call", "id": "call_1", "name": "weather", "arguments": {"city": "Paris"}}
                ],
                "finish_reason": "tool_call",
            },
        ]
    ),
    "user.id": "u-7",
    "gen_ai.conversation.id": "conv-1",
}


def v2(candidate: dict[str, Any], key: str) -> Any:
    """A contract-v2 candidate field: on the candidate, or in its metadata while the running
    contract (v1) has no place for it (``preflog.integrations.chat.fit_candidate``)."""
    return candidate.get(key, candidate.get("metadata", {}).get(key))


def convert(*spans: dict[str, Any]) -> Conversion:
    return convert_spans(decode_request(request(*spans), JSON))


def only(conversion: Conversion) -> dict[str, Any]:
    assert not conversion.problems, conversion.problems
    (event,) = conversion.events
    return event


def test_current_chat_span_becomes_one_inference_with_a_candidate_per_output_message() -> None:
    event = only(convert(span("0102030405060708", CURRENT_CHAT)))
    assert event["type"] == "inference"
    assert event["request_id"] == "chatcmpl-123"  # gen_ai.response.id
    assert event["occurred_at"] == "2026-09-21T14:13:20.000000Z"
    assert event["prompt"] == [{"role": "user", "content": "Weather in Paris?"}]
    assert event["system"] == "Be brief."
    assert event["user_id"] == "u-7" and event["session_id"] == "conv-1"
    c0, c1 = event["candidates"]
    assert (c0["candidate_id"], c0["output"], v2(c0, "finish_reason")) == ("c0", "Sunny.", "stop")
    assert (c1["candidate_id"], c1["output"], v2(c1, "finish_reason")) == ("c1", "", "tool_calls")
    assert v2(c1, "tool_calls") == [
        {
            "id": "call_1",
            "type": "function",
            "function": {"name": "weather", "arguments": '{"city": "Paris"}'},
        }
    ]
    assert c0["model"] == {"name": "gpt-4o", "version": "gpt-4o-2024-08-06", "provider": "openai"}
    assert c0["params"] == {"temperature": 0.7, "max_tokens": 200, "seed": 42}
    assert c0["latency_ms"] == (END_NS - START_NS) / 1e6
    assert "usage" not in c0  # two candidates: the request's usage is nobody's in particular
    assert event["metadata"]["usage"] == {"input_tokens": 30, "output_tokens": 12}
    assert event["metadata"]["otlp"] == {
        "trace_id": TRACE_ID,
        "span_id": "0102030405060708",
        "name": "chat gpt-4o",
        "service": "checkout",
    }


def test_request_id_attribute_wins_then_response_id_then_span_id() -> None:
    explicit = only(convert(span("0102030405060708", {**CURRENT_CHAT, "preflog.request_id": "r-42"})))
    assert explicit["request_id"] == "r-42"
    bare = {k: v for k, v in CURRENT_CHAT.items() if k != "gen_ai.response.id"}
    assert only(convert(span("0a0b0c0d0e0f1011", bare)))["request_id"] == "0a0b0c0d0e0f1011"


def test_event_ids_derive_from_trace_and_span_ids() -> None:
    first = only(convert(span("0102030405060708", CURRENT_CHAT)))
    again = only(convert(span("0102030405060708", CURRENT_CHAT)))
    other_span = only(convert(span("0102030405060709", CURRENT_CHAT)))
    other_trace = only(convert(span("0102030405060708", CURRENT_CHAT, trace_id="f" * 32)))
    assert first["event_id"] == again["event_id"]
    assert len({first["event_id"], other_span["event_id"], other_trace["event_id"]}) == 3


def test_v1_36_names_and_structured_values() -> None:
    """v1.36 and before: ``gen_ai.system`` names the provider, usage may say prompt/completion
    tokens, and messages may be structured (kvlist/array) rather than a JSON string."""
    attrs = {
        "gen_ai.operation.name": "chat",
        "gen_ai.system": "anthropic",
        "gen_ai.request.model": "claude-x",
        "gen_ai.usage.prompt_tokens": 9,
        "gen_ai.usage.completion_tokens": 3,
        "gen_ai.input.messages": [
            {"role": "system", "parts": [{"type": "text", "content": "Be kind."}]},
            {"role": "user", "parts": [{"type": "text", "content": "Hi"}]},
        ],
        "gen_ai.output.messages": [{"role": "assistant", "parts": [{"type": "text", "content": "Hello!"}]}],
    }
    event = only(convert(span("1111111111111111", attrs)))
    (candidate,) = event["candidates"]
    assert candidate["model"] == {"name": "claude-x", "provider": "anthropic"}
    assert candidate["usage"] == {"input_tokens": 9, "output_tokens": 3}
    assert event["system"] == "Be kind." and event["prompt"] == [{"role": "user", "content": "Hi"}]
    assert candidate["output"] == "Hello!"


def test_tool_results_in_the_prompt_become_tool_turns() -> None:
    attrs = {
        **CURRENT_CHAT,
        "gen_ai.input.messages": json.dumps(
            [
                {"role": "user", "parts": [{"type": "text", "content": "Weather?"}]},
                {
                    "role": "assistant",
                    "parts": [{"type": "tool_call", "id": "c9", "name": "w", "arguments": {}}],
                },
                {
                    "role": "tool",
                    "parts": [{"type": "tool_call_response", "id": "c9", "response": {"t": 21}}],
                },
            ]
        ),
    }
    prompt = only(convert(span("2222222222222222", attrs)))["prompt"]
    assert prompt[1]["role"] == "assistant" and prompt[1]["tool_calls"][0]["function"]["name"] == "w"
    assert prompt[2] == {"role": "tool", "content": '{"t": 21}', "tool_call_id": "c9"}


def test_legacy_flattened_prompt_and_completion_attributes() -> None:
    attrs = {
        "llm.request.type": "chat",
        "gen_ai.system": "openai",
        "gen_ai.request.model": "gpt-3.5-turbo",
        "gen_ai.prompt.0.role": "system",
        "gen_ai.prompt.0.content": "You are terse.",
        "gen_ai.prompt.1.role": "user",
        "gen_ai.prompt.1.content": "2+2?",
        "gen_ai.completion.0.role": "assistant",
        "gen_ai.completion.0.content": "4",
        "gen_ai.completion.0.finish_reason": "stop",
        "gen_ai.completion.1.role": "assistant",
        "gen_ai.completion.1.finish_reason": "tool_calls",
        "gen_ai.completion.1.tool_calls.0.id": "t1",
        "gen_ai.completion.1.tool_calls.0.name": "calc",
        "gen_ai.completion.1.tool_calls.0.arguments": '{"expr": "2+2"}',
    }
    event = only(convert(span("3333333333333333", attrs)))
    assert event["system"] == "You are terse." and event["prompt"] == [{"role": "user", "content": "2+2?"}]
    c0, c1 = event["candidates"]
    assert (c0["output"], v2(c0, "finish_reason")) == ("4", "stop")
    assert v2(c1, "tool_calls")[0]["function"] == {"name": "calc", "arguments": '{"expr": "2+2"}'}


def test_text_completion_prompt_stays_a_string() -> None:
    attrs = {
        "gen_ai.operation.name": "text_completion",
        "gen_ai.request.model": "davinci",
        "gen_ai.input.messages": messages(("user", "Once upon a time")),
        "gen_ai.output.messages": messages(("assistant", " there was a fox.")),
    }
    event = only(convert(span("4444444444444444", attrs)))
    assert event["prompt"] == "Once upon a time"
    assert event["candidates"][0]["output"] == " there was a fox."


def test_openinference_llm_span() -> None:
    attrs = {
        "openinference.span.kind": "LLM",
        "llm.model_name": "gpt-4o-mini",
        "llm.provider": "openai",
        "llm.invocation_parameters": json.dumps(
            {"temperature": 0.2, "max_completion_tokens": 64, "model": "x"}
        ),
        "llm.input_messages.0.message.role": "system",
        "llm.input_messages.0.message.content": "Answer in French.",
        "llm.input_messages.1.message.role": "user",
        "llm.input_messages.1.message.contents.0.message_content.type": "text",
        "llm.input_messages.1.message.contents.0.message_content.text": "Hello",
        "llm.output_messages.0.message.role": "assistant",
        "llm.output_messages.0.message.content": "Bonjour",
        "llm.output_messages.1.message.role": "assistant",
        "llm.output_messages.1.message.tool_calls.0.tool_call.id": "x1",
        "llm.output_messages.1.message.tool_calls.0.tool_call.function.name": "translate",
        "llm.output_messages.1.message.tool_calls.0.tool_call.function.arguments": '{"to": "fr"}',
        "llm.token_count.prompt": 12,
        "llm.token_count.completion": 4,
        "llm.token_count.total": 16,
        "user.id": "u-1",
        "session.id": "s-1",
        "tag.tags": ["beta"],
        "metadata": json.dumps({"experiment": "fr"}),
    }
    event = only(convert(span("5555555555555555", attrs, name="ChatCompletion")))
    assert event["request_id"] == "5555555555555555"
    assert event["system"] == "Answer in French." and event["prompt"] == [
        {"role": "user", "content": "Hello"}
    ]
    c0, c1 = event["candidates"]
    assert c0["output"] == "Bonjour" and c0["model"] == {"name": "gpt-4o-mini", "provider": "openai"}
    assert c0["params"] == {"temperature": 0.2, "max_tokens": 64}
    assert v2(c1, "tool_calls") == [
        {"id": "x1", "type": "function", "function": {"name": "translate", "arguments": '{"to": "fr"}'}}
    ]
    assert event["metadata"]["usage"] == {"input_tokens": 12, "output_tokens": 4, "total_tokens": 16}
    assert (event["user_id"], event["session_id"], event["tags"]) == ("u-1", "s-1", ["beta"])
    assert event["metadata"]["openinference"] == {"experiment": "fr"}


def test_evaluation_results_become_scores_of_the_span_request() -> None:
    evaluation = {
        "gen_ai.evaluation.name": "relevance",
        "gen_ai.evaluation.score.value": 0.8,
        "gen_ai.evaluation.score.label": "relevant",
        "gen_ai.evaluation.explanation": "On topic.",
    }
    other = {
        "gen_ai.evaluation.name": "tone",
        "gen_ai.evaluation.score.value": 2,
        "preflog.candidate_id": "c1",
    }
    label_only = {"gen_ai.evaluation.name": "policy", "gen_ai.evaluation.score.label": "pass"}
    events = [
        ("gen_ai.evaluation.result", evaluation),
        ("gen_ai.evaluation.result", other),
        ("gen_ai.evaluation.result", label_only),
        ("something.else", {}),
    ]
    conversion = convert(span("6666666666666666", CURRENT_CHAT, events=events))
    inference, relevance, tone = conversion.events
    assert inference["type"] == "inference"
    assert relevance == {
        "event_id": relevance["event_id"],
        "type": "score",
        "request_id": "chatcmpl-123",
        "occurred_at": "2026-09-21T14:13:20.812500Z",
        "candidate_id": "c0",
        "score": 0.8,
        "scorer": {"name": "relevance"},
        "criterion": "relevance",
        "metadata": {"evaluation": {"score.label": "relevant", "explanation": "On topic."}},
    }
    assert (tone["candidate_id"], tone["score"]) == ("c1", 2)
    (problem,) = conversion.problems
    assert "policy" in problem.reason and "numeric" in problem.reason


def test_spans_without_content_are_rejected_and_others_ignored() -> None:
    no_content = {
        k: v for k, v in CURRENT_CHAT.items() if not k.startswith(("gen_ai.input", "gen_ai.output"))
    }
    http = {"http.request.method": "POST", "url.full": "https://example.test/"}
    embeddings = {"gen_ai.operation.name": "embeddings", "gen_ai.request.model": "e5"}
    conversion = convert(
        span("7777777777777777", no_content),
        span("8888888888888888", http, name="POST"),
        span("9999999999999999", embeddings, name="embeddings e5"),
    )
    assert conversion.events == []
    assert (conversion.spans, conversion.llm_spans, conversion.ignored) == (3, 1, 2)
    (problem,) = conversion.problems
    assert problem.span_id == "7777777777777777" and "content capture" in problem.reason


def test_protobuf_and_json_decode_to_the_same_spans() -> None:
    from google.protobuf import json_format
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

    body = json.loads(request(span("0102030405060708", CURRENT_CHAT, events=[("e", {"k": [1, 2]})])))
    for rs in body["resourceSpans"]:  # the proto3 JSON mapping writes bytes as base64, OTLP/JSON as hex
        for ss in rs["scopeSpans"]:
            for s in ss["spans"]:
                for key in ("traceId", "spanId"):
                    s[key] = __import__("base64").b64encode(bytes.fromhex(s[key])).decode()
    message = json_format.ParseDict(body, ExportTraceServiceRequest())
    from_proto = decode_request(message.SerializeToString(), "application/x-protobuf")
    from_json = decode_request(
        request(span("0102030405060708", CURRENT_CHAT, events=[("e", {"k": [1, 2]})])), JSON
    )
    assert from_proto == from_json
    assert decode_request(json.dumps(body).encode(), JSON) == from_json  # base64 ids are read too


@pytest.mark.parametrize(
    ("body", "where"),
    [
        (b"not json", "not JSON"),
        (b"[]", "body: must be an object"),
        (b'{"resourceSpans": {}}', "resourceSpans: must be a list"),
        (b'{"resourceSpans": [{"scopeSpans": [{"spans": [{"traceId": "xyz"}]}]}]}', "traceId"),
        (
            b'{"resourceSpans": [{"scopeSpans": [{"spans": [{"startTimeUnixNano": true}]}]}]}',
            "startTimeUnixNano",
        ),
    ],
)
def test_malformed_json_names_the_problem(body: bytes, where: str) -> None:
    with pytest.raises(OtlpDecodeError, match=where):
        decode_request(body, JSON)


def test_malformed_protobuf_is_refused() -> None:
    with pytest.raises(OtlpDecodeError, match="protobuf"):
        decode_request(b"\xff\xff\xff", "application/x-protobuf")


def test_every_event_made_is_valid() -> None:
    text_only = {
        **CURRENT_CHAT,
        "gen_ai.output.messages": messages(("assistant", "Sunny."), ("assistant", "Rainy.")),
    }
    evaluation = {"gen_ai.evaluation.name": "relevance", "gen_ai.evaluation.score.value": 1}
    conversion = convert(
        span("0102030405060708", text_only, events=[("gen_ai.evaluation.result", evaluation)])
    )
    assert len(conversion.events) == 2
    for event in conversion.events:
        validate_event(event, project="p")


def test_tool_call_candidates_are_valid_v2_events() -> None:
    event = only(convert(span("0102030405060708", CURRENT_CHAT)))
    validated = validate_event(event, project="p")
    assert validated["candidates"][1]["tool_calls"][0]["function"]["name"] == "weather"
