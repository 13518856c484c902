"""Chat messages as chat templates read them, and back as they were logged.

preflog keeps tool calls in the OpenAI shape it was given (``function.arguments`` a JSON *string*).
Hugging Face chat templates iterate the arguments as a mapping (``tool_call.arguments | tojson`` in
the Qwen2.5 and Llama 3.1 templates; transformers' own server parses the string before templating),
so the formats whose rows a chat template renders (TRL conversational, OpenRLHF) write arguments
that are a JSON object as that object, and read it back as compact JSON text — equal as JSON to what
was logged, not necessarily byte for byte. Arguments that are not a JSON object (a truncated call)
stay text both ways.

A refusal is what the user was shown, so a reply with a ``refusal`` and no text is written with
the refusal as its ``content`` (templates render only ``content``), keeping ``refusal`` beside it;
reading back, a content equal to the refusal is the empty output it stood for.

>>> call = {"id": "c1", "type": "function", "function": {"name": "f", "arguments": '{"x": 1}'}}
>>> m = template_message({"role": "assistant", "content": "", "tool_calls": [call]})
>>> m["tool_calls"][0]["function"]["arguments"]
{'x': 1}
>>> logged_message(m)["tool_calls"][0]["function"]["arguments"]
'{"x":1}'
>>> template_message({"role": "assistant", "content": "", "refusal": "No."})["content"]
'No.'
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from preflog.errors import ValidationError
from preflog.records import Message, Prompt, Reply, as_messages, message, reply_messages


def template_message(m: Message) -> Message:
    """One logged message as chat templates read it (see the module docstring)."""
    out = message(m)
    if "tool_calls" not in out and "refusal" not in out:
        return out
    calls = out.get("tool_calls")
    if calls:
        out["tool_calls"] = [_map_arguments(c, _parsed) for c in calls]
    refusal = out.get("refusal")
    if refusal is not None and not out.get("content"):
        out["content"] = refusal
    return out


def logged_message(m: Any) -> Message:
    """One row message back in the logged shape (the inverse of :func:`template_message`)."""
    if not isinstance(m, dict) or not isinstance(m.get("role"), str):
        raise ValueError("must be a chat message {role, content}")
    out = message(m)
    calls = out.get("tool_calls")
    if calls:
        out["tool_calls"] = [_map_arguments(c, _text) for c in calls]
    refusal = out.get("refusal")
    if refusal is not None and out.get("content") == refusal:
        out["content"] = ""
    return out


def template_messages(messages: Iterable[Message]) -> list[Message]:
    return [template_message(m) for m in messages]


def logged_messages(messages: Iterable[Any]) -> list[Message]:
    return [logged_message(m) for m in messages]


def _map_arguments(call: Any, convert: Any) -> Any:
    if not isinstance(call, dict) or not isinstance(call.get("function"), dict):
        return call
    function = dict(call["function"])
    if "arguments" in function:
        function["arguments"] = convert(function["arguments"])
    return {**call, "function": function}


def _parsed(arguments: Any) -> Any:
    if not isinstance(arguments, str):
        return arguments
    try:
        value = json.loads(arguments)
    except ValueError:
        return arguments
    return value if isinstance(value, dict) else arguments


def _text(arguments: Any) -> Any:
    if isinstance(arguments, dict):
        return json.dumps(arguments, ensure_ascii=False, separators=(",", ":"))
    return arguments


# ------------------------------------------------------------------------------------------ row columns


def chat_prompt(prompt: Prompt, system: str | None, conversational: bool) -> Prompt:
    """A prompt column: chat messages (system first) in a conversational file, else the string."""
    return template_messages(as_messages(prompt, system)) if conversational else prompt


def chat_reply(reply: Reply, conversational: bool) -> Reply:
    """A reply column: assistant-side messages in a conversational file, else the text."""
    if conversational:
        return template_messages(reply_messages(reply))
    if not isinstance(reply, str):
        raise ValueError("a reply of chat messages needs a conversational file")
    return reply


def read_messages(value: Any, path: str) -> list[Message]:
    """A column of chat messages in the logged shape, or ValidationError naming ``path``."""
    if not isinstance(value, list):
        raise ValidationError("must be a string or a list of chat messages", path=path)
    try:
        return logged_messages(value)
    except ValueError as exc:
        raise ValidationError(str(exc), path=path) from None


def read_reply(value: Any, path: str) -> Reply:
    """A reply column back: a string; one plain assistant message as its text; else the messages."""
    if isinstance(value, str):
        return value
    if not value:
        raise ValidationError("must be a string or a list of assistant messages", path=path)
    messages = read_messages(value, path)
    first = messages[0]
    if len(messages) == 1 and first["role"] == "assistant" and set(first) == {"role", "content"}:
        return str(first["content"] or "")
    return messages
