"""Validation of chat messages and tool calls (contract version 2), in prompts and in candidates.

A message is ``{role, content, name?}`` as in version 1, plus, since version 2, what tool-using
applications send: ``tool_calls`` on assistant turns (the OpenAI shape ``[{id, type: "function",
function: {name, arguments}}]``, ``arguments`` the model's string as produced, not parsed),
``tool_call_id`` on ``tool`` turns, and ``refusal`` on assistant turns. Content rules follow what
models and tools really produce: an assistant's content may be empty, and null when the turn
calls a tool or refuses; a tool result may be empty; a system or user turn has text.

Each function returns the UTF-8 bytes of the text it checked (content, refusal, tool names and
arguments), which the caller adds up against its size limit.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from preflog.events.checker import Checker, kind_of, plain_id, plain_text, utf8_len
from preflog.events.contract import (
    FUNCTION_FIELDS,
    MESSAGE_FIELDS,
    MESSAGE_ROLES,
    PLAIN_MESSAGE_KEYS,
    TOOL_CALL_FIELDS,
    TOOL_CALL_TYPES,
)

_TOOL_CALL_SHAPE = '{id, type: "function", function: {name, arguments}}'


def plain_message_bytes(msg: Any, limit: int) -> int | None:
    """The bytes of a version-1 message that is certainly valid (``{role, content, name?}`` with
    text content: nearly every prompt turn), else None: "check it", not "invalid"."""
    if type(msg) is not dict or not msg.keys() <= PLAIN_MESSAGE_KEYS or msg.get("role") not in MESSAGE_ROLES:
        return None
    content = msg.get("content")
    if not plain_text(content, limit):
        return None
    name = msg.get("name")
    if name is not None and not plain_id(name):
        return None
    return utf8_len(content)


def check_message(c: Checker, msg: Any, path: str, limit: int) -> int:
    """One chat message at ``path``; ``limit`` bounds each of its texts."""
    if not isinstance(msg, dict):
        c.fail(path, f"must be a chat message object {{role, content}}, got {kind_of(msg)}")
        return 0
    c.unknown(msg, MESSAGE_FIELDS, path + ".")
    role = msg.get("role")
    if role not in MESSAGE_ROLES:
        c.fail(path + ".role", f"must be one of {', '.join(MESSAGE_ROLES)}, got {role!r}")
    c.ident(msg, "name", path + ".name")
    size = (
        _assistant_parts(c, msg, path, limit) if role == "assistant" else _not_assistant_parts(c, msg, path)
    )
    if msg.get("tool_call_id") is not None:
        if role == "tool":
            c.ident(msg, "tool_call_id", path + ".tool_call_id")
        else:
            c.fail(path + ".tool_call_id", "only on tool turns (the id of the call a tool answers)")
    content_path = path + ".content"
    if role == "assistant" or role == "tool":  # what a model or a tool produced: may be empty
        content = c.text(msg, "content", content_path, max_bytes=limit, allow_empty=True)
        if msg.get("content") is None and role == "tool":
            c.fail(content_path, "required")
        elif msg.get("content") is None and size < 0:
            c.fail(content_path, "required (null only with tool_calls or a refusal)")
    else:
        content = c.text(msg, "content", content_path, required=True, max_bytes=limit)
    return max(size, 0) + (utf8_len(content) if content else 0)


def _assistant_parts(c: Checker, msg: Mapping[str, Any], path: str, limit: int) -> int:
    """The bytes of an assistant turn's tool calls and refusal; -1 when it has neither (so its
    content must not be null)."""
    calls, refusal = msg.get("tool_calls"), msg.get("refusal")
    size = 0
    if calls is not None:
        size += check_tool_calls(c, calls, path + ".tool_calls", limit)
    if refusal is not None:
        text = c.text(msg, "refusal", path + ".refusal", max_bytes=limit, allow_empty=True)
        size += utf8_len(text) if text else 0
    answered = bool(calls) or refusal is not None
    return size if answered else -1


def _not_assistant_parts(c: Checker, msg: Mapping[str, Any], path: str) -> int:
    for key in ("tool_calls", "refusal"):
        if msg.get(key) is not None:
            c.fail(f"{path}.{key}", "only on assistant turns")
    return 0


def check_tool_calls(c: Checker, calls: Any, path: str, limit: int) -> int:
    """A list of tool calls in the OpenAI shape; their ids unique within the list."""
    if not isinstance(calls, list):
        c.fail(path, f"must be a list of tool calls {_TOOL_CALL_SHAPE}, got {kind_of(calls)}")
        return 0
    size = 0
    seen: set[str] = set()
    for i, call in enumerate(calls):
        item = f"{path}[{i}]"
        if not isinstance(call, dict):
            c.fail(item, f"must be a tool call object {_TOOL_CALL_SHAPE}, got {kind_of(call)}")
            continue
        c.unknown(call, TOOL_CALL_FIELDS, item + ".")
        call_id = c.ident(call, "id", item + ".id", required=True)
        if call_id is not None:
            if call_id in seen:
                c.fail(item + ".id", f"duplicate tool call id {call_id!r}")
            seen.add(call_id)
        kind = call.get("type")
        if kind is None:
            c.fail(item + ".type", 'required ("function")')
        elif kind not in TOOL_CALL_TYPES:
            c.fail(item + ".type", f'must be "function", got {kind!r}')
        size += _check_function(c, call.get("function"), item + ".function", limit)
    return size


def _check_function(c: Checker, function: Any, path: str, limit: int) -> int:
    if function is None:
        c.fail(path, "required (an object {name, arguments})")
        return 0
    if not isinstance(function, dict):
        c.fail(path, f"must be an object {{name, arguments}}, got {kind_of(function)}")
        return 0
    c.unknown(function, FUNCTION_FIELDS, path + ".")
    name = c.ident(function, "name", path + ".name", required=True)
    # The arguments exactly as the model wrote them: a JSON string, maybe empty or malformed.
    arguments = c.text(
        function, "arguments", path + ".arguments", required=True, max_bytes=limit, allow_empty=True
    )
    return (utf8_len(name) if name else 0) + (utf8_len(arguments) if arguments else 0)


def check_continuation(c: Checker, messages: Any, path: str, limit: int) -> int:
    """A candidate's ``messages``: the model's turns and what came between them (tool results,
    user turns), starting and ending with an assistant turn."""
    if not isinstance(messages, list):
        c.fail(path, f"must be a list of chat messages, got {kind_of(messages)}")
        return 0
    if not messages:
        c.fail(path, "empty: a continuation has at least one assistant turn")
        return 0
    size = sum(check_message(c, msg, f"{path}[{i}]", limit) for i, msg in enumerate(messages))
    ends = ((0, "starts"), (len(messages) - 1, "ends")) if len(messages) > 1 else ((0, "starts"),)
    for i, where in ends:
        role = messages[i].get("role") if isinstance(messages[i], dict) else None
        if role in MESSAGE_ROLES and role != "assistant":
            c.fail(f"{path}[{i}].role", f"a continuation {where} with an assistant turn, got {role!r}")
    return size
