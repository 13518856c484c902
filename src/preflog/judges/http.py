"""JSON over HTTP for the judges' endpoints (reward-model services, OpenAI-compatible chat).

One attempt per call of :func:`_post_once`; retries go through the SDK's one retry policy
(:class:`preflog.sdk.retry.RetryPolicy`): timeouts, refused connections, 408, 429 and 5xx are a
:class:`~preflog.errors.RetryableError` (with the server's ``Retry-After``), retried with
exponential backoff and full jitter; any other answer is an :class:`EndpointError`, final at once.
Standard library only.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from preflog.errors import PreflogError, RetryableError
from preflog.sdk.retry import RetryPolicy


class EndpointError(PreflogError):
    """An endpoint answered something that retrying will not change (4xx, bad JSON, wrong shape)."""


@dataclass(frozen=True)
class EndpointPolicy:
    """``attempts`` in all (the first try included), ``timeout_s`` per attempt, and the waits of
    the shared retry policy (from 0.5 s doubling up to 8 s, jittered)."""

    attempts: int = 4
    timeout_s: float = 60.0
    retry: RetryPolicy = field(default_factory=lambda: RetryPolicy(retries=3, backoff=0.5, max_backoff=8.0))

    def with_attempts(self, attempts: int, timeout_s: float) -> EndpointPolicy:
        retry = RetryPolicy(
            retries=attempts - 1, backoff=self.retry.backoff, max_backoff=self.retry.max_backoff
        )
        return EndpointPolicy(attempts, timeout_s, retry)


DEFAULT_POLICY: Final = EndpointPolicy()
_RETRIED_STATUS: Final = frozenset({408, 429})


def _retry_after(headers: Any) -> float | None:
    raw = headers.get("Retry-After") if headers is not None else None
    try:
        return float(raw) if raw is not None else None
    except ValueError:
        return None


def _post_once(url: str, body: bytes, headers: Mapping[str, str], timeout_s: float) -> Any:
    request = urllib.request.Request(url, data=body, headers=dict(headers), method="POST")
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as response:
            raw = response.read()
    except urllib.error.HTTPError as exc:
        detail = exc.read()[:300].decode("utf-8", "replace")
        if exc.code in _RETRIED_STATUS or exc.code >= 500:
            raise RetryableError(f"{url} answered {exc.code}: {detail}", _retry_after(exc.headers)) from None
        raise EndpointError(f"{url} answered {exc.code}: {detail}") from None
    except (TimeoutError, OSError) as exc:  # URLError is an OSError; so are refused connections
        raise RetryableError(f"{url}: {getattr(exc, 'reason', exc)}") from None
    try:
        return json.loads(raw)
    except ValueError:
        raise EndpointError(f"{url} answered with something that is not JSON: {raw[:120]!r}") from None


def post_json(
    url: str,
    payload: Any,
    *,
    headers: Mapping[str, str] | None = None,
    policy: EndpointPolicy = DEFAULT_POLICY,
    on_retry: Callable[[str], None] | None = None,
) -> Any:
    """POST ``payload`` as JSON and return the parsed answer, retrying what can succeed later.
    Raises :class:`RetryableError` when every attempt failed, :class:`EndpointError` at once for
    an answer that cannot change."""
    body = json.dumps(payload, ensure_ascii=False).encode("utf-8")
    sent = {"Content-Type": "application/json", **(headers or {})}

    def retried(exc: RetryableError) -> None:
        if on_retry is not None:
            on_retry(str(exc))

    try:
        return policy.retry.call(lambda: _post_once(url, body, sent, policy.timeout_s), on_retry=retried)
    except RetryableError as exc:
        raise RetryableError(f"{exc} (gave up after {policy.attempts} attempts)") from None
