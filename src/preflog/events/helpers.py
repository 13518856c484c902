"""Reading helpers over valid events, for the parts that consume them (compile, formats, analytics,
the UI), so that none of them re-derives the contract.

Since contract version 2 a candidate is one answer (``output``, maybe empty, with ``tool_calls`` or
a ``refusal``) or a multi-message continuation (``messages``). :func:`candidate_messages` gives
either as chat turns to append to the prompt's messages, :func:`candidate_text` its final text,
:func:`is_empty_answer` whether it produced nothing at all.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any


def candidate_ids(event: Mapping[str, Any]) -> list[str]:
    """The candidate ids an inference offers, or that a judgment names, in order."""
    etype = event.get("type")
    if etype == "inference":
        return [c["candidate_id"] for c in event.get("candidates", [])]
    if etype == "preference":
        if event.get("chosen") is not None:
            return [event["chosen"], event["rejected"]]
        if event.get("ranking") is not None:
            out: list[str] = []
            for item in event["ranking"]:
                out.extend(item if isinstance(item, list) else [item])
            return out
        return list(event.get("candidates", []))
    if etype in ("score", "signal"):
        return [event["candidate_id"]]
    return []


def ranking_groups(ranking: list[str | list[str]]) -> list[list[str]]:
    """A ranking as tie groups, best first: ``["a", ["b", "c"]]`` → ``[["a"], ["b", "c"]]``."""
    return [list(item) if isinstance(item, list) else [item] for item in ranking]


def canonical_json(event: Mapping[str, Any]) -> str:
    """The bytes the store keeps and compares: sorted keys, no spaces, UTF-8 text."""
    return json.dumps(event, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def is_continuation(candidate: Mapping[str, Any]) -> bool:
    """Whether ``candidate`` is a multi-message continuation (``messages``), not one answer.

    >>> is_continuation({"candidate_id": "a", "messages": [{"role": "assistant", "content": "hi"}]})
    True
    """
    return candidate.get("messages") is not None


def chat_turn(message: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of a chat message with its null fields left out and ``content`` always a string: an
    assistant turn that only calls a tool (``content: null``) gets ``""``, which means the same.

    >>> chat_turn({"role": "assistant", "content": None, "tool_calls": [], "name": None})
    {'role': 'assistant', 'content': '', 'tool_calls': []}
    """
    turn = {k: v for k, v in message.items() if v is not None or k == "content"}
    turn["content"] = message.get("content") or ""
    return turn


def candidate_messages(candidate: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The candidate's reply as chat turns (:func:`chat_turn`), to follow the prompt's messages:
    a continuation's ``messages``, or one assistant turn with the ``output`` and, when present,
    ``tool_calls`` and ``refusal``.

    >>> call = {"id": "1", "type": "function", "function": {"name": "f", "arguments": "{}"}}
    >>> candidate_messages({"candidate_id": "a", "output": "", "tool_calls": [call]}) == [
    ...     {"role": "assistant", "content": "", "tool_calls": [call]}]
    True
    """
    if is_continuation(candidate):
        return [chat_turn(m) for m in candidate["messages"]]
    turn = {"role": "assistant", "content": candidate.get("output"), **_answer_parts(candidate)}
    return [chat_turn(turn)]


def _answer_parts(candidate: Mapping[str, Any]) -> dict[str, Any]:
    return {k: candidate[k] for k in ("tool_calls", "refusal") if candidate.get(k) is not None}


def candidate_text(candidate: Mapping[str, Any]) -> str:
    """The candidate's final text: its ``output``, or a continuation's last turn's content ("" for
    none). What length covariates, previews and text comparisons should read.

    >>> candidate_text({"messages": [{"role": "assistant", "content": None, "tool_calls": []},
    ...     {"role": "tool", "content": "14"}, {"role": "assistant", "content": "It is 14 °C."}]})
    'It is 14 °C.'
    """
    if is_continuation(candidate):
        return str(candidate["messages"][-1].get("content") or "")
    return str(candidate.get("output") or "")


def is_empty_answer(candidate: Mapping[str, Any]) -> bool:
    """True when the candidate produced nothing: a blank final text, and no tool call or refusal
    in its final turn. (An empty answer is still a real answer: compile keeps it unless asked.)

    >>> is_empty_answer({"output": " "}), is_empty_answer({"output": "", "refusal": "No."})
    (True, False)
    """
    last = candidate["messages"][-1] if is_continuation(candidate) else candidate
    if last.get("tool_calls") or last.get("refusal") is not None:
        return False
    return not candidate_text(candidate).strip()
