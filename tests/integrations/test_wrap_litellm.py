"""``PreflogLogger``: the real LiteLLM (offline: its bundled model map) calling the loopback stub
as an OpenAI and an Anthropic provider, with the logger as its callback; events read back from a
real SQLite store."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")  # no network here: the bundled map

import litellm

import preflog
from preflog.integrations import PreflogLogger
from tests.integrations.stub_llm import (
    ANTHROPIC_VERSION,
    MODEL_VERSION,
    StubLLM,
    answer_text,
    run_async,
    stored_inferences,
    user,
)

PROJECT = "gateway"


class Gateway:
    """One client, store and logger for the module: LiteLLM keeps the callbacks it first saw."""

    def __init__(self, db: str) -> None:
        self.db = db
        self.client = preflog.Client(db=db, project=PROJECT)
        # LiteLLM spends ~300 ms of its own per call here: a trace's calls come 0.3-1 s apart
        self.logger = PreflogLogger(self.client, trace_window=2.0)

    def inferences(self, marker: str, count: int) -> list[dict[str, Any]]:
        """The inferences whose prompt mentions ``marker``; LiteLLM runs its callbacks in the
        background, so wait (at most 20 s) for ``count`` of them."""
        deadline = time.monotonic() + 20
        while True:
            assert self.client.flush(10)
            found = [e for e in stored_inferences(self.db, PROJECT) if marker in str(e["prompt"])]
            if len(found) >= count or time.monotonic() > deadline:
                return found
            time.sleep(0.05)


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    found = Gateway(str(tmp_path_factory.mktemp("litellm") / "events.db"))
    saved = litellm.callbacks
    litellm.callbacks = [found.logger]
    yield found
    litellm.callbacks = saved
    found.client.close()


def gpt(stub: StubLLM, text: str, **kwargs: Any) -> Any:
    return litellm.completion(
        model="openai/gpt-x", api_base=stub.url, api_key="k", messages=user(text), num_retries=0, **kwargs
    )


def test_all_choices_are_candidates_with_litellms_call_id_or_the_callers_request_id(
    stub: StubLLM, gateway: Gateway
) -> None:
    plain = gpt(stub, "weather in Paris?", n=3, temperature=0.5)
    gpt(stub, "Hello", metadata={"preflog_request_id": "req-7"})
    [first] = gateway.inferences("weather in Paris?", 1)
    [second] = gateway.inferences("Hello", 1)
    assert first["request_id"] == plain._hidden_params["litellm_call_id"]
    c0, c1, c2 = first["candidates"]
    assert c0["tool_calls"][0]["function"]["name"] == "get_weather" and c0["finish_reason"] == "tool_calls"
    assert (c1["output"], c2["output"]) == (
        answer_text(1, "weather in Paris?"),
        answer_text(2, "weather in Paris?"),
    )
    assert c1["model"] == {"name": "gpt-x", "version": MODEL_VERSION, "provider": "openai"}
    assert c1["params"] == {"temperature": 0.5} and c1["latency_ms"] > 0
    assert second["request_id"] == "req-7"
    assert gateway.client.stats().integration_errors == 0


def test_streamed_and_async_calls_keep_every_choice(stub: StubLLM, gateway: Gateway) -> None:
    for _ in gpt(stub, "stream it", n=2, stream=True):
        pass

    async def main() -> None:
        await litellm.acompletion(
            model="openai/gpt-x",
            api_base=stub.url,
            api_key="k",
            messages=user("async it"),
            n=2,
            num_retries=0,
        )
        # LiteLLM runs the async hook in a task of this loop: keep the loop until it has run
        deadline = time.monotonic() + 20
        while not gateway.inferences("async it", 0) and time.monotonic() < deadline:
            await asyncio.sleep(0.05)

    run_async(main)
    events = gateway.inferences("stream it", 1) + gateway.inferences("async it", 1)
    outputs = sorted([c["output"] for c in e["candidates"]] for e in events)
    assert outputs == [
        [answer_text(0, "async it"), answer_text(1, "async it")],
        [answer_text(0, "stream it"), answer_text(1, "stream it")],
    ]


def test_calls_sharing_a_trace_across_providers_become_one_candidate_set(
    stub: StubLLM, gateway: Gateway
) -> None:
    question = "Compare us"
    trace = {"trace_id": "trace-ab", "preflog_request_id": "ab-42"}
    gpt(stub, question, n=2, metadata=trace)
    litellm.completion(
        model="anthropic/claude-x",
        api_base=stub.base,
        api_key="k",
        messages=user(question),
        max_tokens=64,
        metadata={"trace_id": "trace-ab"},
        num_retries=0,
    )
    with pytest.raises(litellm.BadRequestError):
        gpt(stub, "a bad request", litellm_trace_id="trace-ab")
    [event] = gateway.inferences(question, 1)  # logged when the trace went quiet for trace_window seconds
    assert event["request_id"] == "ab-42" and event["prompt"] == user(question)
    assert [c["candidate_id"] for c in event["candidates"]] == ["c0", "c1", "c2"]
    by_provider = {c["model"]["provider"]: c for c in event["candidates"]}
    assert by_provider["anthropic"]["model"]["version"] == ANTHROPIC_VERSION
    assert by_provider["anthropic"]["output"] == answer_text(0, question)
    assert event["metadata"]["failed_calls"] == 1


def test_a_failed_call_alone_logs_nothing_and_is_not_preflogs_error(stub: StubLLM, gateway: Gateway) -> None:
    with pytest.raises(litellm.BadRequestError):
        gpt(stub, "a bad request")
    gpt(stub, "then a good one")
    assert gateway.inferences("a bad request", 0) == []
    [event] = gateway.inferences("then a good one", 1)
    assert event["candidates"][0]["output"] == answer_text(0, "then a good one")
    assert gateway.client.stats().integration_errors == 0


def test_without_litellm_the_logger_is_the_same_duck_typed_hooks(tmp_path: Path) -> None:
    code = f"""
import sys
sys.modules["litellm"] = None  # as if not installed
import openai, preflog
from preflog.integrations.litellm_logger import PreflogLogger
with preflog.Client(db={str(tmp_path / "duck.db")!r}, project={PROJECT!r}) as client:
    logger = PreflogLogger(client)
    assert type(logger).__mro__[1] is object
    response = openai.types.chat.ChatCompletion.model_validate({{
        "id": "chatcmpl-1", "object": "chat.completion", "created": 1, "model": "m-1",
        "choices": [{{"index": 0, "finish_reason": "stop",
                     "message": {{"role": "assistant", "content": "Hi."}}}}]}})
    kwargs = {{"model": "m", "messages": [{{"role": "user", "content": "Hello"}}],
              "litellm_call_id": "call-1", "custom_llm_provider": "openai",
              "litellm_params": {{"metadata": {{}}}}}}
    logger.log_success_event(kwargs=kwargs, response_obj=response, start_time=None, end_time=None)
"""
    subprocess.run(
        [sys.executable, "-c", code], check=True, env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    )
    [event] = stored_inferences(str(tmp_path / "duck.db"), PROJECT)
    assert event["request_id"] == "call-1" and event["candidates"][0]["output"] == "Hi."
