"""``wrap_openai(openai_client, client)``: every call of an ``openai`` client logged as an inference.

Wrapped, on ``OpenAI``, ``AsyncOpenAI``, ``AzureOpenAI`` and ``AsyncAzureOpenAI`` (in place; the
same client is returned): ``chat.completions.create`` (plain and ``stream=True``),
``chat.completions.parse`` and ``responses.create`` (plain and ``stream=True``).

Each choice becomes candidate ``c{index}``: ``output`` (the text; ``""`` for a tool-call-only or
empty answer), ``tool_calls`` (OpenAI's shape, arguments as the model wrote them), ``refusal``,
``finish_reason``; ``model`` ``{name: the request's model, version: response.model, provider}``;
``params`` (OpenTelemetry GenAI names: ``temperature``, ``top_p``, ``max_tokens`` — from
``max_tokens``, ``max_completion_tokens`` or ``max_output_tokens`` —, ``seed``,
``frequency_penalty``, ``presence_penalty``, ``stop_sequences``); ``usage`` (``input_tokens``,
``output_tokens``, ``total_tokens``; with ``n`` > 1 choices the response's usage is shared, and says
so with ``choices: n``); ``latency_ms`` (call to response, or to the stream's end);
``metadata.response_id``. The prompt is the request's ``messages`` (Responses: ``input``, with
``instructions`` as the system prompt); the request's ``user`` / ``safety_identifier`` is
``user_id``. A streamed call is read from its chunks: choices interleaved by ``index`` are kept
apart, tool calls assembled from their deltas (send ``stream_options={"include_usage": True}`` to
get usage).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Final, TypeVar

from preflog.integrations import chat
from preflog.integrations.capture import Answer, Endpoint, dumped, plain_params, usage_of
from preflog.integrations.wrapping import patch

if TYPE_CHECKING:
    from preflog.sdk.client import Client

C = TypeVar("C")

CHAT_PARAMS: Final = {
    "temperature": "temperature",
    "top_p": "top_p",
    "max_tokens": "max_tokens",
    "max_completion_tokens": "max_tokens",
    "seed": "seed",
    "frequency_penalty": "frequency_penalty",
    "presence_penalty": "presence_penalty",
    "stop": "stop_sequences",
}
RESPONSES_PARAMS: Final = {"temperature": "temperature", "top_p": "top_p", "max_output_tokens": "max_tokens"}
USAGE: Final = {
    "prompt_tokens": "input_tokens",
    "completion_tokens": "output_tokens",
    "input_tokens": "input_tokens",
    "output_tokens": "output_tokens",
    "total_tokens": "total_tokens",
}


def wrap_openai(openai_client: C, client: Client) -> C:
    """Log every chat completion and response of ``openai_client`` to ``client``; return it."""
    import openai  # the application's own dependency: loaded only here

    is_async = isinstance(openai_client, openai.AsyncOpenAI)
    azure = isinstance(openai_client, openai.AzureOpenAI | openai.AsyncAzureOpenAI)
    provider = "azure.ai.openai" if azure else "openai"
    completions = openai_client.chat.completions  # type: ignore[attr-defined]
    patch(completions, "create", client, CHAT.with_provider(provider), is_async=is_async)
    patch(completions, "parse", client, CHAT.with_provider(provider), is_async=is_async)
    responses = getattr(openai_client, "responses", None)
    if responses is not None:
        patch(responses, "create", client, RESPONSES.with_provider(provider), is_async=is_async)
    return openai_client


# ---------------------------------------------------------------------------------------------- requests


def _chat_prompt(kwargs: Mapping[str, Any]) -> tuple[Any, str | None]:
    return chat.chat_messages(dumped(list(kwargs.get("messages") or []))), None


def _responses_prompt(kwargs: Mapping[str, Any]) -> tuple[Any, str | None]:
    instructions = kwargs.get("instructions")
    system = instructions if isinstance(instructions, str) and instructions.strip() else None
    raw = kwargs.get("input")
    if isinstance(raw, str):
        return raw, system
    items = [item for item in dumped(list(raw or [])) if isinstance(item, Mapping)]
    return [_input_item(item) for item in items if item.get("type", "message") in _PROMPT_ITEMS], system


# Input items that are turns of the conversation; the rest (reasoning, a web search's call...) are
# the model's working, which the chat prompt of the contract has no place for.
_PROMPT_ITEMS: Final = frozenset({"message", "function_call", "function_call_output"})


def _input_item(item: Mapping[str, Any]) -> dict[str, Any]:
    """A Responses API input item as a chat message: messages, function calls and their outputs."""
    kind = item.get("type")
    if kind == "function_call":
        call = {"id": item.get("call_id"), "name": item.get("name"), "arguments": item.get("arguments")}
        return chat.chat_message({"role": "assistant", "content": None, "tool_calls": [call]})
    if kind == "function_call_output":
        output = chat.as_text(item.get("output"))
        return chat.chat_message({"role": "tool", "tool_call_id": item.get("call_id"), "content": output})
    return chat.chat_message(item)


def _user_id(kwargs: Mapping[str, Any]) -> str | None:
    for key in ("user", "safety_identifier"):
        value = kwargs.get(key)
        if isinstance(value, str) and value.strip():
            return value
    return None


# ---------------------------------------------------------------------------------------------- chat answers


def _tool_call(raw: Any) -> dict[str, Any]:
    custom = getattr(raw, "custom", None)
    if custom is not None:  # a custom tool's call: its free-form input is the arguments
        return {"id": raw.id, "name": custom.name, "arguments": custom.input}
    fn = raw.function
    return {"id": raw.id, "type": "function", "function": {"name": fn.name, "arguments": fn.arguments}}


def chat_answer(response: Any) -> Answer:
    """An OpenAI-shaped chat completion (the ``openai`` SDK's, LiteLLM's ``ModelResponse``)."""
    answer = Answer(response.id, response.model, usage=usage_of(response.usage, USAGE))
    for choice in response.choices:
        message = choice.message
        raw = {
            "content": message.content,
            "refusal": getattr(message, "refusal", None),
            "tool_calls": [_tool_call(c) for c in message.tool_calls or ()],
        }
        answer.replies[choice.index] = chat.reply(raw, finish_reason=choice.finish_reason)
    return answer


class _ChoiceParts:
    """One choice of a stream, assembled from its deltas."""

    def __init__(self) -> None:
        self.content: list[str] = []
        self.refusal: list[str] = []
        self.calls: dict[int, dict[str, Any]] = {}
        self.finish_reason: str | None = None

    def feed(self, choice: Any) -> None:
        delta = choice.delta
        if delta is not None:
            if delta.content:
                self.content.append(delta.content)
            if getattr(delta, "refusal", None):
                self.refusal.append(delta.refusal)
            for part in delta.tool_calls or ():
                call = self.calls.setdefault(part.index, {"id": None, "name": [], "arguments": []})
                call["id"] = part.id or call["id"]
                if part.function is not None:
                    call["name"].append(part.function.name or "")
                    call["arguments"].append(part.function.arguments or "")
        if choice.finish_reason:
            self.finish_reason = choice.finish_reason

    def reply(self) -> dict[str, Any]:
        calls = [
            {"id": c["id"], "name": "".join(c["name"]), "arguments": "".join(c["arguments"])}
            for _, c in sorted(self.calls.items())
        ]
        raw = {"content": "".join(self.content), "refusal": "".join(self.refusal), "tool_calls": calls}
        return chat.reply(raw, finish_reason=self.finish_reason)


def _chat_stream_answer(chunks: Sequence[Any]) -> Answer:
    answer = Answer()
    parts: dict[int, _ChoiceParts] = {}
    for chunk in chunks:
        answer.response_id = answer.response_id or chunk.id
        answer.model_version = chunk.model or answer.model_version
        if getattr(chunk, "usage", None) is not None:
            answer.usage = usage_of(chunk.usage, USAGE)
        for choice in chunk.choices or ():
            parts.setdefault(choice.index, _ChoiceParts()).feed(choice)
    answer.replies = {index: p.reply() for index, p in parts.items()}
    return answer


# ---------------------------------------------------------------------------------------------- responses


def _responses_answer(response: Any) -> Answer:
    texts: list[str] = []
    refusals: list[str] = []
    calls: list[dict[str, Any]] = []
    for item in response.output or ():
        kind = getattr(item, "type", None)
        if kind == "message":
            for part in item.content or ():
                if part.type == "output_text":
                    texts.append(part.text)
                elif part.type == "refusal":
                    refusals.append(part.refusal)
        elif kind == "function_call":
            calls.append({"id": item.call_id, "name": item.name, "arguments": item.arguments})
    raw = {"content": "".join(texts), "refusal": "".join(refusals), "tool_calls": calls}
    reply = chat.reply(raw, finish_reason=_responses_finish(response, bool(calls)))
    return Answer(response.id, response.model, {0: reply}, usage_of(response.usage, USAGE))


def _responses_finish(response: Any, called: bool) -> str | None:
    """Chat's finish reasons from a response's status: ``completed`` → ``stop`` (``tool_calls``
    when it called a function), ``incomplete`` → its reason (``max_output_tokens``...)."""
    status = getattr(response, "status", None)
    if status == "completed":
        return "tool_calls" if called else "stop"
    details = getattr(response, "incomplete_details", None)
    reason = getattr(details, "reason", None)
    return reason if isinstance(reason, str) else None if status in (None, "in_progress") else status


_FINAL_EVENTS: Final = frozenset({"response.completed", "response.incomplete", "response.failed"})


def _responses_stream_answer(events: Sequence[Any]) -> Answer:
    """The final response when the stream got that far; else what its deltas said (no finish)."""
    started: Any = None
    texts: list[str] = []
    refusals: list[str] = []
    calls: list[dict[str, Any]] = []
    for event in events:
        kind = getattr(event, "type", None)
        if kind in _FINAL_EVENTS:
            return _responses_answer(event.response)
        if kind == "response.created":
            started = event.response
        elif kind == "response.output_text.delta":
            texts.append(event.delta)
        elif kind == "response.refusal.delta":
            refusals.append(event.delta)
        elif kind == "response.output_item.done" and getattr(event.item, "type", None) == "function_call":
            item = event.item
            calls.append({"id": item.call_id, "name": item.name, "arguments": item.arguments})
    raw = {"content": "".join(texts), "refusal": "".join(refusals), "tool_calls": calls}
    answer = Answer(getattr(started, "id", None), getattr(started, "model", None))
    if started is not None or texts or calls:
        answer.replies[0] = chat.reply(raw)
    return answer


def _chat_ids(response: Any) -> tuple[str | None, list[int]]:
    return response.id, [choice.index for choice in response.choices]


def _one_ids(response: Any) -> tuple[str | None, list[int]]:
    return response.id, [0]


def _chat_stream_ids(chunks: Sequence[Any]) -> tuple[str | None, list[int]]:
    indexes = {choice.index for chunk in chunks for choice in chunk.choices or ()}
    return (chunks[0].id if chunks else None), sorted(indexes)


def _responses_stream_ids(events: Sequence[Any]) -> tuple[str | None, list[int]]:
    """The id of ``response.created``; one candidate once anything arrived (see the answer)."""
    for event in events:
        if getattr(event, "type", None) == "response.created":
            return event.response.id, [0]
    return None, [0] if events else []


CHAT: Final = Endpoint(
    name="openai.chat.completions",
    provider="openai",
    prompt=_chat_prompt,
    params=lambda kwargs: plain_params(kwargs, CHAT_PARAMS),
    user_id=_user_id,
    answer=chat_answer,
    stream_answer=_chat_stream_answer,
    ids=_chat_ids,
    stream_ids=_chat_stream_ids,
)
RESPONSES: Final = Endpoint(
    name="openai.responses",
    provider="openai",
    prompt=_responses_prompt,
    params=lambda kwargs: plain_params(kwargs, RESPONSES_PARAMS),
    user_id=_user_id,
    answer=_responses_answer,
    stream_answer=_responses_stream_answer,
    ids=_one_ids,
    stream_ids=_responses_stream_ids,
)
