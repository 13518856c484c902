"""How one HTTP request of the SDK reaches the service: the seam under :class:`HTTPTransport`.

:class:`preflog.sdk.http.HTTPTransport` speaks preflog's HTTP protocol (gzip batches, per-event
answers, what each status means); a *wire* only carries bytes. :class:`SocketWire` (the default)
uses a keep-alive ``http.client`` connection; :class:`preflog.sdk.asgi.ASGIWire` calls an ASGI
application in the same process, with no socket — as httpx's ``ASGITransport`` does — so tests
run the SDK against the real service app. Any object with ``request``, ``close`` and
``after_fork`` will do.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, NamedTuple, Protocol

from preflog.errors import ServiceUnavailable

if TYPE_CHECKING:
    import http.client

__all__ = ["Response", "SocketWire", "Wire"]


class Response(NamedTuple):
    """An HTTP answer: status, headers (lower-case names) and the whole body."""

    status: int
    headers: Mapping[str, str]
    body: bytes


class Wire(Protocol):
    """Carries one request to the service and brings back its answer. Raises
    :class:`~preflog.errors.ServiceUnavailable` when there was no answer (refused, reset, timeout)."""

    def request(self, method: str, path: str, headers: Mapping[str, str], body: bytes) -> Response: ...

    def close(self) -> None: ...

    def after_fork(self) -> None: ...


class SocketWire:
    """One keep-alive connection to ``host:port`` (``https`` when ``tls``); not thread-safe: the
    transport holds a lock around :meth:`request`."""

    def __init__(self, host: str, port: int | None, *, tls: bool = False, timeout: float = 10.0) -> None:
        self.host = host
        self.port = port
        self.tls = tls
        self.timeout = timeout
        self._conn: http.client.HTTPConnection | None = None

    def request(self, method: str, path: str, headers: Mapping[str, str], body: bytes) -> Response:
        import http.client  # on the first request: it (with the email package) is ~15 ms of imports

        try:
            conn = self._connection()
            conn.request(method, path, body=body, headers=dict(headers))
            answer = conn.getresponse()
            payload = answer.read()
        except (OSError, http.client.HTTPException) as exc:
            self.close()  # a half-used connection cannot be trusted for the next request
            where = f"{self.host}:{self.port}" if self.port else self.host
            raise ServiceUnavailable(f"{where} unreachable: {type(exc).__name__}: {exc}") from exc
        return Response(answer.status, {k.lower(): v for k, v in answer.getheaders()}, payload)

    def _connection(self) -> http.client.HTTPConnection:
        import http.client

        if self._conn is None:
            cls = http.client.HTTPSConnection if self.tls else http.client.HTTPConnection
            self._conn = cls(self.host, self.port, timeout=self.timeout)
        return self._conn

    def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()

    def after_fork(self) -> None:
        self._conn = None  # the parent's socket is not ours to use or close
