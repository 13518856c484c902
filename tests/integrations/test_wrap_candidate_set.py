"""``client.candidate_set``: several wrapped calls (the real ``openai`` SDK against the loopback
stub) gathered into one inference in a real SQLite store."""

from __future__ import annotations

import asyncio
from pathlib import Path

import openai
import pytest

import preflog
from preflog.errors import ValidationError
from preflog.integrations import wrap_openai
from tests.integrations.stub_llm import PROJECT, StubLLM, answer_text, logged, run_async, user


@pytest.fixture
def oa(stub: StubLLM, client: preflog.Client) -> openai.OpenAI:
    return wrap_openai(openai.OpenAI(base_url=stub.url, api_key="k", max_retries=0), client)


def test_calls_in_a_set_become_one_inference_numbered_in_arrival_order(
    oa: openai.OpenAI, client: preflog.Client, db: str
) -> None:
    question = "Which is better?"
    with client.candidate_set(user(question), request_id="ab-1") as ab:
        a = oa.chat.completions.create(model="model-a", messages=user(question), n=2, temperature=1.0)
        b = oa.chat.completions.create(model="model-b", messages=user(question), preflog_request_id="ignored")  # type: ignore[call-overload]
        ab.presented = ["c2", "c0", "c1"]
        assert preflog.current_request_id() == "ab-1"
    assert (a.preflog_candidate_ids, b.preflog_candidate_ids) == (["c0", "c1"], ["c2"])  # type: ignore[attr-defined]
    assert a.preflog_request_id == b.preflog_request_id == "ab-1" == preflog.current_request_id()  # type: ignore[attr-defined]
    [event] = logged(client, db)
    assert event["request_id"] == "ab-1" and event["presented"] == ["c2", "c0", "c1"]
    assert [c["model"]["name"] for c in event["candidates"]] == ["model-a", "model-a", "model-b"]
    assert [c["output"] for c in event["candidates"]] == [
        answer_text(0, question),
        answer_text(1, question),
        answer_text(0, question),
    ]
    assert event["candidates"][0]["params"] == {"temperature": 1.0} and "params" not in event["candidates"][2]


def test_a_set_without_a_prompt_takes_the_first_calls_and_mixes_in_added_candidates(
    oa: openai.OpenAI, client: preflog.Client, db: str
) -> None:
    with client.candidate_set() as mixed:
        oa.chat.completions.create(model="model-a", messages=user("Tell a joke"))
        assert mixed.add({"output": "A local model's joke.", "model": "local-7b"}) == ["c1"]
    [event] = logged(client, db)
    assert event["prompt"] == user("Tell a joke")
    assert [c["model"]["name"] for c in event["candidates"]] == ["model-a", "local-7b"]
    assert event["request_id"] == mixed.request_id


def test_a_stream_still_open_when_the_set_exits_is_waited_for(
    oa: openai.OpenAI, client: preflog.Client, db: str
) -> None:
    with client.candidate_set(user("Race")) as race:
        oa.chat.completions.create(model="model-a", messages=user("Race"))
        stream = oa.chat.completions.create(model="model-b", messages=user("Race"), n=2, stream=True)
        assert stream.preflog_request_id == race.request_id  # type: ignore[attr-defined]
    assert logged(client, db) == []  # the set waits for its stream
    for _ in stream:
        pass
    [event] = logged(client, db)
    assert [c["candidate_id"] for c in event["candidates"]] == ["c0", "c1", "c2"]
    assert [c["output"] for c in event["candidates"]][1:] == [answer_text(0, "Race"), answer_text(1, "Race")]
    assert stream.preflog_candidate_ids == ["c1", "c2"]  # type: ignore[attr-defined]


def test_async_calls_gathered_concurrently_into_one_set(
    stub: StubLLM, client: preflog.Client, db: str
) -> None:
    aoa = wrap_openai(openai.AsyncOpenAI(base_url=stub.url, api_key="k", max_retries=0), client)

    async def main() -> str:
        async with client.candidate_set(user("In parallel")) as both:
            await asyncio.gather(
                aoa.chat.completions.create(model="model-a", messages=user("In parallel"), n=2),
                aoa.chat.completions.create(model="model-b", messages=user("In parallel")),
            )
        return both.request_id

    request_id = run_async(main)
    [event] = logged(client, db)
    assert event["request_id"] == request_id
    assert sorted(c["model"]["name"] for c in event["candidates"]) == ["model-a", "model-a", "model-b"]
    assert [c["candidate_id"] for c in event["candidates"]] == ["c0", "c1", "c2"]


def test_a_set_left_by_an_exception_logs_what_it_gathered_and_lets_the_error_through(
    oa: openai.OpenAI, client: preflog.Client, db: str
) -> None:
    with pytest.raises(KeyError), client.candidate_set(user("Partial")):
        oa.chat.completions.create(model="model-a", messages=user("Partial"))
        raise KeyError("the application's own bug")
    [event] = logged(client, db)
    assert event["metadata"]["incomplete"] == "KeyError" and len(event["candidates"]) == 1


def test_a_presented_order_naming_no_candidate_is_a_clear_error(
    oa: openai.OpenAI, client: preflog.Client, db: str
) -> None:
    with pytest.raises(ValidationError, match="presented"), client.candidate_set(user("Q"), presented=["c9"]):
        oa.chat.completions.create(model="model-a", messages=user("Q"))
    assert logged(client, db) == []


def test_a_set_of_another_client_does_not_capture_this_clients_calls(
    oa: openai.OpenAI, client: preflog.Client, db: str, tmp_path: Path
) -> None:
    with preflog.Client(db=str(tmp_path / "other.db"), project=PROJECT) as other:
        with other.candidate_set(user("Elsewhere")) as elsewhere:
            answer = oa.chat.completions.create(model="model-a", messages=user("Mine"))
        assert elsewhere.candidates == [] and answer.preflog_request_id == answer.id  # type: ignore[attr-defined]
    [event] = logged(client, db)
    assert event["request_id"] == answer.id


def test_a_set_that_cannot_log_after_an_exception_counts_it_and_keeps_the_applications_error(
    oa: openai.OpenAI, client: preflog.Client, db: str
) -> None:
    blank = [{"role": "user", "content": " "}]  # the API takes it; the event contract does not
    with pytest.raises(KeyError), client.candidate_set():
        oa.chat.completions.create(model="model-a", messages=blank)
        raise KeyError("the application's own bug")
    assert client.stats().integration_errors == 1 and logged(client, db) == []
