"""An OpenAI- and Anthropic-compatible server on loopback, for the real ``openai`` and
``anthropic`` SDKs (and LiteLLM): real HTTP/1.1, real server-sent events in chunked encoding.

Endpoints: ``POST /v1/chat/completions`` (``n`` choices, ``stream``, ``stream_options``),
``POST /v1/responses`` and ``POST /v1/messages`` (Anthropic), each plain or streamed. What a
request gets depends on its last user message, so a test knows what to expect:

* choice ``i`` answers ``"answer {i}: {question}"``;
* ``weather`` in the question: choice 0 (and Anthropic's answer) calls the tool ``get_weather``
  with ``{"city": "Paris"}`` instead (``finish_reason: tool_calls`` / ``stop_reason: tool_use``);
* ``refuse``: a refusal with an empty answer; ``empty``: an empty answer cut by ``length``;
* ``cut``: a stream sends half its events and the server drops the connection (no final chunk);
* ``bad request``: HTTP 400 with an API error body.

A stream interleaves the choices as the API does: every chunk carries one delta of one choice,
in turn (choice 0's first word, choice 1's first word, ...). Every request body is kept in
:attr:`StubLLM.requests`.
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
from collections.abc import Callable, Coroutine, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, TypeVar

import pytest

import preflog

T = TypeVar("T")

PROJECT = "wrapped"
MODEL_VERSION = "stub-model-2026-01-01"
ANTHROPIC_VERSION = "claude-stub-20260101"
WEATHER_ARGS = '{"city": "Paris"}'


def question_of(body: dict[str, Any]) -> str:
    messages = body.get("messages")
    if messages is None:  # the Responses API
        raw = body.get("input")
        messages = [{"role": "user", "content": raw}] if isinstance(raw, str) else raw or []
    for message in reversed(messages):
        if message.get("role") == "user":
            content = message.get("content")
            if isinstance(content, list):
                return " ".join(p.get("text", "") for p in content if isinstance(p, dict))
            return str(content)
    return ""


def answer_text(index: int, question: str) -> str:
    return f"answer {index}: {question}"


# ---------------------------------------------------------------------------------------------- OpenAI chat


def _message(index: int, question: str) -> tuple[dict[str, Any], str]:
    if "weather" in question and index == 0:
        call = {
            "id": "call_w0",
            "type": "function",
            "function": {"name": "get_weather", "arguments": WEATHER_ARGS},
        }
        return {"role": "assistant", "content": None, "tool_calls": [call]}, "tool_calls"
    if "refuse" in question:
        return {"role": "assistant", "content": None, "refusal": "I can't help with that."}, "stop"
    if "empty" in question:
        return {"role": "assistant", "content": ""}, "length"
    return {"role": "assistant", "content": answer_text(index, question)}, "stop"


def chat_completion(body: dict[str, Any], number: int) -> dict[str, Any]:
    question = question_of(body)
    n = int(body.get("n") or 1)
    choices = []
    for i in range(n):
        message, finish = _message(i, question)
        if body.get("response_format") and message.get("content"):  # structured output: JSON
            message["content"] = json.dumps({"answer": message["content"]})
        choices.append({"index": i, "message": message, "finish_reason": finish, "logprobs": None})
    return {
        "id": f"chatcmpl-stub-{number}",
        "object": "chat.completion",
        "created": 1_790_000_000 + number,
        "model": MODEL_VERSION,
        "choices": choices,
        "usage": {"prompt_tokens": 11, "completion_tokens": 7 * n, "total_tokens": 11 + 7 * n},
    }


def _deltas(message: dict[str, Any]) -> list[dict[str, Any]]:
    """One message as the deltas a stream sends: the role, then word by word (or the tool call's
    name, then its arguments in two pieces)."""
    deltas: list[dict[str, Any]] = [{"role": "assistant", "content": ""}]
    for call in message.get("tool_calls") or ():
        fn = call["function"]
        head = {
            "index": 0,
            "id": call["id"],
            "type": "function",
            "function": {"name": fn["name"], "arguments": ""},
        }
        deltas.append({"tool_calls": [head]})
        half = len(fn["arguments"]) // 2
        for piece in (fn["arguments"][:half], fn["arguments"][half:]):
            deltas.append({"tool_calls": [{"index": 0, "function": {"arguments": piece}}]})
    if message.get("refusal"):
        deltas.append({"refusal": message["refusal"]})
    words = (message.get("content") or "").split(" ")
    for i, word in enumerate(words if message.get("content") else []):
        deltas.append({"content": word if i == 0 else " " + word})
    return deltas


def chat_chunks(body: dict[str, Any], number: int) -> list[dict[str, Any]]:
    full = chat_completion(body, number)
    head = {
        "id": full["id"],
        "object": "chat.completion.chunk",
        "created": full["created"],
        "model": MODEL_VERSION,
    }
    per_choice = [_deltas(c["message"]) for c in full["choices"]]
    chunks = []
    for step in range(max(len(d) for d in per_choice)):
        for index, deltas in enumerate(per_choice):
            if step < len(deltas):
                choice = {"index": index, "delta": deltas[step], "finish_reason": None}
                chunks.append({**head, "choices": [choice]})
    for c in full["choices"]:
        chunks.append(
            {**head, "choices": [{"index": c["index"], "delta": {}, "finish_reason": c["finish_reason"]}]}
        )
    if (body.get("stream_options") or {}).get("include_usage"):
        chunks.append({**head, "choices": [], "usage": full["usage"]})
    return chunks


# ---------------------------------------------------------------------------------------------- Responses


def response(body: dict[str, Any], number: int) -> dict[str, Any]:
    question = question_of(body)
    message, _ = _message(0, question)
    output: list[dict[str, Any]] = []
    for call in message.get("tool_calls") or ():
        fn = call["function"]
        output.append(
            {
                "type": "function_call",
                "id": "fc_1",
                "call_id": call["id"],
                "name": fn["name"],
                "arguments": fn["arguments"],
                "status": "completed",
            }
        )
    if not output:
        part = (
            {"type": "refusal", "refusal": message["refusal"]}
            if message.get("refusal")
            else {"type": "output_text", "text": message["content"], "annotations": []}
        )
        output.append(
            {"type": "message", "id": "msg_1", "role": "assistant", "status": "completed", "content": [part]}
        )
    return {
        "id": f"resp_stub_{number}",
        "object": "response",
        "created_at": 1_790_000_000 + number,
        "model": MODEL_VERSION,
        "status": "completed",
        "output": output,
        "parallel_tool_calls": True,
        "tool_choice": "auto",
        "tools": [],
        "usage": {
            "input_tokens": 9,
            "output_tokens": 5,
            "total_tokens": 14,
            "input_tokens_details": {"cached_tokens": 0},
            "output_tokens_details": {"reasoning_tokens": 0},
        },
    }


def response_events(body: dict[str, Any], number: int) -> list[dict[str, Any]]:
    full = response(body, number)
    started = {**full, "status": "in_progress", "output": [], "usage": None}
    events: list[dict[str, Any]] = [{"type": "response.created", "response": started, "sequence_number": 0}]
    for item in full["output"]:
        if item["type"] == "message" and item["content"][0]["type"] == "output_text":
            for i, word in enumerate(item["content"][0]["text"].split(" ")):
                events.append(
                    {
                        "type": "response.output_text.delta",
                        "item_id": item["id"],
                        "output_index": 0,
                        "content_index": 0,
                        "delta": word if i == 0 else " " + word,
                        "logprobs": [],
                    }
                )
        events.append({"type": "response.output_item.done", "output_index": 0, "item": item})
    events.append({"type": "response.completed", "response": full})
    for i, event in enumerate(events):
        event["sequence_number"] = i
    return events


# ---------------------------------------------------------------------------------------------- Anthropic


def anthropic_message(body: dict[str, Any], number: int) -> dict[str, Any]:
    question = question_of(body)
    if "weather" in question:
        content: list[dict[str, Any]] = [
            {"type": "text", "text": "Let me look."},
            {"type": "tool_use", "id": "toolu_w0", "name": "get_weather", "input": {"city": "Paris"}},
        ]
        stop = "tool_use"
    elif "empty" in question:
        content, stop = [], "max_tokens"
    else:
        content, stop = [{"type": "text", "text": answer_text(0, question)}], "end_turn"
    return {
        "id": f"msg_stub_{number}",
        "type": "message",
        "role": "assistant",
        "model": ANTHROPIC_VERSION,
        "content": content,
        "stop_reason": stop,
        "stop_sequence": None,
        "usage": {"input_tokens": 13, "output_tokens": 6},
    }


def anthropic_events(body: dict[str, Any], number: int) -> list[dict[str, Any]]:
    full = anthropic_message(body, number)
    start = {**full, "content": [], "stop_reason": None, "usage": {"input_tokens": 13, "output_tokens": 1}}
    events: list[dict[str, Any]] = [{"type": "message_start", "message": start}]
    for index, block in enumerate(full["content"]):
        if block["type"] == "text":
            events.append(
                {"type": "content_block_start", "index": index, "content_block": {"type": "text", "text": ""}}
            )
            for i, word in enumerate(block["text"].split(" ")):
                delta = {"type": "text_delta", "text": word if i == 0 else " " + word}
                events.append({"type": "content_block_delta", "index": index, "delta": delta})
        else:
            head = {"type": "tool_use", "id": block["id"], "name": block["name"], "input": {}}
            events.append({"type": "content_block_start", "index": index, "content_block": head})
            args = json.dumps(block["input"])
            for piece in (args[: len(args) // 2], args[len(args) // 2 :]):
                events.append(
                    {
                        "type": "content_block_delta",
                        "index": index,
                        "delta": {"type": "input_json_delta", "partial_json": piece},
                    }
                )
        events.append({"type": "content_block_stop", "index": index})
    events.append(
        {
            "type": "message_delta",
            "delta": {"stop_reason": full["stop_reason"], "stop_sequence": None},
            "usage": {"output_tokens": 6},
        }
    )
    events.append({"type": "message_stop"})
    return events


# ---------------------------------------------------------------------------------------------- server


def _sse(events: list[dict[str, Any]], *, named: bool, done: bool) -> Iterator[bytes]:
    for event in events:
        head = f"event: {event['type']}\n" if named else ""
        yield f"{head}data: {json.dumps(event)}\n\n".encode()
    if done:
        yield b"data: [DONE]\n\n"


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client that closed its keep-alive connection: nothing the stub did wrong


class StubLLM:
    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.paths: list[str] = []
        self._lock = threading.Lock()
        stub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # Headers and body go out in separate writes: with Nagle's algorithm on, the client's
            # delayed ACK held every other response 40 ms (bench/wrap_overhead.py saw it).
            disable_nagle_algorithm = True

            def do_POST(self) -> None:
                length = int(self.headers.get("content-length", "0"))
                body = json.loads(self.rfile.read(length) or b"{}")
                with stub._lock:
                    stub.requests.append(body)
                    stub.paths.append(self.path)
                    number = len(stub.requests)
                path = self.path.partition("?")[0]
                if "bad request" in question_of(body):
                    error = {"type": "invalid_request_error", "message": "bad request (stub)"}
                    self._json(400, {"type": "error", "error": error})
                elif path.endswith("/chat/completions"):
                    self._answer(body, chat_completion, chat_chunks, number, named=False, done=True)
                elif path.endswith("/responses"):
                    self._answer(body, response, response_events, number, named=True, done=False)
                elif path.endswith("/messages"):
                    self._answer(body, anthropic_message, anthropic_events, number, named=True, done=False)
                else:
                    self._json(404, {"error": {"message": f"no route {self.path}"}})

            def _answer(
                self, body: dict[str, Any], plain: Any, streamed: Any, number: int, **sse: bool
            ) -> None:
                if not body.get("stream"):
                    self._json(200, plain(body, number))
                    return
                events = streamed(body, number)
                cut = "cut" in question_of(body)
                if cut:
                    events = events[: len(events) // 2]
                self.send_response(200)
                self.send_header("content-type", "text/event-stream")
                self.send_header("transfer-encoding", "chunked")
                self.end_headers()
                for data in _sse(events, named=sse["named"], done=sse["done"] and not cut):
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
                    self.wfile.flush()
                if cut:  # the connection dies midway: no last chunk, no [DONE]
                    self.close_connection = True
                    self.connection.shutdown(socket.SHUT_RDWR)
                    return
                self.wfile.write(b"0\r\n\r\n")

            def _json(self, status: int, payload: dict[str, Any]) -> None:
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = _Server(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.url = self.base + "/v1"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def run_async(main: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """``asyncio.run(main())`` in a thread of its own: the session's Playwright (tests/browser.py)
    keeps an event loop running in the main thread, where ``asyncio.run`` refuses to start."""
    result: list[T] = []
    errors: list[BaseException] = []

    def target() -> None:
        try:
            result.append(asyncio.run(main()))
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=target)
    thread.start()
    thread.join()
    if errors:
        raise errors[0]
    return result[0]


def stored_inferences(db: str, project: str) -> list[dict[str, Any]]:
    """The inference events in the SQLite store at ``db``, in order (read with preflog's store)."""
    from preflog.store import open_store

    store = open_store(db)
    try:
        return [e.event for e in store.iter_events(project=project, types=["inference"])]
    finally:
        store.close()


# ---------------------------------------------------------------------------------------------- fixtures
# Shared by tests/integrations/test_wrap_*.py (through the directory's conftest).


@pytest.fixture(scope="module")
def stub() -> Iterator[StubLLM]:
    server = StubLLM()
    yield server
    server.close()


@pytest.fixture
def db(tmp_path: Path) -> str:
    return str(tmp_path / "events.db")


@pytest.fixture
def client(db: str) -> Iterator[preflog.Client]:
    with preflog.Client(db=db, project=PROJECT) as c:
        yield c


def logged(client: preflog.Client, db: str) -> list[dict[str, Any]]:
    """Every inference the client logged, once it has delivered them all."""
    assert client.flush(10)
    return stored_inferences(db, PROJECT)


def user(text: str) -> list[dict[str, Any]]:
    return [{"role": "user", "content": text}]
