"""``wrap_anthropic``: the real ``anthropic`` SDK against the loopback stub (its ``/v1/messages``,
plain and streamed), logging to a real SQLite store; the stored events are read back."""

from __future__ import annotations

import json

import anthropic
import openai
import pytest

import preflog
from preflog.integrations import wrap_anthropic, wrap_openai
from tests.integrations.stub_llm import ANTHROPIC_VERSION, StubLLM, answer_text, logged, run_async, user


@pytest.fixture
def claude(stub: StubLLM, client: preflog.Client) -> anthropic.Anthropic:
    return wrap_anthropic(anthropic.Anthropic(base_url=stub.base, api_key="k", max_retries=0), client)


CUT = "incomplete chunked read|Connection error"  # the SDK's transport error, whichever it raises
TOOLS = [{"name": "get_weather", "description": "Weather", "input_schema": {"type": "object"}}]


def test_a_message_is_one_candidate_with_model_params_usage_and_the_request_id(
    claude: anthropic.Anthropic, client: preflog.Client, db: str, stub: StubLLM
) -> None:
    message = claude.messages.create(
        model="claude-x",
        max_tokens=128,
        extra_body={"temperature": 0.2, "top_k": 40},  # anthropic 2.x has no keyword for them
        system="Be brief.",
        messages=user("Hello Claude"),
        metadata={"user_id": "user-7"},
    )
    assert message.content[0].text == answer_text(0, "Hello Claude")  # type: ignore[union-attr]
    assert message.preflog_request_id == message.id == preflog.current_request_id()  # type: ignore[attr-defined]
    [event] = logged(client, db)
    assert (
        event["request_id"] == message.id and event["system"] == "Be brief." and event["user_id"] == "user-7"
    )
    [cand] = event["candidates"]
    assert cand["output"] == answer_text(0, "Hello Claude") and cand["finish_reason"] == "end_turn"
    assert cand["model"] == {"name": "claude-x", "version": ANTHROPIC_VERSION, "provider": "anthropic"}
    assert cand["params"] == {"temperature": 0.2, "top_k": 40, "max_tokens": 128}
    assert cand["usage"] == {"input_tokens": 13, "output_tokens": 6}
    assert "preflog_request_id" not in stub.requests[-1]


def test_tool_use_blocks_become_tool_calls_and_earlier_tool_turns_a_chat_prompt(
    claude: anthropic.Anthropic, client: preflog.Client, db: str
) -> None:
    history = [
        {"role": "user", "content": "Is it cold in Oslo?"},
        {
            "role": "assistant",
            "content": [
                {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {"city": "Oslo"}}
            ],
        },
        {
            "role": "user",
            "content": [
                {"type": "tool_result", "tool_use_id": "toolu_1", "content": "-5C"},
                {"type": "text", "text": "And the weather in Paris?"},
            ],
        },
    ]
    claude.messages.create(model="claude-x", max_tokens=64, tools=TOOLS, messages=history)  # type: ignore[arg-type]
    [event] = logged(client, db)
    assert event["prompt"] == [
        {"role": "user", "content": "Is it cold in Oslo?"},
        {
            "role": "assistant",
            "content": "",
            "tool_calls": [
                {
                    "id": "toolu_1",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"city": "Oslo"}'},
                }
            ],
        },
        {"role": "tool", "content": "-5C", "tool_call_id": "toolu_1"},
        {"role": "user", "content": "And the weather in Paris?"},
    ]
    [cand] = event["candidates"]
    assert cand["output"] == "Let me look." and cand["finish_reason"] == "tool_use"
    assert cand["tool_calls"] == [
        {
            "id": "toolu_w0",
            "type": "function",
            "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
        }
    ]


def test_a_raw_stream_logs_once_at_its_end_like_the_plain_call(
    claude: anthropic.Anthropic, client: preflog.Client, db: str
) -> None:
    claude.messages.create(model="claude-x", max_tokens=64, messages=user("weather please"))
    stream = claude.messages.create(
        model="claude-x", max_tokens=64, messages=user("weather please"), stream=True
    )
    kinds = [event.type for event in stream]
    assert kinds[0] == "message_start" and kinds[-1] == "message_stop"
    plain, streamed = logged(client, db)
    fields = ("output", "tool_calls", "finish_reason", "model", "usage")
    assert {k: plain["candidates"][0].get(k) for k in fields} == {
        k: streamed["candidates"][0].get(k) for k in fields
    }
    assert streamed["request_id"] == stream.preflog_request_id  # type: ignore[attr-defined]


