"""Chat messages as other tools write them → preflog's chat messages and candidates (contract v2).

Pure helpers shared by the OTLP mapping and the importers (OpenAI stored completions, Langfuse,
LangSmith). The OpenAI chat shape is the lingua franca: ``{role, content, name?, tool_calls?,
tool_call_id?, refusal?}``, with ``content`` a string, ``null`` or a list of parts
(``{"type": "text", "text": ...}``). What preflog keeps:

* ``content``: the text; a list of parts becomes its text parts joined (images and audio are not
  text: they are counted in ``metadata.non_text_parts`` of the candidate, or dropped from a prompt
  message with the rest of its text kept);
* ``tool_calls`` in the OpenAI shape ``[{id, type: "function", function: {name, arguments}}]``,
  ``arguments`` always a string (JSON-encoded when a tool gave an object);
* ``tool_call_id`` and ``name`` on ``tool`` turns.

>>> m = chat_message({"role": "assistant", "content": None,
...                   "tool_calls": [{"id": "c1", "function": {"name": "f", "arguments": {"x": 1}}}]})
>>> m["content"], m["tool_calls"][0]["function"]
('', {'name': 'f', 'arguments': '{"x": 1}'})
>>> chat_message({"role": "user", "content": [{"type": "text", "text": "Hi"}, {"type": "image_url"}]})
{'role': 'user', 'content': 'Hi'}
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Final

from preflog.events import CANDIDATE_FIELDS

Message = dict[str, Any]

ROLES: Final = ("system", "user", "assistant", "tool")
#: Other tools' role names → preflog's.
ROLE_ALIASES: Final = {
    "human": "user",
    "ai": "assistant",
    "model": "assistant",
    "bot": "assistant",
    "developer": "system",
    "function": "tool",
    "ipython": "tool",
}
TEXT_PART_TYPES: Final = frozenset({"text", "input_text", "output_text"})


def role_of(value: Any) -> str | None:
    """A preflog role for another tool's role name, or None when it has none."""
    if not isinstance(value, str):
        return None
    role = value.strip().lower()
    role = ROLE_ALIASES.get(role, role)
    return role if role in ROLES else None


def as_text(value: Any) -> str:
    """A value as text: strings as they are, anything else as compact JSON (a tool's result)."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)


def content_text(content: Any) -> tuple[str, int]:
    """``(text, parts that are not text)`` of a message content: a string, null, or a list of parts."""
    if content is None:
        return "", 0
    if isinstance(content, str):
        return content, 0
    if isinstance(content, Mapping):
        content = [content]
    if not isinstance(content, list):
        return as_text(content), 0
    texts: list[str] = []
    other = 0
    for part in content:
        if isinstance(part, str):
            texts.append(part)
        elif isinstance(part, Mapping) and part.get("type", "text") in TEXT_PART_TYPES:
            text = part.get("text", part.get("content"))
            texts.append(text if isinstance(text, str) else as_text(text))
        else:
            other += 1
    return "".join(texts), other


def tool_call(raw: Any) -> dict[str, Any] | None:
    """One tool call in the OpenAI shape, from the OpenAI shape or a flat ``{id, name, arguments}``."""
    if not isinstance(raw, Mapping):
        return None
    function = raw.get("function")
    fn = function if isinstance(function, Mapping) else raw
    name = fn.get("name")
    if not isinstance(name, str) or not name:
        return None
    arguments = fn.get("arguments", fn.get("args", fn.get("input")))
    call: dict[str, Any] = {}
    call_id = raw.get("id")
    if call_id is not None and call_id != "":
        call["id"] = str(call_id)
    call["type"] = "function"
    call["function"] = {"name": name, "arguments": as_text(arguments if arguments is not None else {})}
    return call


def tool_calls(raw: Any) -> list[dict[str, Any]]:
    if not isinstance(raw, list):
        return []
    return [call for call in (tool_call(item) for item in raw) if call is not None]


def chat_message(raw: Mapping[str, Any], *, default_role: str = "user") -> Message:
    """One message in preflog's shape (see the module doc)."""
    role = role_of(raw.get("role")) or default_role
    content = raw.get("content")
    if content is None:
        content = raw.get("content_parts")  # an OpenAI stored message sent as parts
    text, _ = content_text(content)
    message: Message = {"role": role, "content": text}
    calls = tool_calls(raw.get("tool_calls"))
    if calls and role == "assistant":
        message["tool_calls"] = calls
    if role == "tool":
        call_id = raw.get("tool_call_id")
        if call_id is not None:
            message["tool_call_id"] = str(call_id)
    name = raw.get("name")
    if isinstance(name, str) and name and role in ("tool", "user", "system"):
        message["name"] = name
    return message


def chat_messages(raw: Any) -> list[Message]:
    """A list of messages in preflog's shape; items that are not objects are skipped."""
    if not isinstance(raw, list):
        return []
    return [chat_message(m) for m in raw if isinstance(m, Mapping)]


def split_system(messages: list[Message]) -> tuple[str | None, list[Message]]:
    """Leading system messages as preflog's ``system`` (joined by a blank line), and the rest."""
    systems: list[str] = []
    rest = list(messages)
    while rest and rest[0]["role"] == "system" and "tool_calls" not in rest[0]:
        systems.append(rest.pop(0)["content"])
    return ("\n\n".join(systems) if systems else None), rest


def reply(message: Mapping[str, Any], *, finish_reason: Any = None) -> dict[str, Any]:
    """A candidate's own fields from an assistant reply in the OpenAI shape: ``output``,
    ``finish_reason``, ``refusal``, ``tool_calls`` (and ``metadata.non_text_parts``)."""
    text, other = content_text(message.get("content"))
    out: dict[str, Any] = {"output": text}
    if isinstance(finish_reason, str) and finish_reason:
        out["finish_reason"] = finish_reason
    refusal = message.get("refusal")
    if isinstance(refusal, str) and refusal:
        out["refusal"] = refusal
    calls = tool_calls(message.get("tool_calls"))
    if calls:
        out["tool_calls"] = calls
    if other:
        out["metadata"] = {"non_text_parts": other}
    return out


def candidate(
    candidate_id: str,
    message: Mapping[str, Any],
    *,
    model: Mapping[str, Any],
    finish_reason: Any = None,
) -> dict[str, Any]:
    """A candidate from an assistant reply in the OpenAI shape (:func:`reply`), fitted to the
    running contract (:func:`fit_candidate`).

    >>> c = candidate("c0", {"content": "", "refusal": "No."}, model={"name": "m"}, finish_reason="stop")
    >>> c["candidate_id"], c["output"], c["model"]
    ('c0', '', {'name': 'm'})
    """
    fields = reply(message, finish_reason=finish_reason)
    return fit_candidate({"candidate_id": candidate_id, **fields, "model": dict(model)})


def fit_candidate(candidate: dict[str, Any]) -> dict[str, Any]:
    """The candidate with the fields the running event contract has no place for moved into its
    ``metadata`` (contract v1 has no ``finish_reason``, ``refusal`` or ``tool_calls``; v2 has them
    all, and then nothing moves): nothing a tool recorded is dropped.

    >>> "finish_reason" in CANDIDATE_FIELDS or fit_candidate({"finish_reason": "stop"}) == {
    ...     "metadata": {"finish_reason": "stop"}}
    True
    """
    extra = {key: candidate.pop(key) for key in [k for k in candidate if k not in CANDIDATE_FIELDS]}
    if extra:
        candidate["metadata"] = {**candidate.get("metadata", {}), **extra}
    return candidate
