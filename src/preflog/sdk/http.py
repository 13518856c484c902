"""The HTTP transport: batches to the ingestion service (``POST /v1/events``), standard library only.

Each batch is one gzip-compressed JSON array. Delivery is retried with exponential backoff and
jitter on connection errors, 5xx and 429 (honouring ``Retry-After``), never on other 4xx: those
events can never be accepted as they are and come back as ``rejected``. Event ids make every retry
idempotent: the service answers ``duplicate`` for what it already stored.

When the service stays unreachable, the client's worker hands the batch to the transport's
:class:`~preflog.sdk.spool.DiskSpool`; the transport replays the spool when the service answers
again and when a new client starts.
"""

from __future__ import annotations

import gzip
import http.client
import json
import logging
import os
import random
import threading
import urllib.parse
from typing import Any, Final

from preflog.errors import ConfigError, TransportError
from preflog.sdk.spool import DEFAULT_MAX_BYTES, DiskSpool, default_spool_dir
from preflog.sdk.transport import Transport
from preflog.store.base import AppendResult

log = logging.getLogger("preflog")

_RETRYABLE: Final = frozenset({429, 500, 502, 503, 504, 507})
_ANSWERED: Final = frozenset({200, 207, 422})


class RetryableError(TransportError):
    """The service could not take the batch now (unreachable, 5xx, 429): try again later,
    after ``retry_after`` seconds when the service said so."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class HTTPTransport(Transport):
    """Sends batches to ``url`` (``http://host:port``) with ``api_key``.

    ``retries`` attempts after the first, backoff from ``backoff`` seconds doubling up to
    ``max_backoff``, with full jitter. ``spool_dir`` (default: :func:`default_spool_dir`) and
    ``spool_max_bytes`` configure the durable spool; ``spool=False`` turns it off.
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
    ) -> None:
        parsed = urllib.parse.urlsplit(url)
        if parsed.scheme not in ("http", "https") or not parsed.hostname:
            raise ConfigError(f"url: {url!r} must be http://host:port or https://host:port")
        self.url = url.rstrip("/")
        self.api_key = api_key if api_key is not None else os.environ.get("PREFLOG_API_KEY")
        self.timeout = timeout
        self.retries = retries
        self.backoff = backoff
        self.max_backoff = max_backoff
        self._scheme = parsed.scheme
        self._host = parsed.hostname
        self._port = parsed.port
        self._path = (parsed.path.rstrip("/") or "") + "/v1/events"
        self._conn: http.client.HTTPConnection | None = None
        self._lock = threading.Lock()
        self._closed = threading.Event()
        self.spool: DiskSpool | None = None
        if spool:
            directory = (
                spool_dir or os.environ.get("PREFLOG_SPOOL_DIR_EXACT") or default_spool_dir(url, project)
            )
            cap = spool_max_bytes or int(os.environ.get("PREFLOG_SPOOL_MAX_BYTES", DEFAULT_MAX_BYTES))
            self.spool = DiskSpool(directory, max_bytes=cap)
            if self.spool.size():
                threading.Thread(target=self._replay_quietly, name="preflog-spool", daemon=True).start()

    # ------------------------------------------------------------------------------------ sending

    def send(self, events: list[dict[str, Any]], project: str) -> list[AppendResult]:
        results = self._send_with_retries(events, project)
        if self.spool is not None and self.spool.size():
            self._replay_quietly()  # the service answers again: deliver what waited on disk
        return results

    def _send_with_retries(self, events: list[dict[str, Any]], project: str) -> list[AppendResult]:
        attempt = 0
        while True:
            try:
                return self._post(events, project)
            except RetryableError as exc:
                if attempt >= self.retries or self._closed.is_set():
                    raise
                delay = exc.retry_after if exc.retry_after is not None else self._delay(attempt)
                attempt += 1
                self._closed.wait(delay)

    def _delay(self, attempt: int) -> float:
        return random.uniform(0, min(self.max_backoff, self.backoff * 2**attempt))

    def _post(self, events: list[dict[str, Any]], project: str) -> list[AppendResult]:
        body = gzip.compress(json.dumps(events, ensure_ascii=False).encode("utf-8"), compresslevel=1)
        headers = {
            "Content-Type": "application/json",
            "Content-Encoding": "gzip",
            "Accept": "application/json",
            "User-Agent": "preflog-sdk",
        }
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        with self._lock:
            try:
                conn = self._connection()
                conn.request("POST", self._path, body=body, headers=headers)
                response = conn.getresponse()
                payload = response.read()
            except (OSError, http.client.HTTPException) as exc:
                self._drop_connection()
                raise RetryableError(f"{self.url} unreachable: {type(exc).__name__}: {exc}") from exc
        return self._answers(response.status, response.getheader("Retry-After"), payload, events)

    def _answers(
        self, status: int, retry_after: str | None, payload: bytes, events: list[dict[str, Any]]
    ) -> list[AppendResult]:
        if status in _ANSWERED:
            try:
                results = json.loads(payload)["results"]
                return [_result(r) for r in results]
            except (ValueError, KeyError, TypeError) as exc:
                raise RetryableError(f"unreadable answer from {self.url} (HTTP {status}): {exc}") from exc
        message = _message(payload)
        if status in _RETRYABLE:
            raise RetryableError(f"HTTP {status} from {self.url}: {message}", _seconds(retry_after))
        # Other 4xx: these events cannot be accepted as sent; retrying cannot help.
        reason = f"HTTP {status}: {message}"
        return [AppendResult("rejected", _event_id(e), field="", reason=reason) for e in events]

    # ------------------------------------------------------------------------------------ plumbing

    def _connection(self) -> http.client.HTTPConnection:
        if self._conn is None:
            cls = http.client.HTTPSConnection if self._scheme == "https" else http.client.HTTPConnection
            self._conn = cls(self._host, self._port, timeout=self.timeout)
        return self._conn

    def _drop_connection(self) -> None:
        if self._conn is not None:
            try:
                self._conn.close()
            finally:
                self._conn = None

    def _replay_quietly(self) -> None:
        spool = self.spool
        if spool is None:
            return
        try:
            sent = spool.replay(lambda events, project: self._post_or_raise(events, project))
        except Exception as exc:
            log.debug("preflog: spool replay stopped: %s", exc)
            return
        if sent:
            log.info("preflog: replayed %d spooled events to %s", sent, self.url)

    def _post_or_raise(self, events: list[dict[str, Any]], project: str) -> None:
        self._post(events, project)

    def close(self) -> None:
        self._closed.set()
        with self._lock:
            self._drop_connection()

    def after_fork(self) -> None:
        self._conn = None  # the parent's socket is not ours to use or close
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"HTTPTransport(url={self.url!r})"


def _result(raw: dict[str, Any]) -> AppendResult:
    return AppendResult(
        status=raw.get("status", "rejected"),
        event_id=raw.get("event_id"),
        position=raw.get("position"),
        field=raw.get("field"),
        reason=raw.get("reason"),
    )


def _event_id(event: dict[str, Any]) -> str | None:
    value = event.get("event_id")
    return value if isinstance(value, str) else None


def _message(payload: bytes) -> str:
    try:
        data = json.loads(payload)
        if isinstance(data, dict):
            return str(data.get("detail") or data.get("error") or data)[:500]
    except ValueError:
        pass
    return payload[:200].decode("utf-8", "replace")


def _seconds(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return min(60.0, max(0.0, float(value)))
    except ValueError:
        return None
