"""OpenTelemetry GenAI spans → :class:`~.call.LlmCall`.

Read, in this order of preference, so that the newest convention a span carries wins:

* content: ``gen_ai.input.messages`` / ``gen_ai.output.messages`` / ``gen_ai.system_instructions``
  (semantic conventions v1.36 and later; each a structured value or its JSON string, messages made
  of typed ``parts``: ``text``, ``tool_call``, ``tool_call_response``, ``reasoning``...); else the
  legacy flattened ``gen_ai.prompt.N.{role,content,tool_calls.M.*,tool_call_id}`` and
  ``gen_ai.completion.N.{role,content,finish_reason,tool_calls.M.*}``; else the span events
  ``gen_ai.content.prompt`` / ``gen_ai.content.completion`` with a ``gen_ai.prompt`` /
  ``gen_ai.completion`` JSON attribute (conventions before v1.28).
* model: ``gen_ai.request.model`` as the name, ``gen_ai.response.model`` as the version,
  ``gen_ai.provider.name`` (after v1.36) or ``gen_ai.system`` (v1.36 and before) as the provider.
* ``gen_ai.request.*`` → ``params`` (the suffix is the name: ``temperature``, ``top_p``,
  ``max_tokens``, ``seed``...), ``gen_ai.usage.*`` → ``usage`` (``prompt_tokens`` /
  ``completion_tokens`` of older versions renamed ``input_tokens`` / ``output_tokens``),
  ``gen_ai.response.finish_reasons`` → each candidate's ``finish_reason`` when its message has none.
* ``user.id`` (or the older ``enduser.id``) → ``user_id``; ``session.id`` or
  ``gen_ai.conversation.id`` → ``session_id``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from preflog.integrations import chat
from preflog.integrations.otlp.attrs import indexed, number, structured, text, with_prefix
from preflog.integrations.otlp.call import LlmCall
from preflog.integrations.otlp.wire import Span

OPERATIONS: Final = frozenset({"chat", "text_completion", "generate_content"})
#: OpenLLMetry's ``llm.request.type`` values that are inference calls (spans of the legacy layout).
LEGACY_REQUEST_TYPES: Final = frozenset({"chat", "completion"})
USAGE_RENAMES: Final = {"prompt_tokens": "input_tokens", "completion_tokens": "output_tokens"}
PARAM_RENAMES: Final = {"choice.count": "choice_count"}
FINISH_RENAMES: Final = {"tool_call": "tool_calls"}


def is_inference(span: Span) -> bool:
    """Whether ``span`` is a GenAI inference call (any version of the conventions)."""
    attrs = span.attributes
    operation = attrs.get("gen_ai.operation.name")
    if operation is not None:
        return operation in OPERATIONS
    if attrs.get("llm.request.type") in LEGACY_REQUEST_TYPES:
        return True
    return any(key.startswith(("gen_ai.prompt.", "gen_ai.completion.")) for key in attrs)


# ---------------------------------------------------------------------------------------------- parts


def _parts_message(raw: Mapping[str, Any]) -> list[chat.Message]:
    """One semconv input message (``{role, parts, name?}``) as preflog messages: a tool result
    part becomes a ``tool`` turn of its own."""
    role = chat.role_of(raw.get("role")) or "user"
    texts: list[str] = []
    calls: list[dict[str, Any]] = []
    results: list[chat.Message] = []
    for part in raw.get("parts") or []:
        if not isinstance(part, Mapping):
            continue
        kind = part.get("type")
        if kind == "text":
            texts.append(chat.as_text(part.get("content")))
        elif kind == "tool_call":
            call = chat.tool_call(part)
            if call is not None:
                calls.append(call)
        elif kind == "tool_call_response":
            result: chat.Message = {"role": "tool", "content": chat.as_text(part.get("response"))}
            if part.get("id") is not None:
                result["tool_call_id"] = str(part["id"])
            results.append(result)
    out: list[chat.Message] = []
    if texts or calls or not results:
        message: chat.Message = {"role": role, "content": "".join(texts)}
        if calls and role == "assistant":
            message["tool_calls"] = calls
        name = raw.get("name")
        if isinstance(name, str) and name and role != "assistant":
            message["name"] = name
        out.append(message)
    return out + results


def _parts_output(raw: Mapping[str, Any]) -> dict[str, Any]:
    """One semconv output message as a candidate's fields."""
    texts: list[str] = []
    reasoning: list[str] = []
    calls: list[dict[str, Any]] = []
    other = 0
    for part in raw.get("parts") or []:
        if not isinstance(part, Mapping):
            continue
        kind = part.get("type")
        if kind == "text":
            texts.append(chat.as_text(part.get("content")))
        elif kind == "reasoning":
            reasoning.append(chat.as_text(part.get("content")))
        elif kind == "tool_call" and (call := chat.tool_call(part)) is not None:
            calls.append(call)
        else:
            other += 1
    out: dict[str, Any] = {"output": "".join(texts)}
    _set_finish(out, raw.get("finish_reason"))
    if calls:
        out["tool_calls"] = calls
    metadata: dict[str, Any] = {}
    if reasoning:
        metadata["reasoning"] = "".join(reasoning)
    if other:
        metadata["non_text_parts"] = other
    if metadata:
        out["metadata"] = metadata
    return out


def _set_finish(out: dict[str, Any], reason: Any) -> None:
    if isinstance(reason, str) and reason and "finish_reason" not in out:
        out["finish_reason"] = FINISH_RENAMES.get(reason, reason)


