"""``wrap_anthropic(anthropic_client, client)``: every Messages call of an ``anthropic`` client
logged as an inference.

Wrapped, on ``Anthropic`` and ``AsyncAnthropic`` (in place; the same client is returned):
``messages.create`` (plain and ``stream=True``) and ``messages.stream`` (the helper used as
``with client.messages.stream(...) as stream:``, logged when the ``with`` block ends, from the
stream's accumulated message: whatever the application read, ``text_stream``, events or
``get_final_message()``).

A message is one candidate, ``c0`` (the API has no ``n``: gather several calls with
``client.candidate_set``): its ``text`` blocks joined are ``output``, its ``tool_use`` blocks are
``tool_calls`` in the contract's (OpenAI's) shape with ``arguments`` the input as JSON (as streamed,
when streamed), ``stop_reason`` is ``finish_reason`` (``end_turn``, ``max_tokens``, ``tool_use``,
``refusal``...); ``model`` ``{name: the request's, version: the response's, provider: anthropic}``;
``params``: ``temperature``, ``top_p``, ``top_k``, ``max_tokens``, ``stop_sequences``; ``usage``:
``input_tokens``, ``output_tokens`` and the cache counts. The prompt is the request's ``messages``,
with ``tool_use`` and ``tool_result`` blocks as assistant tool calls and tool turns, and ``system``
as the system prompt; ``metadata={"user_id": ...}`` is ``user_id``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Final, TypeVar

from preflog.integrations import chat
from preflog.integrations.capture import (
    REQUEST_ID_KEYWORD,
    Answer,
    Call,
    Endpoint,
    dumped,
    guard,
    plain_params,
    usage_of,
)
from preflog.integrations.wrapping import MARK, StreamLog, patch

if TYPE_CHECKING:
    from preflog.sdk.client import Client

C = TypeVar("C")

PARAMS: Final = {
    "temperature": "temperature",
    "top_p": "top_p",
    "top_k": "top_k",
    "max_tokens": "max_tokens",
    "stop_sequences": "stop_sequences",
}
USAGE: Final = {
    "input_tokens": "input_tokens",
    "output_tokens": "output_tokens",
    "cache_creation_input_tokens": "cache_creation_input_tokens",
    "cache_read_input_tokens": "cache_read_input_tokens",
}


def wrap_anthropic(anthropic_client: C, client: Client) -> C:
    """Log every ``messages.create`` and ``messages.stream`` of ``anthropic_client`` to ``client``."""
    messages = anthropic_client.messages  # type: ignore[attr-defined]
    is_async = type(messages).__name__.startswith("Async")
    patch(messages, "create", client, MESSAGES, is_async=is_async)
    helper = getattr(messages, "stream", None)
    if helper is not None and not getattr(helper, MARK, False):
        manager = _AsyncManager if is_async else _Manager

        def stream(*args: Any, **kwargs: Any) -> Any:
            call = guard(client, MESSAGES.name, Call, client, MESSAGES, kwargs)
            kwargs.pop(REQUEST_ID_KEYWORD, None)
            opened = helper(*args, **kwargs)
            return opened if call is None else manager(opened, call)

        setattr(stream, MARK, True)
        messages.stream = stream
    return anthropic_client


# ---------------------------------------------------------------------------------------------- requests


def _system(raw: Any) -> str | None:
    text, _ = chat.content_text(dumped(raw))
    return text if text.strip() else None


def _prompt(kwargs: Mapping[str, Any]) -> tuple[Any, str | None]:
    messages: list[dict[str, Any]] = []
    for message in dumped(list(kwargs.get("messages") or [])):
        if isinstance(message, Mapping):
            messages.extend(_turns(message))
    return messages, _system(kwargs.get("system"))


def _turns(message: Mapping[str, Any]) -> list[dict[str, Any]]:
    """One Anthropic message as chat messages: ``tool_result`` blocks become tool turns (before
    the user's text, as the API requires them first), ``tool_use`` blocks the assistant's calls."""
    role, content = message.get("role"), message.get("content")
    if not isinstance(content, list):
        return [chat.chat_message({"role": role, "content": content})]
    texts: list[str] = []
    calls: list[dict[str, Any]] = []
    turns: list[dict[str, Any]] = []
    for block in content:
        kind = block.get("type") if isinstance(block, Mapping) else None
        if kind == "text":
            texts.append(block.get("text") or "")
        elif kind == "tool_use":
            calls.append({"id": block.get("id"), "name": block.get("name"), "arguments": block.get("input")})
        elif kind == "tool_result":
            result, _ = chat.content_text(block.get("content"))
            turns.append({"role": "tool", "tool_call_id": block.get("tool_use_id"), "content": result})
    if role == "assistant":
        return [chat.chat_message({"role": "assistant", "content": "".join(texts), "tool_calls": calls})]
    if texts:
        turns.append({"role": role, "content": "".join(texts)})
    return [chat.chat_message(turn) for turn in turns]


def _user_id(kwargs: Mapping[str, Any]) -> str | None:
    metadata = kwargs.get("metadata")
    value = metadata.get("user_id") if isinstance(metadata, Mapping) else None
    return value if isinstance(value, str) and value.strip() else None


# ---------------------------------------------------------------------------------------------- answers


def _reply(texts: list[str], calls: list[dict[str, Any]], stop_reason: Any) -> dict[str, Any]:
    return chat.reply({"content": "".join(texts), "tool_calls": calls}, finish_reason=stop_reason)


def _message_answer(message: Any) -> Answer:
    texts: list[str] = []
    calls: list[dict[str, Any]] = []
    for block in message.content or ():
        if block.type == "text":
            texts.append(block.text)
        elif block.type == "tool_use":
            calls.append({"id": block.id, "name": block.name, "arguments": block.input})
    reply = _reply(texts, calls, message.stop_reason)
    return Answer(message.id, message.model, {0: reply}, usage_of(message.usage, USAGE))


def _stream_answer(events: Sequence[Any]) -> Answer:
    """The message a raw event stream (``messages.create(stream=True)``) built, block by block."""
    answer = Answer()
    blocks: dict[int, dict[str, Any]] = {}
    usage: dict[str, float] = {}
    stop_reason = None
    for event in events:
        kind = event.type
        if kind == "message_start":
            answer.response_id, answer.model_version = event.message.id, event.message.model
            usage.update(usage_of(event.message.usage, USAGE) or {})
        elif kind == "content_block_start":
            block = event.content_block
            blocks[event.index] = {"type": block.type, "text": [getattr(block, "text", "") or ""], "json": []}
            blocks[event.index].update(id=getattr(block, "id", None), name=getattr(block, "name", None))
            blocks[event.index]["input"] = getattr(block, "input", None)
        elif kind == "content_block_delta" and event.index in blocks:
            delta = event.delta
            if delta.type == "text_delta":
                blocks[event.index]["text"].append(delta.text)
            elif delta.type == "input_json_delta":
                blocks[event.index]["json"].append(delta.partial_json)
        elif kind == "message_delta":
            stop_reason = event.delta.stop_reason or stop_reason
            usage.update(usage_of(event.usage, USAGE) or {})
    texts = ["".join(b["text"]) for _, b in sorted(blocks.items()) if b["type"] == "text"]
    calls = [
        {"id": b["id"], "name": b["name"], "arguments": "".join(b["json"]) if b["json"] else b["input"]}
        for _, b in sorted(blocks.items())
        if b["type"] == "tool_use"
    ]
    if answer.response_id is not None:
        answer.replies[0] = _reply(texts, calls, stop_reason)
    answer.usage = usage or None
    return answer


def _stream_ids(events: Sequence[Any]) -> tuple[str | None, list[int]]:
    """``message_start``'s id (the stream's first event): one candidate once it arrived."""
    first = events[0] if events else None
    if first is not None and first.type == "message_start":
        return first.message.id, [0]
    return None, []


MESSAGES: Final = Endpoint(
    name="anthropic.messages",
    provider="anthropic",
    prompt=_prompt,
    params=lambda kwargs: plain_params(kwargs, PARAMS),
    user_id=_user_id,
    answer=_message_answer,
    stream_answer=_stream_answer,
    ids=lambda message: (message.id, [0]),
    stream_ids=_stream_ids,
)


# ---------------------------------------------------------------------------------------------- the helper


def _finish(log: StreamLog | None, stream: Any, exc: BaseException | None) -> None:
    """Log what the helper's stream accumulated: its message snapshot, partial when it has no
    ``stop_reason`` (the block was left early) or the block raised (the stream failed)."""
    if log is None:
        return
    snapshot = guard(log.call.client, MESSAGES.name, stream._current_snapshot_or_none)
    answer = None if snapshot is None else guard(log.call.client, MESSAGES.name, _message_answer, snapshot)
    how = "error" if exc is not None else "end" if getattr(snapshot, "stop_reason", None) else "closed"
    log.finish(how, exc, answer or Answer())


class _Manager:
    """``messages.stream(...)``'s context manager, logging when its block ends."""

    def __init__(self, manager: Any, call: Call) -> None:
        self._manager = manager
        self._call = call
        self._stream: Any = None
        self._log: StreamLog | None = None

    def __enter__(self) -> Any:
        self._stream = self._manager.__enter__()
        self._log = guard(self._call.client, MESSAGES.name, StreamLog, self._call, self._stream)
        return self._stream

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: Any) -> Any:
        try:
            return self._manager.__exit__(exc_type, exc, tb)
        finally:
            _finish(self._log, self._stream, exc)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._manager, name)


class _AsyncManager(_Manager):
    async def __aenter__(self) -> Any:
        self._stream = await self._manager.__aenter__()
        self._log = guard(self._call.client, MESSAGES.name, StreamLog, self._call, self._stream)
        return self._stream

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: Any
    ) -> Any:
        try:
            return await self._manager.__aexit__(exc_type, exc, tb)
        finally:
            _finish(self._log, self._stream, exc)
