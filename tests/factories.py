"""Builders of valid events for tests: every argument has a sensible default, override what matters."""

from __future__ import annotations

from typing import Any

from preflog.events import new_id

T0 = "2026-11-26T10:00:00.000000Z"


def inference(
    request_id: str | None = None,
    *,
    outputs: tuple[str, ...] = ("Paris is the capital of France.", "I think it is Lyon."),
    models: tuple[str, ...] | None = None,
    prompt: str | list[dict[str, str]] = "What is the capital of France?",
    occurred_at: str = T0,
    **extra: Any,
) -> dict[str, Any]:
    models = models or tuple(f"model-{chr(97 + i)}" for i in range(len(outputs)))
    event: dict[str, Any] = {
        "event_id": new_id(),
        "type": "inference",
        "request_id": request_id or new_id(),
        "occurred_at": occurred_at,
        "prompt": prompt,
        "candidates": [
            {
                "candidate_id": f"c{i}",
                "output": text,
                "model": {"name": models[i], "version": "1"},
                "params": {"temperature": 0.7, "max_tokens": 256},
            }
            for i, text in enumerate(outputs)
        ],
    }
    event.update(extra)
    return event


def preference(
    request_id: str, chosen: str = "c0", rejected: str = "c1", *, kind: str = "human", **extra: Any
) -> dict[str, Any]:
    event: dict[str, Any] = {
        "event_id": new_id(),
        "type": "preference",
        "request_id": request_id,
        "occurred_at": "2026-11-26T10:05:00Z",
        "chosen": chosen,
        "rejected": rejected,
        "source": {"kind": kind, "id": "annotator-1"},
    }
    event.update(extra)
    return event


def score(request_id: str, candidate_id: str = "c0", value: float = 0.5, **extra: Any) -> dict[str, Any]:
    event: dict[str, Any] = {
        "event_id": new_id(),
        "type": "score",
        "request_id": request_id,
        "occurred_at": "2026-11-26T10:01:00Z",
        "candidate_id": candidate_id,
        "score": value,
        "scorer": {"name": "rm-small", "version": "3"},
    }
    event.update(extra)
    return event


def signal(
    request_id: str, candidate_id: str = "c0", kind: str = "thumbs_up", **extra: Any
) -> dict[str, Any]:
    event: dict[str, Any] = {
        "event_id": new_id(),
        "type": "signal",
        "request_id": request_id,
        "occurred_at": "2026-11-26T10:02:00Z",
        "candidate_id": candidate_id,
        "signal": kind,
    }
    event.update(extra)
    return event


def retraction(request_id: str, retracts: str, **extra: Any) -> dict[str, Any]:
    event: dict[str, Any] = {
        "event_id": new_id(),
        "type": "retraction",
        "request_id": request_id,
        "occurred_at": "2026-11-26T10:06:00Z",
        "retracts": retracts,
    }
    event.update(extra)
    return event


def erasure(*, request_id: str | None = None, user_id: str | None = None) -> dict[str, Any]:
    event: dict[str, Any] = {"event_id": new_id(), "type": "erasure", "occurred_at": "2026-11-26T11:00:00Z"}
    if request_id is not None:
        event["request_id"] = request_id
    if user_id is not None:
        event["user_id"] = user_id
    return event


# ---------------------------------------------------------------------------------------------- version 2


def tool_call(
    call_id: str = "call_1", name: str = "get_weather", arguments: str = '{"city": "Paris"}'
) -> dict[str, Any]:
    """One tool call in the OpenAI shape (``arguments`` is the model's JSON string)."""
    return {"id": call_id, "type": "function", "function": {"name": name, "arguments": arguments}}


def tool_prompt() -> list[dict[str, Any]]:
    """A chat prompt with an assistant tool call (``content: null``) and the tool's answer."""
    return [
        {"role": "system", "content": "You can call get_weather."},
        {"role": "user", "content": "Is it warmer in Paris or in Lyon?"},
        {"role": "assistant", "content": None, "tool_calls": [tool_call("call_1")]},
        {"role": "tool", "tool_call_id": "call_1", "name": "get_weather", "content": '{"celsius": 14}'},
    ]


def tool_inference(request_id: str | None = None, **extra: Any) -> dict[str, Any]:
    """A version-2 inference using every new field: a tool-call prompt; candidates that call a tool
    (``output: ""``), answer empty, refuse, and continue over several turns."""
    model = {"name": "gpt-4o-mini", "version": "2024-07-18"}
    event = inference(request_id, prompt=tool_prompt(), schema_version=2, **extra)
    event["candidates"] = [
        {
            "candidate_id": "c0",
            "output": "",
            "tool_calls": [tool_call("call_2", arguments='{"city": "Lyon"}')],
            "finish_reason": "tool_calls",
            "model": model,
        },
        {"candidate_id": "c1", "output": "", "finish_reason": "length", "model": model},
        {
            "candidate_id": "c2",
            "output": "",
            "refusal": "I can't help with that.",
            "finish_reason": "content_filter",
            "model": model,
        },
        {
            "candidate_id": "c3",
            "messages": [
                {
                    "role": "assistant",
                    "content": "",
                    "tool_calls": [tool_call("call_3", arguments='{"city": "Lyon"}')],
                },
                {
                    "role": "tool",
                    "tool_call_id": "call_3",
                    "name": "get_weather",
                    "content": '{"celsius": 12}',
                },
                {"role": "assistant", "content": "Paris: 14 °C, Lyon: 12 °C. Paris is warmer."},
            ],
            "finish_reason": "stop",
            "model": {"name": "claude-x", "provider": "anthropic"},
            "usage": {"input_tokens": 120, "output_tokens": 31},
        },
    ]
    return event