def _current_content(call: LlmCall, attrs: Mapping[str, Any]) -> bool:
    inputs = structured(attrs.get("gen_ai.input.messages"))
    outputs = structured(attrs.get("gen_ai.output.messages"))
    if not isinstance(inputs, list) and not isinstance(outputs, list):
        return False
    prompt = [m for raw in inputs or [] if isinstance(raw, Mapping) for m in _parts_message(raw)]
    call.system, call.prompt = chat.split_system(prompt)
    instructions = structured(attrs.get("gen_ai.system_instructions"))
    if isinstance(instructions, list):
        parts = [chat.as_text(p.get("content")) for p in instructions if isinstance(p, Mapping)]
        joined = "\n\n".join(p for p in parts if p)
        call.system = "\n\n".join(s for s in (joined, call.system) if s) or None
    elif isinstance(instructions, str) and instructions:
        call.system = instructions
    call.outputs = [_parts_output(m) for m in outputs or [] if isinstance(m, Mapping)]
    return True


# ---------------------------------------------------------------------------------------------- legacy


def _flat_message(flat: Mapping[str, Any]) -> dict[str, Any]:
    """A flattened ``gen_ai.prompt.N.*`` / ``gen_ai.completion.N.*`` group in the OpenAI shape."""
    message: dict[str, Any] = {
        "role": flat.get("role"),
        "content": structured(flat.get("content")),
        "tool_call_id": flat.get("tool_call_id"),
        "name": flat.get("name"),
        "refusal": flat.get("refusal"),
    }
    calls = indexed(flat, "tool_calls")
    if calls:
        message["tool_calls"] = calls
    return message


def _legacy_content(call: LlmCall, span: Span) -> bool:
    prompts = indexed(span.attributes, "gen_ai.prompt")
    completions = indexed(span.attributes, "gen_ai.completion")
    if not prompts and not completions:
        prompts, completions = _legacy_events(span)
    if not prompts and not completions:
        return False
    messages = [chat.chat_message(_flat_message(p)) for p in prompts]
    call.system, call.prompt = chat.split_system(messages)
    for flat in completions:
        message = _flat_message(flat)
        fields = chat.reply(message)
        _set_finish(fields, flat.get("finish_reason"))
        call.outputs.append(fields)
    return True


def _legacy_events(span: Span) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """``gen_ai.content.prompt`` / ``.completion`` span events (a JSON list of OpenAI messages)."""
    prompts: list[dict[str, Any]] = []
    completions: list[dict[str, Any]] = []
    for event in span.events:
        if event.name == "gen_ai.content.prompt":
            value = structured(event.attributes.get("gen_ai.prompt"))
            prompts += [m for m in value if isinstance(m, dict)] if isinstance(value, list) else []
        elif event.name == "gen_ai.content.completion":
            value = structured(event.attributes.get("gen_ai.completion"))
            completions += [m for m in value if isinstance(m, dict)] if isinstance(value, list) else []
    return prompts, completions


# ---------------------------------------------------------------------------------------------- the rest


def _params(attrs: Mapping[str, Any]) -> dict[str, Any]:
    params = {}
    for name, value in with_prefix(attrs, "gen_ai.request").items():
        if name != "model" and value is not None:
            params[PARAM_RENAMES.get(name, name)] = value
    return params


def _usage(attrs: Mapping[str, Any]) -> dict[str, Any]:
    usage: dict[str, Any] = {}
    for name, value in with_prefix(attrs, "gen_ai.usage").items():
        amount = number(value)
        if amount is not None and amount >= 0:
            usage.setdefault(USAGE_RENAMES.get(name, name), amount)
    return usage


def _model(attrs: Mapping[str, Any]) -> dict[str, Any]:
    requested = text(attrs, "gen_ai.request.model")
    responded = text(attrs, "gen_ai.response.model")
    model: dict[str, Any] = {"name": requested or responded or "unknown"}
    if responded:
        model["version"] = responded
    provider = text(attrs, "gen_ai.provider.name", "gen_ai.system")
    if provider:
        model["provider"] = provider
    return model


def read_call(span: Span) -> LlmCall:
    """The :class:`LlmCall` of a GenAI inference span."""
    attrs = span.attributes
    call = LlmCall(convention="gen_ai")
    if not _current_content(call, attrs) and not _legacy_content(call, span):
        call.missing = (
            "no gen_ai.input.messages/gen_ai.output.messages (turn content capture on in the "
            "instrumentation, e.g. OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT=span_only)"
        )
    if call.prompt and attrs.get("gen_ai.operation.name") == "text_completion":
        call.prompt = _completion_prompt(call.prompt)
    reasons = attrs.get("gen_ai.response.finish_reasons")
    if isinstance(reasons, list):
        for output, reason in zip(call.outputs, reasons, strict=False):
            _set_finish(output, reason)
    call.model = _model(attrs)
    call.params = _params(attrs)
    call.usage = _usage(attrs)
    call.response_id = text(attrs, "gen_ai.response.id")
    call.user_id = text(attrs, "user.id", "enduser.id")
    call.session_id = text(attrs, "session.id", "gen_ai.conversation.id")
    return call.check()


def _completion_prompt(prompt: str | list[chat.Message]) -> str | list[chat.Message]:
    """A text completion's prompt as the string it was, when it is one user message."""
    if isinstance(prompt, list) and len(prompt) == 1 and prompt[0]["role"] == "user":
        return str(prompt[0]["content"])
    return prompt
