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
