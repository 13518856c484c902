"""Worker-side event building: queued call records become version-1 event dicts, and the checks that
depend on data size run here, off the caller's thread.

A queued record is a tuple whose first element is the function that builds it:
``(build_inference, ts, request_id, prompt, system, outputs, model, params, extras)`` for
``log_inference`` (the hot path defers all dict building to here), ``(build_prepared, ts, event)``
for the other calls, which build their event at call time.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Mapping
from typing import Any, Final

from preflog.errors import FieldError
from preflog.events import (
    ID_MAX_BYTES,
    SCHEMA_VERSION,
    Limits,
    canonical_json,
    check_event,
    new_id,
)
from preflog.events.contract import PLAIN_CANDIDATE_KEYS, PLAIN_MESSAGE_KEYS

Record = tuple[Any, ...]
Builder = Callable[[Record, str, "Clock"], dict[str, Any]]

_CIDS: Final = tuple(f"c{i}" for i in range(64))
_BASE_BYTES: Final = 300  # envelope and keys of one event, for the batch byte estimate


class Clock:
    """Formats ``time.time()`` values as RFC 3339 UTC with microseconds, reusing the formatted
    second (events logged within one second share it): several times faster than ``datetime``."""

    def __init__(self) -> None:
        self._second = -1
        self._prefix = ""

    def format(self, ts: float) -> str:
        second = int(ts)
        if second != self._second:
            self._prefix = time.strftime("%Y-%m-%dT%H:%M:%S.", time.gmtime(second))
            self._second = second
        micros = int((ts - second) * 1_000_000)
        return f"{self._prefix}{micros:06d}Z"


def _model(model: Any, cache: dict[str, dict[str, Any]]) -> dict[str, Any]:
    if type(model) is str:
        found = cache.get(model)
        if found is None:
            found = cache[model] = {"name": model}
        return found
    return {k: v for k, v in model.items() if v is not None}


_MODELS: dict[str, dict[str, Any]] = {}


def _candidate(out: Any, i: int, model: Any, params: Any) -> dict[str, Any]:
    if isinstance(out, str):
        cand: dict[str, Any] = {"candidate_id": f"c{i}", "output": out, "model": _model(model, _MODELS)}
        if params is not None:
            cand["params"] = params if type(params) is dict else dict(params)
        return cand
    cand = {"candidate_id": out.get("candidate_id") or f"c{i}"}
    if out.get("messages") is not None:  # copied at call time (sdk/args.py), like tool_calls
        cand["messages"] = out["messages"]
    else:  # a tool call or a refusal may come with output None (OpenAI's content: null)
        cand["output"] = out.get("output") or ""
    for key in ("tool_calls", "refusal", "finish_reason"):
        if out.get(key) is not None:
            cand[key] = out[key]
    cand["model"] = _model(out.get("model") or model, _MODELS)
    own = out.get("params", params)
    if own is not None:
        cand["params"] = dict(own)
    for key in ("usage", "metadata"):
        if out.get(key) is not None:
            cand[key] = dict(out[key])
    if out.get("latency_ms") is not None:
        cand["latency_ms"] = out["latency_ms"]
    return cand


def build_inference(record: Record, project: str, clock: Clock) -> dict[str, Any]:
    _, ts, request_id, prompt, system, outputs, model, params, extras = record
    if type(model) is str and (params is None or type(params) is dict):
        # The common case, inlined: plain output strings from one model.
        shared = _MODELS.get(model) or _model(model, _MODELS)
        cands = []
        for i, out in enumerate(outputs):
            if type(out) is not str or i >= 64:
                cands.append(_candidate(out, i, model, params))
            elif params is None:
                cands.append({"candidate_id": _CIDS[i], "output": out, "model": shared})
            else:
                cands.append({"candidate_id": _CIDS[i], "output": out, "model": shared, "params": params})
    else:
        cands = [_candidate(out, i, model, params) for i, out in enumerate(outputs)]
    event: dict[str, Any] = {
        "event_id": new_id(),
        "type": "inference",
        "request_id": request_id,
        "project": project,
        "occurred_at": clock.format(ts),
        "schema_version": SCHEMA_VERSION,
        "prompt": prompt if type(prompt) is str else [dict(m) for m in prompt],
        "candidates": cands,
    }
    if system is not None:
        event["system"] = system
    if extras:
        event.update(extras)
    return event


def build_prepared(record: Record, project: str, clock: Clock) -> dict[str, Any]:
    """A judgment built at call time; only its time (unless the caller gave one) and project are added."""
    event: dict[str, Any] = record[2]
    if "occurred_at" not in event:
        event["occurred_at"] = clock.format(record[1])
    event["project"] = project
    event["schema_version"] = SCHEMA_VERSION
    return event


# ---------------------------------------------------------------------------------------------- deep checks


def _text_bytes(text: str) -> int:
    return len(text) if text.isascii() else len(text.encode("utf-8", "surrogatepass"))


def _flat_json_bound(value: Any) -> int | None:
    """An upper bound of the JSON size of a flat dict of plain scalars (the usual ``params``,
    ``usage``, ``metadata``), at most 6 bytes a character; None when it is not such a dict."""
    if type(value) is not dict:
        return None
    total = 2
    for key, item in value.items():
        kind = type(item)
        if kind is str:
            total += 6 * (len(key) + len(item)) + 6
        elif kind is int:
            total += 6 * len(key) + item.bit_length() // 3 + 8
        elif kind is float:
            if not math.isfinite(item):
                return None
            total += 6 * len(key) + 32
        elif item is None or kind is bool:
            total += 6 * len(key) + 12
        else:
            return None
    return total


def _json_bytes(value: Any, path: str, limit: int) -> tuple[int, FieldError | None]:
    bound = _flat_json_bound(value)
    if bound is not None and bound <= limit:
        return bound // 3, None  # the estimate only feeds the batch byte budget
    try:
        size = len(json.dumps(value, ensure_ascii=False, allow_nan=False).encode("utf-8"))
    except (TypeError, ValueError) as exc:
        return 0, FieldError(path, f"must be plain JSON ({exc})")
    if size > limit:
        return size, FieldError(path, f"too large: {size} bytes, limit {limit}")
    return size, None


def _ident_problem(value: Any, path: str) -> FieldError | None:
    if len(value) > ID_MAX_BYTES // 4 and _text_bytes(value) > ID_MAX_BYTES:
        return FieldError(path, f"too long: over {ID_MAX_BYTES} bytes")
    if "\n" in value or "\r" in value or "\t" in value or "\x00" in value:
        return FieldError(path, "must not contain control characters")
    return None


def _prompt_bytes(event: Mapping[str, Any]) -> tuple[int, FieldError | None]:
    prompt = event["prompt"]
    texts = [prompt] if type(prompt) is str else [m["content"] for m in prompt]
    if "system" in event:
        texts.append(event["system"])
    total = 0
    for text in texts:
        if "\x00" in text:
            return 0, FieldError("prompt", "contains a NUL character")
        total += len(text) if text.isascii() else _text_bytes(text)
    return total, None


def _candidates_problem(cands: list[dict[str, Any]], limits: Limits) -> tuple[int, FieldError | None]:
    if len(cands) > limits.max_candidates:
        return 0, FieldError("candidates", f"too many: {len(cands)}, limit {limits.max_candidates}")
    total = 0
    max_output = limits.max_output_bytes
    checked: Any = None  # the params dict last checked: usually one object shared by all candidates
    for i, cand in enumerate(cands):
        out = cand["output"]
        size = len(out) if out.isascii() else _text_bytes(out)
        if size > max_output:
            return 0, FieldError(f"candidates[{i}].output", f"too long: over {max_output} bytes")
        if "\x00" in out:
            return 0, FieldError(f"candidates[{i}].output", "contains a NUL character")
        total += size
        if len(cand) == 3:  # candidate_id, output, model
            continue
        for key in ("params", "usage", "metadata"):
            value = cand.get(key)
            if value is None or value is checked:
                continue
            extra, problem = _json_bytes(value, f"candidates[{i}].{key}", limits.max_metadata_bytes)
            if problem:
                return 0, problem
            total += extra
            checked = value
    return total, None


_BASE_KEYS: Final = 8  # event_id, type, request_id, project, occurred_at, schema_version, prompt, candidates


def _extras_problem(event: dict[str, Any], limits: Limits) -> tuple[int, FieldError | None]:
    size = 0
    for key in ("user_id", "session_id"):
        if key in event and (problem := _ident_problem(event[key], key)):
            return 0, problem
    for key in ("metadata", "features"):
        if key in event:
            extra, problem = _json_bytes(event[key], key, limits.max_metadata_bytes)
            if problem:
                return 0, problem
            size += extra
    if len(event.get("tags", ())) > limits.max_tags:
        return 0, FieldError("tags", f"too many: {len(event['tags'])}, limit {limits.max_tags}")
    return size, None


def _plain_shape(event: dict[str, Any]) -> bool:
    """Whether the fast checks below cover ``event``: version-1 candidates and prompt messages.
    Tool calls, refusals and continuations (contract version 2) get the contract's full checks."""
    for cand in event["candidates"]:
        if not cand.keys() <= PLAIN_CANDIDATE_KEYS:
            return False
    prompt = event["prompt"]
    return type(prompt) is str or all(m.keys() <= PLAIN_MESSAGE_KEYS for m in prompt)


