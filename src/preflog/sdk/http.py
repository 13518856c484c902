"""The HTTP transport: batches to the ingestion service (``POST /v1/events``), standard library only.

Each batch is one gzip-compressed JSON array, sent once per :meth:`HTTPTransport.send`; what the
service answers decides what happens to it (docs/api.md has the answers, docs/sdk.md the policy):

==========================  =====================================================================
answer                      what the transport does
==========================  =====================================================================
200, 207, 422               per-event answers: ``stored``, ``duplicate``, ``conflict``, ``rejected``
                            with field and reason
no answer, 5xx, 429, 408    raises :class:`~preflog.errors.ServiceUnavailable` (a
                            ``RetryableError``, with the ``Retry-After`` seconds): retried by the
                            client's one retry policy (:mod:`preflog.sdk.retry`), then spooled
401, 403                    raises :class:`~preflog.errors.Unauthorized`: the key was refused;
                            the client keeps the events in its spool
413                         splits the batch in halves until each part fits; an event too large
                            on its own is ``rejected`` with the service's reason
400, 415                    sends the batch uncompressed (a service or proxy that refuses gzip),
                            then in halves down to single events; a single event refused so is
                            ``rejected`` with the service's reason
anything else (404, 3xx)    raises :class:`~preflog.errors.TransportError` (a wrong URL): spooled
==========================  =====================================================================

Event ids make every repeat idempotent: the service answers ``duplicate`` for what it has.
"""

from __future__ import annotations

import gzip
import json
import os
import threading
import urllib.parse
from collections.abc import Mapping
from typing import Any, Final

from preflog.answers import AppendResult
from preflog.errors import ConfigError, RetryableError, ServiceUnavailable, TransportError, Unauthorized
from preflog.sdk.base import Transport
from preflog.sdk.retry import RetryPolicy
from preflog.sdk.spool import DEFAULT_MAX_BYTES, DiskSpool, default_spool_dir
from preflog.sdk.wire import Response, SocketWire, Wire

__all__ = ["HTTPTransport", "RetryableError"]  # RetryableError: its old home, kept importable

_RETRYABLE: Final = frozenset({408, 425, 429, 500, 502, 503, 504, 507})
_ANSWERED: Final = frozenset({200, 207, 422})
_REFUSED: Final = frozenset({401, 403})
_UNREADABLE: Final = frozenset({400, 415})


