"""An OpenAI-compatible chat completions server on loopback, for the real ``openai`` SDK.

``POST /v1/chat/completions`` answers ``n`` choices (default 1) whose text is derived from the
last user message, so a test knows what to expect: choice ``i`` says ``"answer {i}: {question}"``.
A request whose last user message contains ``"weather"`` gets a tool call as choice 0 instead
(``finish_reason: tool_calls``, ``content: null``), and ``"refuse"`` an empty answer with a
refusal. Every request body is kept in :attr:`StubServer.requests`.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

MODEL_VERSION = "stub-model-2026-01-01"


def _choice(index: int, question: str) -> dict[str, Any]:
    if "weather" in question and index == 0:
        message: dict[str, Any] = {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
                }
            ],
        }
        return {"index": index, "message": message, "finish_reason": "tool_calls", "logprobs": None}
    if "refuse" in question:
        message = {"role": "assistant", "content": "", "refusal": "I can't help with that."}
        return {"index": index, "message": message, "finish_reason": "stop", "logprobs": None}
    message = {"role": "assistant", "content": f"answer {index}: {question}"}
    return {"index": index, "message": message, "finish_reason": "stop", "logprobs": None}


def completion(body: dict[str, Any], number: int) -> dict[str, Any]:
    users = [m for m in body.get("messages", []) if m.get("role") == "user"]
    question = str(users[-1]["content"]) if users else ""
    n = int(body.get("n") or 1)
    return {
        "id": f"chatcmpl-stub-{number}",
        "object": "chat.completion",
        "created": 1_790_000_000 + number,
        "model": MODEL_VERSION,
        "choices": [_choice(i, question) for i in range(n)],
        "usage": {"prompt_tokens": 11, "completion_tokens": 7 * n, "total_tokens": 11 + 7 * n},
    }


class StubServer:
    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("content-length", "0"))
                body = json.loads(self.rfile.read(length) or b"{}")
                stub.requests.append(body)
                answer = json.dumps(completion(body, len(stub.requests))).encode()
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