def _inference_problem(event: dict[str, Any], limits: Limits) -> tuple[int, FieldError | None]:
    if not _plain_shape(event):
        errors = check_event(event, limits=limits)
        return (0, errors[0]) if errors else (len(canonical_json(event)), None)
    prompt_size, problem = _prompt_bytes(event)
    if problem is None and prompt_size > limits.max_prompt_bytes:
        problem = FieldError(
            "prompt", f"too long: {prompt_size} bytes with system, limit {limits.max_prompt_bytes}"
        )
    if problem is None:
        problem = _ident_problem(event["request_id"], "request_id")
    if problem:
        return 0, problem
    size, problem = _candidates_problem(event["candidates"], limits)
    if problem:
        return 0, problem
    if len(event) > _BASE_KEYS:
        extra, problem = _extras_problem(event, limits)
        if problem:
            return 0, problem
        size += extra
    return size + prompt_size + _BASE_BYTES, None


def deep_check(event: dict[str, Any], limits: Limits) -> tuple[int, FieldError | None]:
    """The estimated JSON size of ``event`` and its first problem under ``limits`` (None if valid).

    Inference events (the bulk) get a fast check of what the call-time checks left open; the other
    types go through the full :func:`preflog.events.check_event`.
    """
    if event["type"] == "inference":
        return _inference_problem(event, limits)
    errors = check_event(event, limits=limits)
    return _BASE_BYTES + len(event.get("rationale") or ""), errors[0] if errors else None
