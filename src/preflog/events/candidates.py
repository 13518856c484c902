"""Validation of candidates: one answer (``output``, with ``tool_calls``, ``refusal``,
``finish_reason`` since version 2) or a multi-message continuation (``messages``), the model that
made it, and its sampling parameters, usage and latency.

The usual candidate (a plain id, a non-blank output, a plain model; every version-1 candidate)
takes a fast path; anything else, and every candidate the fast path is unsure of, gets the
field-by-field checks. ``tests/test_contract_fast_paths.py`` checks that both give one answer.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from preflog.events.checker import Checker, kind_of, plain_id, plain_text, utf8_len
from preflog.events.contract import CANDIDATE_FIELDS, MODEL_FIELDS, MODEL_KEYS, PLAIN_CANDIDATE_KEYS
from preflog.events.messages import check_continuation, check_tool_calls


def _plain_candidate(c: Checker, cand: dict[str, Any]) -> bool:
    """True when ``cand``'s id, output and model are certainly valid (the usual candidate), so
    only its optional parts need the field-by-field checks; False sends it to the full checks."""
    if not cand.keys() <= PLAIN_CANDIDATE_KEYS or not plain_id(cand.get("candidate_id")):
        return False
    if not plain_text(cand.get("output"), c.limits.max_output_bytes):
        return False
    model = cand.get("model")
    if type(model) is not dict or not model.keys() <= MODEL_KEYS or not plain_id(model.get("name")):
        return False
    return all(v is None or plain_id(v) for v in model.values())


def check_candidate(c: Checker, cand: Any, path: str) -> str | None:
    if not isinstance(cand, dict):
        c.fail(path, f"must be an object, got {kind_of(cand)}")
        return None
    if _plain_candidate(c, cand):
        if len(cand) > 3:  # params, usage, latency_ms, metadata (or explicit nulls)
            _check_candidate_extras(c, cand, path)
        plain: str = cand["candidate_id"]
        return plain
    return _check_candidate_fully(c, cand, path)


def _check_candidate_fully(c: Checker, cand: dict[str, Any], path: str) -> str | None:
    c.unknown(cand, CANDIDATE_FIELDS, path + ".")
    cid = c.ident(cand, "candidate_id", path + ".candidate_id", required=True)
    check_reply(c, cand, path)
    model = cand.get("model")
    if model is None:
        c.fail(path + ".model", "required")
    elif not isinstance(model, dict):
        c.fail(path + ".model", f"must be an object {{name, version, checkpoint}}, got {kind_of(model)}")
    else:
        c.unknown(model, MODEL_FIELDS, path + ".model.")
        c.ident(model, "name", path + ".model.name", required=True)
        for key in MODEL_FIELDS[1:]:
            c.ident(model, key, f"{path}.model.{key}")
    _check_candidate_extras(c, cand, path)
    return cid


def _check_candidate_extras(c: Checker, cand: Mapping[str, Any], path: str) -> None:
    params = cand.get("params")
    if isinstance(params, dict):
        for key, lo, hi, integer in (
            ("temperature", 0.0, None, False),
            ("top_p", 0.0, 1.0, False),
            ("max_tokens", 1.0, None, True),
            ("seed", None, None, True),
        ):
            c.number(params, key, f"{path}.params.{key}", minimum=lo, maximum=hi, integer=integer)
    c.free_object(cand, "params", path + ".params")
    usage = cand.get("usage")
    if isinstance(usage, dict):
        for key, value in usage.items():
            if value is not None:
                c.number(usage, key, f"{path}.usage.{key}", minimum=0)
    c.free_object(cand, "usage", path + ".usage")
    c.number(cand, "latency_ms", path + ".latency_ms", minimum=0)
    c.free_object(cand, "metadata", path + ".metadata")


def check_reply(c: Checker, cand: Mapping[str, Any], path: str) -> None:
    """What the candidate produced: exactly one of an answer (``output``, ``tool_calls``,
    ``refusal``) or a continuation (``messages``), and its ``finish_reason``; their texts
    together within ``max_output_bytes``. (The SDK's call-time checks use this too.)"""
    limit, found = c.limits.max_output_bytes, len(c.errors)
    if cand.get("messages") is not None:
        size = _check_continuation_candidate(c, cand, path, limit)
    else:
        size = _check_answer(c, cand, path, limit)
    c.ident(cand, "finish_reason", path + ".finish_reason")
    if size > limit and len(c.errors) == found:  # each part fits, together they do not
        c.fail(path, f"too long: {size} bytes of output, tool calls and turns, limit {limit}")


def _check_answer(c: Checker, cand: Mapping[str, Any], path: str, limit: int) -> int:
    """A one-message answer: ``output`` (may be empty), ``tool_calls``, ``refusal``. ``output`` may
    be null or left out when the answer calls a tool or refuses (OpenAI's ``content: null``)."""
    calls, refusal = cand.get("tool_calls"), cand.get("refusal")
    if cand.get("output") is None and calls is None and refusal is None:
        c.fail(path + ".output", "required (or messages, for a multi-message continuation)")
    output = c.text(cand, "output", path + ".output", max_bytes=limit, allow_empty=True)
    size = utf8_len(output) if output else 0
    if calls is not None:
        size += check_tool_calls(c, calls, path + ".tool_calls", limit)
    if refusal is not None:
        text = c.text(cand, "refusal", path + ".refusal", max_bytes=limit, allow_empty=True)
        size += utf8_len(text) if text else 0
    return size


def _check_continuation_candidate(c: Checker, cand: Mapping[str, Any], path: str, limit: int) -> int:
    if cand.get("output") is not None:
        c.fail(
            path + ".output", "not allowed with messages: a candidate has exactly one of output or messages"
        )
    for key in ("tool_calls", "refusal"):
        if cand.get(key) is not None:
            c.fail(f"{path}.{key}", "not allowed with messages: it belongs on the assistant turn in messages")
    return check_continuation(c, cand["messages"], path + ".messages", limit)


def normalize_candidates(cands: list[Any]) -> list[Any]:
    """Valid candidates in their normalized form, where each has a string ``output`` or a
    ``messages`` list: a tool call or a refusal sent with ``output: null`` (or none, as OpenAI's
    ``content: null``) gets ``output: ""``. The list itself when nothing changes (nearly always:
    one lookup per candidate). Anything that is not a candidate object is left for validation."""
    for cand in cands:
        if type(cand) is dict and type(cand.get("output")) is not str and _answer_without_output(cand):
            break
    else:
        return cands
    return [{**c, "output": ""} if type(c) is dict and _answer_without_output(c) else c for c in cands]


def _answer_without_output(cand: Mapping[str, Any]) -> bool:
    if type(cand.get("output")) is str or cand.get("messages") is not None:
        return False
    return cand.get("tool_calls") is not None or cand.get("refusal") is not None
