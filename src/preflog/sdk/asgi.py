"""An in-process wire: the SDK's HTTP requests go straight into an ASGI application (such as
``preflog.server.app.create_app(...)``), with no socket — what httpx's ``ASGITransport`` does.

>>> from preflog.sdk.http import HTTPTransport
>>> async def app(scope, receive, send):  # the smallest ASGI app: every request gets a 503
...     if scope["type"] == "http":
...         await send({"type": "http.response.start", "status": 503, "headers": []})
...         await send({"type": "http.response.body", "body": b"{}"})
>>> transport = HTTPTransport("http://preflog.test", wire=ASGIWire(app, lifespan=False), spool=False)
>>> transport.send([{"event_id": "e-1"}], "default")
Traceback (most recent call last):
  ...
preflog.errors.ServiceUnavailable: HTTP 503 from http://preflog.test: {}
>>> transport.close()

The application runs on an event loop of its own, in a daemon thread, so the SDK's worker (a
plain thread) can call it like a server; its lifespan (startup, shutdown) runs once, around the
first request and :meth:`ASGIWire.close`. Standard library only: this module imports nothing of
the service; the caller passes the app.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from collections.abc import Awaitable, Callable, Mapping, MutableMapping
from typing import Any

from preflog.errors import ServiceUnavailable
from preflog.sdk.wire import Response

__all__ = ["ASGIApp", "ASGIWire"]

Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[MutableMapping[str, Any], Receive, Send], Awaitable[None]]


class ASGIWire:
    """Calls ``app`` for each request. ``lifespan=False`` skips the app's startup and shutdown
    (an app that has none); ``timeout`` bounds one request, like a socket timeout."""

    def __init__(self, app: ASGIApp, *, lifespan: bool = True, timeout: float = 30.0) -> None:
        self.app = app
        self.lifespan = lifespan
        self.timeout = timeout
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._state: dict[str, Any] = {}
        self._lifespan_in: asyncio.Queue[Message] | None = None
        self._lifespan_out: asyncio.Queue[Message] | None = None

    # ------------------------------------------------------------------------------------ requests

    def request(self, method: str, path: str, headers: Mapping[str, str], body: bytes) -> Response:
        loop = self._running_loop()
        future = asyncio.run_coroutine_threadsafe(self._call(method, path, headers, body), loop)
        try:
            return future.result(self.timeout)
        except concurrent.futures.TimeoutError as exc:
            future.cancel()
            raise ServiceUnavailable(f"the ASGI app did not answer within {self.timeout:g} s") from exc

    async def _call(self, method: str, path: str, headers: Mapping[str, str], body: bytes) -> Response:
        scope: dict[str, Any] = {
            "type": "http",
            "asgi": {"version": "3.0", "spec_version": "2.3"},
            "http_version": "1.1",
            "method": method,
            "scheme": "http",
            "path": path,
            "raw_path": path.encode("latin-1"),
            "query_string": b"",
            "root_path": "",
            "headers": [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()],
            "client": ("127.0.0.1", 0),
            "server": ("preflog.asgi", 80),
            "state": dict(self._state),
        }
        sent_body = False
        start: Message = {}
        chunks: list[bytes] = []

        async def receive() -> Message:
            nonlocal sent_body
            if not sent_body:
                sent_body = True
                return {"type": "http.request", "body": body, "more_body": False}
            await asyncio.Event().wait()  # the client never disconnects mid-request
            return {"type": "http.disconnect"}  # pragma: no cover

        async def send(message: Message) -> None:
            if message["type"] == "http.response.start":
                start.update(message)
            elif message["type"] == "http.response.body":
                chunks.append(bytes(message.get("body", b"")))

        try:
            await self.app(scope, receive, send)
        except Exception as exc:  # an app bug: what a server would answer, a 500
            if not start:
                return Response(500, {}, f"{type(exc).__name__}: {exc}".encode())
        if not start:
            return Response(500, {}, b"the ASGI app sent no response")
        raw = start.get("headers", [])
        names = {bytes(k).decode("latin-1").lower(): bytes(v).decode("latin-1") for k, v in raw}
        return Response(int(start["status"]), names, b"".join(chunks))

    # ------------------------------------------------------------------------------------ the loop

    def _running_loop(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._loop is None:
                loop = asyncio.new_event_loop()
                thread = threading.Thread(target=loop.run_forever, name="preflog-asgi", daemon=True)
                thread.start()
                self._loop, self._thread = loop, thread
                if self.lifespan:
                    asyncio.run_coroutine_threadsafe(self._startup(), loop).result(self.timeout)
            return self._loop

    async def _startup(self) -> None:
        inbox: asyncio.Queue[Message] = asyncio.Queue()
        outbox: asyncio.Queue[Message] = asyncio.Queue()
        self._lifespan_in, self._lifespan_out = inbox, outbox
        scope = {"type": "lifespan", "asgi": {"version": "3.0"}, "state": self._state}
        task = asyncio.ensure_future(self.app(scope, inbox.get, outbox.put))
        await inbox.put({"type": "lifespan.startup"})
        answer = asyncio.ensure_future(outbox.get())
        await asyncio.wait({task, answer}, return_when=asyncio.FIRST_COMPLETED)
        if not answer.done():  # the app returned (or raised) at once: it has no lifespan
            answer.cancel()
            self._lifespan_in = None
            return
        if answer.result()["type"] == "lifespan.startup.failed":
            raise ServiceUnavailable(f"the ASGI app failed to start: {answer.result().get('message', '')}")

    async def _shutdown(self) -> None:
        if self._lifespan_in is None or self._lifespan_out is None:
            return
        await self._lifespan_in.put({"type": "lifespan.shutdown"})
        await asyncio.wait_for(self._lifespan_out.get(), self.timeout)

    def close(self) -> None:
        """Run the app's shutdown and stop the loop. A later request starts them again."""
        with self._lock:
            loop, thread, self._loop, self._thread = self._loop, self._thread, None, None
        if loop is None:
            return
        try:
            if self.lifespan:
                asyncio.run_coroutine_threadsafe(self._shutdown(), loop).result(self.timeout)
        finally:
            loop.call_soon_threadsafe(loop.stop)
            if thread is not None:
                thread.join(self.timeout)
            loop.close()

    def after_fork(self) -> None:
        # The parent's loop thread does not exist in a child: start afresh on the next request.
        self._lock = threading.Lock()
        self._loop = self._thread = None
        self._lifespan_in = self._lifespan_out = None

    def __repr__(self) -> str:
        return f"ASGIWire(app={self.app!r})"