class HTTPTransport(Transport):
    """Sends batches to ``url`` (``http://host:port``) with ``api_key``. Reads no environment:
    :class:`preflog.Client` is where ``PREFLOG_URL`` and ``PREFLOG_API_KEY`` are read.

    ``retries``, ``backoff`` and ``max_backoff`` make this transport's :attr:`retry` policy (the
    client applies it; a send is one attempt). ``wire`` carries the requests (default: a socket,
    :class:`~preflog.sdk.wire.SocketWire`; :class:`~preflog.sdk.asgi.ASGIWire` for an app in
    process). ``spool_dir`` and ``spool_max_bytes`` make a :class:`~preflog.sdk.spool.DiskSpool`
    (:attr:`spool`) that a client given this transport keeps failed batches in and replays;
    ``spool=False`` makes none (the default directory is :func:`default_spool_dir`).
    """

    def __init__(
        self,
        url: str,
        *,
        api_key: str | None = None,
        project: str = "default",
        timeout: float = 10.0,
        retries: int = 4,
        backoff: float = 0.2,
        max_backoff: float = 10.0,
        spool: bool = True,
        spool_dir: str | os.PathLike[str] | None = None,
        spool_max_bytes: int | None = None,
        wire: Wire | None = None,
        gzip_level: int | None = 1,
    ) -> None:
        parsed = urllib.parse.urlsplit(url)
        if parsed.scheme not in ("http", "https") or not parsed.hostname:
            raise ConfigError(f"url: {url!r} must be http://host:port or https://host:port")
        self.url = url.rstrip("/")
        self.api_key = api_key
        self.retry = RetryPolicy(retries, backoff, max_backoff)
        self._prefix = parsed.path.rstrip("/")  # a service mounted under a path: https://host/preflog
        self._path = self._prefix + "/v1/events"
        self._wire: Wire = wire or SocketWire(
            parsed.hostname, parsed.port, tls=parsed.scheme == "https", timeout=timeout
        )
        self._gzip_level = gzip_level  # None: send uncompressed (set on a 400/415 to a gzip body)
        self._lock = threading.Lock()
        self.spool: DiskSpool | None = None
        if spool:
            where = spool_dir or default_spool_dir(url, project)
            self.spool = DiskSpool(where, max_bytes=spool_max_bytes or DEFAULT_MAX_BYTES)

    # ------------------------------------------------------------------------------------ sending

    def send(self, events: list[dict[str, Any]], project: str) -> list[AppendResult]:
        """One attempt; see the module's table for what each answer does."""
        if not events:
            return []
        answer = self._post(events)
        status = answer.status
        if status in _ANSWERED:
            return self._results(answer, len(events))
        message = _message(answer.body)
        where = f"HTTP {status} from {self.url}: {message}"
        if status in _RETRYABLE:
            raise ServiceUnavailable(where, _seconds(answer.headers.get("retry-after")))
        if status in _REFUSED:
            raise Unauthorized(where, status)
        if status == 413:
            return self._in_halves(events, project, f"HTTP 413: {message} (this event alone is too large)")
        if status in _UNREADABLE:
            if self._gzip_level is not None:
                self._gzip_level = None  # a service (or a proxy before it) that cannot take gzip
                return self.send(events, project)
            return self._in_halves(events, project, f"HTTP {status}: {message}")
        raise TransportError(where)

    def _in_halves(self, events: list[dict[str, Any]], project: str, alone: str) -> list[AppendResult]:
        """The batch split in two, each half sent on its own; a single event answered so is
        rejected with ``alone`` as the reason (the service refused that very event)."""
        if len(events) == 1:
            return [AppendResult("rejected", _event_id(events[0]), field="", reason=alone)]
        middle = len(events) // 2
        return self.send(events[:middle], project) + self.send(events[middle:], project)

    def _post(self, events: list[dict[str, Any]]) -> Response:
        body = json.dumps(events, ensure_ascii=False).encode("utf-8")
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        headers["User-Agent"] = "preflog-sdk"
        if self._gzip_level is not None:
            body = gzip.compress(body, compresslevel=self._gzip_level)
            headers["Content-Encoding"] = "gzip"
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        with self._lock:
            return self._wire.request("POST", self._path, headers, body)

    def _results(self, answer: Response, expected: int) -> list[AppendResult]:
        try:
            results = [_result(r) for r in json.loads(answer.body)["results"]]
        except (ValueError, KeyError, TypeError) as exc:
            raise ServiceUnavailable(
                f"unreadable answer from {self.url} (HTTP {answer.status}): {exc}"
            ) from exc
        if len(results) != expected:  # not the preflog service, or a proxy that cut the answer
            raise ServiceUnavailable(f"{self.url} answered {len(results)} results for {expected} events")
        return results

    def call(self, method: str, path: str, payload: Any = None) -> tuple[int, Any]:
        """One JSON request to the service other than a batch of events (say, minting a feedback
        token), with this transport's key and wire: its status and parsed JSON answer (None when
        not JSON). One attempt; raises :class:`~preflog.errors.ServiceUnavailable` on no answer."""
        headers = {"Accept": "application/json", "User-Agent": "preflog-sdk"}
        body = b""
        if payload is not None:
            body = json.dumps(payload, ensure_ascii=False).encode("utf-8")
            headers["Content-Type"] = "application/json"
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        with self._lock:
            answer = self._wire.request(method, self._prefix + path, headers, body)
        try:
            return answer.status, json.loads(answer.body)
        except ValueError:
            return answer.status, None

    # ------------------------------------------------------------------------------------ plumbing

    def close(self) -> None:
        with self._lock:
            self._wire.close()

    def after_fork(self) -> None:
        self._lock = threading.Lock()
        self._wire.after_fork()

    def __repr__(self) -> str:
        return f"HTTPTransport(url={self.url!r})"


def _result(raw: Mapping[str, Any]) -> AppendResult:
    return AppendResult(
        status=raw.get("status", "rejected"),
        event_id=raw.get("event_id"),
        position=raw.get("position"),
        field=raw.get("field"),
        reason=raw.get("reason"),
    )


def _event_id(event: Mapping[str, Any]) -> str | None:
    value = event.get("event_id")
    return value if isinstance(value, str) else None


def _message(payload: bytes) -> str:
    try:
        data = json.loads(payload)
        if isinstance(data, dict):
            return str(data.get("message") or data.get("detail") or data.get("error") or data)[:500]
    except ValueError:
        pass
    return payload[:200].decode("utf-8", "replace")


def _seconds(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None
