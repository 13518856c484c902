"""Validation of the inference payload: the prompt (a string or chat messages) and the candidates."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from preflog.events.checker import Checker, kind_of, plain_id, plain_text
from preflog.events.contract import (
    CANDIDATE_FIELDS,
    CANDIDATE_KEYS,
    ID_MAX_BYTES,
    MESSAGE_FIELDS,
    MESSAGE_ROLES,
    MODEL_FIELDS,
    MODEL_KEYS,
)


def _check_prompt(c: Checker, event: Mapping[str, Any]) -> None:
    prompt = event.get("prompt")
    limit = c.limits.max_prompt_bytes
    total = 0
    if prompt is None:
        c.fail("prompt", "required")
    elif isinstance(prompt, str):
        c.text(event, "prompt", "prompt", max_bytes=limit)
        total = len(prompt.encode("utf-8", "surrogatepass"))
    elif isinstance(prompt, list):
        if not prompt:
            c.fail("prompt", "empty")
        for i, msg in enumerate(prompt):
            path = f"prompt[{i}]"
            if not isinstance(msg, dict):
                c.fail(path, f"must be a chat message object {{role, content}}, got {kind_of(msg)}")
                continue
            c.unknown(msg, MESSAGE_FIELDS, path + ".")
            role = msg.get("role")
            if role not in MESSAGE_ROLES:
                c.fail(path + ".role", f"must be one of {', '.join(MESSAGE_ROLES)}, got {role!r}")
            content = c.text(msg, "content", path + ".content", required=True, max_bytes=limit)
            c.ident(msg, "name", path + ".name")
            if content is not None:
                total += len(content.encode("utf-8", "surrogatepass"))
    else:
        c.fail("prompt", f"must be a string or a list of chat messages, got {kind_of(prompt)}")
    system = c.text(event, "system", "system", max_bytes=limit)
    if system is not None:
        total += len(system.encode("utf-8", "surrogatepass"))
    if total > limit:
        c.fail("prompt", f"too long: {total} bytes with system, limit {limit}")


def _plain_candidate(c: Checker, cand: dict[str, Any]) -> bool:
    """True when ``cand``'s id, output and model are certainly valid (the usual candidate), so
    only its optional parts need the field-by-field checks; False sends it to the full checks."""
    if not cand.keys() <= CANDIDATE_KEYS or not plain_id(cand.get("candidate_id")):
        return False
    if not plain_text(cand.get("output"), c.limits.max_output_bytes):
        return False
    model = cand.get("model")
    if type(model) is not dict or not model.keys() <= MODEL_KEYS or not plain_id(model.get("name")):
        return False
    return all(v is None or plain_id(v) for v in model.values())


def _check_candidate(c: Checker, cand: Any, path: str) -> str | None:
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
    c.text(cand, "output", path + ".output", required=True, max_bytes=c.limits.max_output_bytes)
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


def check_inference(c: Checker, event: Mapping[str, Any]) -> None:
    _check_prompt(c, event)
    cands = event.get("candidates")
    ids: list[str] = []
    if cands is None:
        c.fail("candidates", "required")
    elif not isinstance(cands, list):
        c.fail("candidates", f"must be a list, got {kind_of(cands)}")
    elif not cands:
        c.fail("candidates", "needs at least one candidate")
    elif len(cands) > c.limits.max_candidates:
        c.fail("candidates", f"too many: {len(cands)}, limit {c.limits.max_candidates}")
    else:
        for i, cand in enumerate(cands):
            cid = _check_candidate(c, cand, f"candidates[{i}]")
            if cid is not None:
                if cid in ids:
                    c.fail(f"candidates[{i}].candidate_id", f"duplicate candidate id {cid!r}")
                ids.append(cid)
    check_presented(c, event, ids)
    c.ident(event, "user_id", "user_id")
    c.ident(event, "session_id", "session_id")
    c.free_object(event, "features", "features")
    c.free_object(event, "metadata", "metadata")
    tags = event.get("tags")
    if tags is not None:
        if not isinstance(tags, list):
            c.fail("tags", f"must be a list of strings, got {kind_of(tags)}")
        else:
            if len(tags) > c.limits.max_tags:
                c.fail("tags", f"too many: {len(tags)}, limit {c.limits.max_tags}")
            for i, tag in enumerate(tags):
                if not isinstance(tag, str) or not tag or len(tag) > ID_MAX_BYTES:
                    c.fail(f"tags[{i}]", f"must be a non-empty string of at most {ID_MAX_BYTES} characters")


def check_presented(c: Checker, event: Mapping[str, Any], known: list[str] | None) -> None:
    presented = event.get("presented")
    if presented is None:
        return
    ids = c.id_list(presented, "presented")
    if known:
        for i, cid in enumerate(ids):
            if cid not in known:
                c.fail(f"presented[{i}]", f"{cid!r} is not a candidate of this inference")
