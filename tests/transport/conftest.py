"""The SDK against the real service app in process: ``create_app`` over a real SQLite file and its
key store, reached through :class:`preflog.sdk.asgi.ASGIWire` (no socket), behind a small ASGI
middleware that plays the proxy or the outage a test needs. Real-socket and subprocess tests
(uvicorn, SIGKILL) use ``tests.service.Service`` instead."""

from __future__ import annotations

import asyncio
import gzip
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

import preflog
from preflog.events import Limits
from preflog.sdk.asgi import ASGIApp, ASGIWire
from preflog.sdk.http import HTTPTransport
from preflog.server.app import create_app
from preflog.server.keys import KeyStore, create_key, open_key_store, revoke_key
from preflog.server.settings import ServerSettings
from preflog.store import open_store
from preflog.store.base import Store

PROJECT = "default"
URL = "http://preflog.test"

# What the proxy answers instead of the app for a request (headers, body), or None: pass it on.
Answer = Callable[[dict[str, str], bytes], int | None]


@dataclass
class InProcessService:
    """The app over ``store``; ``answer`` (settable at any time) makes the proxy in front of it
    answer a status itself; ``posts`` counts the POSTs that reached the proxy."""

    store: Store
    keys: KeyStore
    spool_root: Path
    settings: ServerSettings = field(default_factory=ServerSettings)
    answer: Answer | None = None
    retry_after: str = "0"  # what the proxy's 429 and 503 answers say
    posts: int = 0
    clients: list[preflog.Client] = field(default_factory=list)

    def key(self, scope: str = "ingest", project: str = PROJECT) -> str:
        return create_key(self.keys, project=project, scope=scope, name="sdk test")[0]

    def revoke(self, token: str) -> None:
        revoke_key(self.keys, token.split("_")[1])

    def transport(self, api_key: str | None, **options: Any) -> HTTPTransport:
        options.setdefault("spool_dir", self.spool_root / "spool")
        app = Proxy(create_app(self.store, settings=self.settings, key_store=self.keys), self)
        return HTTPTransport(URL, api_key=api_key, wire=ASGIWire(app), **options)

    def client(
        self, api_key: str | None, *, transport: HTTPTransport | None = None, **options: Any
    ) -> preflog.Client:
        """A client on the shared spool directory, with short waits (its transport retries once)."""
        options.setdefault("flush_interval", 0.02)
        options.setdefault("replay_backoff", 0.05)
        options.setdefault("replay_max_backoff", 0.5)
        made = preflog.Client(
            transport=transport or self.transport(api_key, retries=1, backoff=0.01), **options
        )
        self.clients.append(made)
        return made

    def stored(self, project: str = PROJECT) -> list[dict[str, Any]]:
        return [e.event for e in self.store.iter_events(project=project)]


class Proxy:
    """An ASGI middleware in front of the real app: what a proxy or an outage looks like to the SDK."""

    def __init__(self, app: ASGIApp, owner: InProcessService) -> None:
        self.app = app
        self.owner = owner

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        body, more = b"", True
        while more:
            message = await receive()
            body += message.get("body", b"")
            more = message.get("more_body", False)
        if scope["method"] == "POST":
            self.owner.posts += 1
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        answer = self.owner.answer
        status = answer(headers, body) if answer is not None else None
        if status is None:
            await self.app(scope, _body_once(body), send)
            return
        payload = json.dumps({"error": f"proxy_{status}", "message": f"the proxy answers {status}"})
        extra = [(b"retry-after", self.owner.retry_after.encode())] if status in (429, 503) else []
        start = {"type": "http.response.start", "status": status, "headers": extra}
        await send(start)
        await send({"type": "http.response.body", "body": payload.encode()})


def _body_once(body: bytes) -> Callable[[], Any]:
    sent = False

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        await asyncio.Event().wait()  # the client stays connected until the answer is sent
        return {"type": "http.disconnect"}  # pragma: no cover

    return receive


def body_text(headers: dict[str, str], body: bytes) -> bytes:
    """A request body as the service reads it (gunzipped when it was sent compressed)."""
    return gzip.decompress(body) if headers.get("content-encoding") == "gzip" else body


def make_service(tmp_path: Path, limits: Limits | None = None) -> tuple[InProcessService, Callable[[], None]]:
    store = open_store(str(tmp_path / "service.db"), limits=limits)
    keys = open_key_store(store)
    svc = InProcessService(store, keys, tmp_path)

    def close() -> None:
        for client in svc.clients:
            client.close(timeout=5)
        if keys is not store:
            keys.close()
        store.close()

    return svc, close


@pytest.fixture
def service(tmp_path: Path) -> Iterator[InProcessService]:
    svc, close = make_service(tmp_path)
    yield svc
    close()
