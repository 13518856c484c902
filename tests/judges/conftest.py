"""Fixtures of the judges' tests: a fixture project in a real SQLite file, and real HTTP stub
servers on loopback (an OpenAI-compatible judge, a reward-model service) whose behaviour a test
sets: deterministic verdicts, a position-biased judge, timeouts and 500s."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from preflog.store import Store, open_store
from tests import factories

PROJECT = "judged"
# Fixture outputs: the better answer is always the longer, correct one, so a content-reading
# stub judge and a length-loving reward model are both predictable.
QUESTIONS = [
    ("What is the capital of France?", "The capital of France is Paris.", "Lyon."),
    ("What is 2 + 2?", "2 + 2 equals 4.", "5"),
    ("Name a primary colour.", "Red is a primary colour.", "Green, I think"),
    ("What is water made of?", "Water is made of hydrogen and oxygen.", "Sand."),
]


def log_fixture(store: Store, *, rounds: int = 1, project: str = PROJECT) -> list[str]:
    """Inferences of two candidates each (c0 the good one), with a human preference on each."""
    request_ids = []
    for _ in range(rounds):
        for question, good, bad in QUESTIONS:
            inference = factories.inference(
                prompt=question, outputs=(good, bad), models=("good-7b", "bad-1b")
            )
            judgment = factories.preference(inference["request_id"], "c0", "c1")
            results = store.append([inference, judgment], project=project)
            assert [r.status for r in results] == ["stored", "stored"], results
            request_ids.append(inference["request_id"])
    return request_ids


@pytest.fixture
def db(tmp_path: Path) -> Iterator[tuple[str, Store]]:
    path = str(tmp_path / "judges.db")
    store = open_store(path)
    log_fixture(store)
    yield path, store
    store.close()


@dataclass
class Stub:
    """What the stub servers do; a test sets the fields."""

    mode: str = "content"  # content | position (always [[A]]) | tie | garbage
    fail_first: int = 0  # answer 500 to this many requests first
    fail_after: int | None = None  # answer 500 to every request after this many
    hang_first: int = 0  # sleep past the client's timeout on this many requests first
    hang_s: float = 2.0
    requests: int = 0
    bodies: list[Any] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def judge_answer(self, body: dict[str, Any]) -> str:
        user = body["messages"][-1]["content"]
        a = user.split("[The Start of Assistant A's Answer]\n", 1)[1].split("\n[The End", 1)[0]
        b = user.split("[The Start of Assistant B's Answer]\n", 1)[1].split("\n[The End", 1)[0]
        if self.mode == "position":
            return "Assistant A answered first, so it wins. [[A]]"
        if self.mode == "tie":
            return "Both are fine. [[C]]"
        if self.mode == "garbage":
            return "I cannot decide."
        return f"The longer answer is better. [[{'A' if len(a) >= len(b) else 'B'}]]"


class _Handler(BaseHTTPRequestHandler):
    stub: Stub

    def log_message(self, *args: Any) -> None:
        pass

    def do_POST(self) -> None:
        stub = self.server.stub  # type: ignore[attr-defined]
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        with stub.lock:
            stub.requests += 1
            stub.bodies.append(body)
            fail = stub.fail_first > 0 or (stub.fail_after is not None and stub.requests > stub.fail_after)
            stub.fail_first -= 1 if stub.fail_first > 0 else 0
            hang = not fail and stub.hang_first > 0
            stub.hang_first -= 1 if hang else 0
        if hang:
            time.sleep(stub.hang_s)
        if fail:
            self._send(500, {"error": "stub failure"})
        elif self.path.endswith("/chat/completions"):
            text = stub.judge_answer(body)
            self._send(
                200,
                {
                    "id": "chatcmpl-stub",
                    "object": "chat.completion",
                    "model": body["model"] + "-2026-11",
                    "choices": [
                        {
                            "index": 0,
                            "message": {"role": "assistant", "content": text},
                            "finish_reason": "stop",
                        }
                    ],
                    "usage": {"prompt_tokens": 50, "completion_tokens": 10, "total_tokens": 60},
                },
            )
        elif self.path == "/score":
            self._send(200, {"scores": [float(len(item["output"])) for item in body["inputs"]]})
        else:
            self._send(404, {"error": "no such route"})

    def _send(self, status: int, payload: Any) -> None:
        data = json.dumps(payload).encode()
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):  # the client timed out first
            pass


@pytest.fixture
def stub() -> Iterator[tuple[str, Stub]]:
    """A stub server on a free loopback port: ``(base URL, its Stub)``."""
    state = Stub()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.stub = state  # type: ignore[attr-defined]
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", state
    server.shutdown()
    server.server_close()