def test_the_stream_helper_logs_when_its_block_ends_whatever_the_application_read(
    claude: anthropic.Anthropic, client: preflog.Client, db: str
) -> None:
    with claude.messages.stream(model="claude-x", max_tokens=64, messages=user("stream me")) as stream:
        text = "".join(stream.text_stream)
    with claude.messages.stream(
        model="claude-x",
        max_tokens=64,
        messages=user("weather now"),
        preflog_request_id="mine",  # type: ignore[call-arg]
    ) as stream:
        final = stream.get_final_message()
    assert text == answer_text(0, "stream me") and final.stop_reason == "tool_use"
    first, second = logged(client, db)
    assert first["candidates"][0]["output"] == text and first["candidates"][0]["finish_reason"] == "end_turn"
    assert second["request_id"] == "mine" == stream.preflog_request_id  # type: ignore[attr-defined]
    assert json.loads(second["candidates"][0]["tool_calls"][0]["function"]["arguments"]) == {"city": "Paris"}


def test_a_stream_cut_off_midway_raises_and_logs_its_partial_answer(
    claude: anthropic.Anthropic, client: preflog.Client, db: str
) -> None:
    question = "please cut this long answer off"
    with (
        pytest.raises(Exception, match=CUT),
        claude.messages.stream(model="claude-x", max_tokens=64, messages=user(question)) as stream,
    ):
        for _ in stream.text_stream:
            pass
    with pytest.raises(Exception, match=CUT):
        for _ in claude.messages.create(
            model="claude-x", max_tokens=64, messages=user(question), stream=True
        ):
            pass
    for event in logged(client, db):
        [cand] = event["candidates"]
        assert cand["output"] and answer_text(0, question).startswith(cand["output"])
        assert cand["output"] != answer_text(0, question) and "finish_reason" not in cand
        assert cand["metadata"]["partial"] is True and cand["metadata"]["stream_end"] == "error"
    assert len(logged(client, db)) == 2


def test_an_empty_answer_cut_by_max_tokens_is_an_answer(
    claude: anthropic.Anthropic, client: preflog.Client, db: str
) -> None:
    claude.messages.create(model="claude-x", max_tokens=1, messages=user("an empty one"))
    [event] = logged(client, db)
    assert event["candidates"][0]["output"] == "" and event["candidates"][0]["finish_reason"] == "max_tokens"


def test_async_create_and_stream_helper(stub: StubLLM, client: preflog.Client, db: str) -> None:
    aclaude = wrap_anthropic(anthropic.AsyncAnthropic(base_url=stub.base, api_key="k", max_retries=0), client)

    async def main() -> str:
        await aclaude.messages.create(model="claude-x", max_tokens=64, messages=user("async hello"))
        async with aclaude.messages.stream(
            model="claude-x", max_tokens=64, messages=user("async stream")
        ) as s:
            return "".join([text async for text in s.text_stream])

    text = run_async(main)
    plain, streamed = logged(client, db)
    assert plain["candidates"][0]["output"] == answer_text(0, "async hello")
    assert streamed["candidates"][0]["output"] == text == answer_text(0, "async stream")


def test_an_ab_test_across_providers_is_one_candidate_set(
    claude: anthropic.Anthropic, stub: StubLLM, client: preflog.Client, db: str
) -> None:
    gpt = wrap_openai(openai.OpenAI(base_url=stub.url, api_key="k", max_retries=0), client)
    question = "Write a haiku"
    with client.candidate_set(user(question)) as ab:
        gpt.chat.completions.create(model="gpt-x", messages=user(question), n=2)
        with claude.messages.stream(model="claude-x", max_tokens=64, messages=user(question)) as stream:
            stream.until_done()
        ab.presented = ["c2", "c0", "c1"]
    [event] = logged(client, db)
    assert event["request_id"] == ab.request_id and event["presented"] == ["c2", "c0", "c1"]
    assert [c["model"]["provider"] for c in event["candidates"]] == ["openai", "openai", "anthropic"]
    assert event["candidates"][2]["output"] == answer_text(0, question)
