"""``wrap_openai``: the real ``openai`` SDK against the loopback stub (tests/integrations/stub_llm.py),
logging to a real SQLite store through ``preflog.Client``; the stored events are read back."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import openai
import pytest

import preflog
from preflog.events import is_empty_answer
from preflog.integrations import wrap_openai
from tests.integrations.stub_llm import (
    MODEL_VERSION,
    PROJECT,
    WEATHER_ARGS,
    StubLLM,
    answer_text,
    logged,
    run_async,
    user,
)


@pytest.fixture
def oa(stub: StubLLM, client: preflog.Client) -> openai.OpenAI:
    return wrap_openai(openai.OpenAI(base_url=stub.url, api_key="sk-test", max_retries=0), client)


def test_n3_choices_become_three_candidates_with_model_params_usage_and_tool_calls(
    oa: openai.OpenAI, client: preflog.Client, db: str, stub: StubLLM
) -> None:
    question = "What is the weather in Paris?"
    messages = [{"role": "system", "content": "Be brief."}, *user(question)]
    answer = oa.chat.completions.create(
        model="gpt-x", messages=messages, n=3, temperature=0.7, top_p=0.9, max_tokens=64, seed=7
    )
    assert answer.choices[1].message.content == answer_text(1, question)  # the call is unchanged
    assert answer.preflog_request_id == answer.id == preflog.current_request_id()  # type: ignore[attr-defined]
    assert answer.preflog_candidate_ids == ["c0", "c1", "c2"]  # type: ignore[attr-defined]
    assert "preflog_request_id" not in answer.model_dump() and "preflog" not in answer.to_json()

    [event] = logged(client, db)
    assert event["request_id"] == answer.id
    assert event["prompt"] == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": question},
    ]
    c0, c1, c2 = event["candidates"]
    assert [c["candidate_id"] for c in (c0, c1, c2)] == ["c0", "c1", "c2"]
    assert c0["output"] == "" and c0["finish_reason"] == "tool_calls"
    assert c0["tool_calls"] == [
        {"id": "call_w0", "type": "function", "function": {"name": "get_weather", "arguments": WEATHER_ARGS}}
    ]
    assert (c1["output"], c1["finish_reason"], c2["output"]) == (
        answer_text(1, question),
        "stop",
        answer_text(2, question),
    )
    assert c1["model"] == {"name": "gpt-x", "version": MODEL_VERSION, "provider": "openai"}
    assert c1["params"] == {"temperature": 0.7, "top_p": 0.9, "max_tokens": 64, "seed": 7}
    assert c1["usage"] == {"input_tokens": 11, "output_tokens": 21, "total_tokens": 32, "choices": 3}
    assert c1["latency_ms"] > 0 and c1["metadata"]["response_id"] == answer.id
    assert client.stats().integration_errors == 0


def test_the_request_id_keyword_is_used_and_never_sent(
    oa: openai.OpenAI, client: preflog.Client, db: str, stub: StubLLM
) -> None:
    answer = oa.chat.completions.create(model="gpt-x", messages=user("Hi"), preflog_request_id="req-42")  # type: ignore[call-overload]
    assert "preflog_request_id" not in stub.requests[-1]
    assert answer.preflog_request_id == "req-42" == preflog.current_request_id()
    [event] = logged(client, db)
    assert event["request_id"] == "req-42" and len(event["candidates"]) == 1


def test_a_stream_of_interleaved_choices_logs_once_when_it_ends_like_the_plain_call(
    oa: openai.OpenAI, client: preflog.Client, db: str
) -> None:
    question = "weather in Lyon?"
    oa.chat.completions.create(model="gpt-x", messages=user(question), n=3)
    stream = oa.chat.completions.create(
        model="gpt-x", messages=user(question), n=3, stream=True, stream_options={"include_usage": True}
    )
    chunks = list(stream)
    assert [c.choices[0].index for c in chunks[:3]] == [0, 1, 2]  # interleaved, as the API sends them
    assert len(logged(client, db)) == 2  # the stream was logged when it ended
    stream.close()  # closing it after the end logs nothing more
    plain_event, streamed = logged(client, db)
    assert streamed["request_id"] == chunks[0].id == stream.preflog_request_id  # type: ignore[attr-defined]
    fields = ("candidate_id", "output", "tool_calls", "finish_reason", "model")
    for a, b in zip(plain_event["candidates"], streamed["candidates"], strict=True):
        assert {k: a.get(k) for k in fields} == {k: b.get(k) for k in fields}
        assert b["metadata"]["stream"] is True and "partial" not in b["metadata"]
    assert streamed["candidates"][0]["usage"]["output_tokens"] == 21


def test_a_stream_cut_off_midway_raises_to_the_caller_and_logs_its_partial_answers(
    oa: openai.OpenAI, client: preflog.Client, db: str
) -> None:
    question = "please cut this answer off in the middle"
    stream = oa.chat.completions.create(model="gpt-x", messages=user(question), n=2, stream=True)
    seen = []
    with pytest.raises(openai.APIConnectionError):
        for chunk in stream:
            seen.append(chunk)
    assert seen  # half of the events arrived
    [event] = logged(client, db)
    for i, cand in enumerate(event["candidates"]):
        assert answer_text(i, question).startswith(cand["output"]) and cand["output"]
        assert cand["output"] != answer_text(i, question)
        assert "finish_reason" not in cand
        assert cand["metadata"]["partial"] is True and cand["metadata"]["stream_end"] == "error"
        assert "stream_error" in cand["metadata"]
    assert client.stats().integration_errors == 0


def test_a_stream_closed_early_or_dropped_logs_once_flagged_partial(
    oa: openai.OpenAI, client: preflog.Client, db: str
) -> None:
    with oa.chat.completions.create(model="gpt-x", messages=user("one two three"), stream=True) as stream:
        first = next(iter(stream))
        assert first.choices[0].delta.role == "assistant"
    dropped = oa.chat.completions.create(model="gpt-x", messages=user("four five six"), stream=True)
    next(dropped)
    del dropped  # never finished, never closed: logged when collected
    closed, abandoned = logged(client, db)
    assert closed["candidates"][0]["metadata"]["stream_end"] == "closed"
    assert abandoned["candidates"][0]["metadata"]["stream_end"] == "abandoned"
    assert closed["candidates"][0]["output"] == "" and closed["candidates"][0]["metadata"]["partial"]


def test_refusals_and_empty_answers_are_answers(oa: openai.OpenAI, client: preflog.Client, db: str) -> None:
    oa.chat.completions.create(model="gpt-x", messages=user("refuse this"))
    # closed before its first chunk: no answer arrived, so there is nothing to log
    oa.chat.completions.create(model="gpt-x", messages=user("an empty one"), stream=True).close()
    for chunk in oa.chat.completions.create(model="gpt-x", messages=user("empty again"), stream=True):
        assert chunk.id
    refused, empty = logged(client, db)
    assert refused["candidates"][0]["refusal"] == "I can't help with that."
    assert refused["candidates"][0]["output"] == ""
    assert empty["candidates"][0]["finish_reason"] == "length" and is_empty_answer(empty["candidates"][0])


def test_parse_and_the_responses_api(oa: openai.OpenAI, client: preflog.Client, db: str) -> None:
    parsed = oa.chat.completions.parse(
        model="gpt-x", messages=user("Name one city"), response_format={"type": "json_object"}
    )
    response = oa.responses.create(
        model="gpt-r", input="Say hello", instructions="Be brief.", max_output_tokens=50
    )
    oa.responses.create(model="gpt-r", input="weather in Rome?")
    streamed = oa.responses.create(model="gpt-r", input="Say hello again", stream=True)
    events = list(streamed)
    assert events[-1].type == "response.completed"
    p, r, f, s = logged(client, db)
    assert json.loads(p["candidates"][0]["output"]) == {"answer": answer_text(0, "Name one city")}
    assert p["request_id"] == parsed.id
    assert r["request_id"] == response.id and r["system"] == "Be brief." and r["prompt"] == "Say hello"
    assert r["candidates"][0]["output"] == response.output_text == answer_text(0, "Say hello")
    assert r["candidates"][0]["params"] == {"max_tokens": 50}
    assert r["candidates"][0]["usage"] == {"input_tokens": 9, "output_tokens": 5, "total_tokens": 14}
    assert f["candidates"][0]["tool_calls"][0]["function"] == {
        "name": "get_weather",
        "arguments": WEATHER_ARGS,
    }
    assert f["candidates"][0]["finish_reason"] == "tool_calls"
    assert s["candidates"][0]["output"] == answer_text(0, "Say hello again")
    assert s["candidates"][0]["finish_reason"] == "stop" and s["request_id"] == streamed.preflog_request_id  # type: ignore[attr-defined]


def test_async_calls_and_streams(stub: StubLLM, client: preflog.Client, db: str) -> None:
    aoa = wrap_openai(openai.AsyncOpenAI(base_url=stub.url, api_key="sk-test", max_retries=0), client)

    async def main() -> tuple[Any, Any, list[Any]]:
        plain = await aoa.chat.completions.create(model="gpt-x", messages=user("async hi"), n=2)
        rid = preflog.current_request_id()
        stream = await aoa.chat.completions.create(
            model="gpt-x", messages=user("async stream"), n=2, stream=True
        )
        chunks = [chunk async for chunk in stream]
        return plain, rid, chunks

    plain, rid, chunks = run_async(main)
    assert rid == plain.id == plain.preflog_request_id
    first, second = logged(client, db)
    assert [c["output"] for c in first["candidates"]] == [answer_text(i, "async hi") for i in range(2)]
    assert [c["output"] for c in second["candidates"]] == [answer_text(i, "async stream") for i in range(2)]
    assert second["request_id"] == chunks[0].id


def test_azure_clients_are_logged_as_azure(stub: StubLLM, client: preflog.Client, db: str) -> None:
    azure = openai.AzureOpenAI(azure_endpoint=stub.base, api_key="k", api_version="2024-10-21", max_retries=0)
    wrap_openai(azure, client)
    azure.chat.completions.create(model="my-deployment", messages=user("Hi Azure"))
    assert "/openai/deployments/my-deployment/chat/completions" in stub.paths[-1]
    [event] = logged(client, db)
    assert event["candidates"][0]["model"]["provider"] == "azure.ai.openai"
    assert event["candidates"][0]["model"]["name"] == "my-deployment"


def test_provider_errors_pass_through_unchanged_and_nothing_is_logged(
    oa: openai.OpenAI, client: preflog.Client, db: str
) -> None:
    with pytest.raises(openai.BadRequestError, match="bad request"):
        oa.chat.completions.create(model="gpt-x", messages=user("a bad request"))
    assert logged(client, db) == [] and client.stats().integration_errors == 0


def test_a_store_that_is_down_never_fails_the_call_and_is_counted(stub: StubLLM, tmp_path: Path) -> None:
    (tmp_path / "not-a-dir").write_text("a file where the store's directory should be")
    with preflog.Client(db=str(tmp_path / "not-a-dir" / "events.db"), project=PROJECT, max_retries=0) as down:
        oa = wrap_openai(openai.OpenAI(base_url=stub.url, api_key="k", max_retries=0), down)
        answer = oa.chat.completions.create(model="gpt-x", messages=user("still there?"), n=2)
        assert answer.choices[1].message.content == answer_text(1, "still there?")
        down.flush(10)
        stats = down.stats()
    assert stats.failed == 1 and stats.last_error


def test_a_service_that_is_down_never_fails_the_call_and_the_event_waits_in_the_spool(
    stub: StubLLM, tmp_path: Path
) -> None:
    down = preflog.Client(
        url="http://127.0.0.1:9", api_key="k", project=PROJECT, max_retries=0, spool_dir=tmp_path / "spool"
    )
    with down:
        oa = wrap_openai(openai.OpenAI(base_url=stub.url, api_key="k", max_retries=0), down)
        answer = oa.chat.completions.create(model="gpt-x", messages=user("anyone home?"))
        assert answer.choices[0].message.content == answer_text(0, "anyone home?")
        down.flush(10)
        stats = down.stats()
    assert stats.spooled == 1 and stats.spool_pending == 1 and stats.integration_errors == 0


def test_an_answer_the_contract_refuses_is_counted_rejected_and_the_call_returns(
    oa: openai.OpenAI, client: preflog.Client, db: str
) -> None:
    # A blank user turn is valid for the API but not for the event contract: the event is built
    # (and checked) in the client's worker, which counts it rejected with the reason.
    answer = oa.chat.completions.create(model="gpt-x", messages=[{"role": "user", "content": "  "}])
    assert answer.choices[0].message.content == answer_text(0, "  ")
    assert logged(client, db) == []
    stats = client.stats()
    assert stats.rejected == 1 and "prompt[0].content" in (stats.last_error or "")
    assert stats.integration_errors == 0  # errors of the calling thread's part are counted there


def test_wrapping_twice_logs_once(oa: openai.OpenAI, client: preflog.Client, db: str) -> None:
    assert wrap_openai(oa, client) is oa
    oa.chat.completions.create(model="gpt-x", messages=user("once"))
    assert len(logged(client, db)) == 1


def test_importing_preflog_and_its_integrations_loads_no_llm_library() -> None:
    code = (
        "import sys, preflog, preflog.integrations\n"
        "print(sorted(m for m in ('openai', 'anthropic', 'litellm') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_a_responses_continuation_logs_its_tool_turns_as_the_prompt(
    oa: openai.OpenAI, client: preflog.Client, db: str
) -> None:
    first = oa.responses.create(model="gpt-r", input="weather in Rome?")
    history: list[Any] = [
        {"role": "user", "content": "weather in Rome?"},
        {"type": "reasoning", "id": "rs_1", "summary": []},  # the model's working: not a turn
        *first.output,  # the SDK's own objects, passed back as the API allows
        {"type": "function_call_output", "call_id": "call_w0", "output": '{"temp": 21}'},
    ]
    oa.responses.create(model="gpt-r", input=history)
    _, second = logged(client, db)
    call = {
        "id": "call_w0",
        "type": "function",
        "function": {"name": "get_weather", "arguments": WEATHER_ARGS},
    }
    assert second["prompt"] == [
        {"role": "user", "content": "weather in Rome?"},
        {"role": "assistant", "content": "", "tool_calls": [call]},
        {"role": "tool", "content": '{"temp": 21}', "tool_call_id": "call_w0"},
    ]


def test_async_parse_and_responses_streams(stub: StubLLM, client: preflog.Client, db: str) -> None:
    aoa = wrap_openai(openai.AsyncOpenAI(base_url=stub.url, api_key="sk-test", max_retries=0), client)

    async def main() -> tuple[Any, Any]:
        parsed = await aoa.chat.completions.parse(
            model="gpt-x", messages=user("async parse"), response_format={"type": "json_object"}
        )
        stream = await aoa.responses.create(model="gpt-r", input="async response", stream=True)
        async with stream:
            events = [event async for event in stream]
        assert events[-1].type == "response.completed"
        return parsed, stream

    parsed, stream = run_async(main)
    first, second = logged(client, db)
    assert first["request_id"] == parsed.id
    assert json.loads(first["candidates"][0]["output"]) == {"answer": answer_text(0, "async parse")}
    assert second["request_id"] == stream.preflog_request_id
    assert second["candidates"][0]["output"] == answer_text(0, "async response")
    assert "partial" not in second["candidates"][0]["metadata"]
