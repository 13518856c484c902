"""OpenInference LLM spans (``openinference.span.kind = LLM``; Arize Phoenix and its
instrumentations) → :class:`~.call.LlmCall`.

* messages: ``llm.input_messages.N.message.{role, content, name, tool_call_id}``, their
  ``message.contents.M.message_content.{type, text}`` parts and
  ``message.tool_calls.M.tool_call.{id, function.name, function.arguments}``; the same under
  ``llm.output_messages.N`` are the candidates, one per output message. Without messages,
  ``input.value`` / ``output.value`` are the prompt and the one output when their
  ``*.mime_type`` is ``text/plain`` (or absent).
* ``llm.model_name`` (or ``llm.request.model_name``) as the model name,
  ``llm.response.model_name`` as its version, ``llm.provider`` (else ``llm.system``) as its provider.
* ``llm.invocation_parameters`` (a JSON object) → ``params`` (``max_completion_tokens`` read as
  ``max_tokens``; ``model``, ``messages``, ``tools`` and ``stream_options`` left out);
  ``llm.token_count.{prompt, completion, total}`` → ``usage`` ``input_tokens``,
  ``output_tokens``, ``total_tokens``; ``llm.finish_reason`` → the finish reason of a single output.
* ``user.id`` → ``user_id``, ``session.id`` → ``session_id``, ``tag.tags`` → ``tags``,
  ``metadata`` (a JSON object) → the inference's ``metadata.openinference``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from preflog.integrations import chat
from preflog.integrations.otlp.attrs import indexed, number, structured, text
from preflog.integrations.otlp.call import LlmCall
from preflog.integrations.otlp.wire import Span

TOKEN_COUNTS: Final = {"prompt": "input_tokens", "completion": "output_tokens", "total": "total_tokens"}
PARAMS_LEFT_OUT: Final = frozenset({"model", "messages", "tools", "stream_options", "functions"})
PARAM_RENAMES: Final = {"max_completion_tokens": "max_tokens"}


def is_llm(span: Span) -> bool:
    return span.attributes.get("openinference.span.kind") == "LLM"


def _message(flat: Mapping[str, Any]) -> dict[str, Any]:
    """A flattened ``message.*`` group in the OpenAI shape."""
    content: Any = flat.get("message.content")
    parts = indexed(flat, "message.contents")
    if content is None and parts:
        content = [
            {"type": p.get("message_content.type", "text"), "text": p.get("message_content.text")}
            for p in parts
        ]
    calls = [
        {
            "id": c.get("tool_call.id"),
            "function": {
                "name": c.get("tool_call.function.name"),
                "arguments": structured(c.get("tool_call.function.arguments")),
            },
        }
        for c in indexed(flat, "message.tool_calls")
    ]
    return {
        "role": flat.get("message.role"),
        "content": content,
        "name": flat.get("message.name"),
        "tool_call_id": flat.get("message.tool_call_id"),
        "tool_calls": calls,
    }


def _params(attrs: Mapping[str, Any]) -> dict[str, Any]:
    raw = structured(attrs.get("llm.invocation_parameters"))
    if not isinstance(raw, Mapping):
        return {}
    kept = {str(k): v for k, v in raw.items() if k not in PARAMS_LEFT_OUT and v is not None}
    return {PARAM_RENAMES.get(k, k): v for k, v in kept.items()}


def _model(attrs: Mapping[str, Any]) -> dict[str, Any]:
    model: dict[str, Any] = {"name": text(attrs, "llm.model_name", "llm.request.model_name") or "unknown"}
    version = text(attrs, "llm.response.model_name")
    if version:
        model["version"] = version
    provider = text(attrs, "llm.provider", "llm.system")
    if provider:
        model["provider"] = provider
    return model


def _plain_value(attrs: Mapping[str, Any], kind: str) -> str | None:
    mime = attrs.get(f"{kind}.mime_type")
    value = attrs.get(f"{kind}.value")
    if mime not in (None, "text/plain") or not isinstance(value, str) or not value.strip():
        return None
    return value


def _content(call: LlmCall, attrs: Mapping[str, Any]) -> None:
    inputs = indexed(attrs, "llm.input_messages")
    outputs = indexed(attrs, "llm.output_messages")
    if inputs:
        call.system, call.prompt = chat.split_system([chat.chat_message(_message(m)) for m in inputs])
    else:
        call.prompt = _plain_value(attrs, "input")
    for flat in outputs:
        call.outputs.append(chat.reply(_message(flat)))
    if not outputs and (value := _plain_value(attrs, "output")) is not None:
        call.outputs.append({"output": value})
    reason = text(attrs, "llm.finish_reason")
    if reason and len(call.outputs) == 1:
        call.outputs[0].setdefault("finish_reason", reason)


def read_call(span: Span) -> LlmCall:
    """The :class:`LlmCall` of an OpenInference LLM span."""
    attrs = span.attributes
    call = LlmCall(convention="openinference")
    _content(call, attrs)
    call.model = _model(attrs)
    call.params = _params(attrs)
    for name, key in TOKEN_COUNTS.items():
        amount = number(attrs.get(f"llm.token_count.{name}"))
        if amount is not None and amount >= 0:
            call.usage[key] = amount
    call.user_id = text(attrs, "user.id")
    call.session_id = text(attrs, "session.id")
    tags = attrs.get("tag.tags")
    if isinstance(tags, list):
        call.tags = [t for t in tags if isinstance(t, str) and t.strip()]
    metadata = structured(attrs.get("metadata"))
    if isinstance(metadata, Mapping) and metadata:
        call.metadata["openinference"] = dict(metadata)
    if not call.prompt and not call.outputs:
        call.missing = "no llm.input_messages/llm.output_messages (nor text input.value/output.value)"
    return call.check()
