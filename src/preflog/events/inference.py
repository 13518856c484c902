"""Validation of the inference payload: the prompt (a string or chat messages), the candidates
(:mod:`preflog.events.candidates`), ``presented``, user and session ids, features and tags."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from preflog.events.candidates import check_candidate
from preflog.events.checker import Checker, kind_of, utf8_len
from preflog.events.contract import ID_MAX_BYTES
from preflog.events.messages import check_message, plain_message_bytes


def _check_prompt(c: Checker, event: Mapping[str, Any]) -> None:
    prompt = event.get("prompt")
    limit = c.limits.max_prompt_bytes
    total = 0
    if prompt is None:
        c.fail("prompt", "required")
    elif isinstance(prompt, str):
        c.text(event, "prompt", "prompt", max_bytes=limit)
        total = utf8_len(prompt)
    elif isinstance(prompt, list):
        if not prompt:
            c.fail("prompt", "empty")
        for i, msg in enumerate(prompt):
            size = plain_message_bytes(msg, limit)
            total += check_message(c, msg, f"prompt[{i}]", limit) if size is None else size
    else:
        c.fail("prompt", f"must be a string or a list of chat messages, got {kind_of(prompt)}")
    system = c.text(event, "system", "system", max_bytes=limit)
    if system is not None:
        total += utf8_len(system)
    if total > limit:
        c.fail("prompt", f"too long: {total} bytes with system, limit {limit}")


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
            cid = check_candidate(c, cand, f"candidates[{i}]")
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
