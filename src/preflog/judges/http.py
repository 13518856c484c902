"""JSON over HTTP for the judges' endpoints (reward-model services, OpenAI-compatible chat), with
one retry policy: timeouts, connection errors, 429 and 5xx are retried with exponential backoff and
full jitter (honouring ``Retry-After``); any other answer is final at once. Standard library only.
"""

from __future__ import annotations

import json
import random
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from preflog.errors import PreflogError


class RetryableError(PreflogError):
    """A failure that may succeed when tried again (timeout, refused connection, 429, 5xx)."""

    retry_after: float | None = None


class EndpointError(PreflogError):
    """An endpoint answered something that retrying will not change (4xx, bad JSON, wrong shape)."""


@dataclass(frozen=True)
class RetryPolicy:
    """``attempts`` in all (the first try included); the n-th wait is uniform in
    ``[0, min(max_backoff_s, backoff_s * 2**n)]`` unless the server sent ``Retry-After``."""

    attempts: int = 4
    backoff_s: float = 0.5
    max_backoff_s: float = 8.0
    timeout_s: float = 60.0

    def wait(self, attempt: int, retry_after: float | None, sleep: Callable[[float], None]) -> None:
        if retry_after is not None:
            sleep(min(retry_after, self.max_backoff_s))
        else:
            sleep(random.uniform(0, min(self.max_backoff_s, self.backoff_s * 2**attempt)))


DEFAULT_POLICY: Final = RetryPolicy()


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
        if exc.code == 429 or exc.code >= 500:
            error = RetryableError(f"{url} answered {exc.code}: {detail}")
            error.retry_after = _retry_after(exc.headers)
            raise error from None
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
    policy: RetryPolicy | None = None,
    sleep: Callable[[float], None] = time.sleep,
    on_retry: Callable[[str], None] | None = None,
) -> Any:
    """POST ``payload`` as JSON and return the parsed answer, retrying what can succeed later.
    Raises :class:`RetryableError` when every attempt failed, :class:`EndpointError` at once for
    an answer that cannot change."""
    policy = policy or DEFAULT_POLICY
    body = json.dumps(payload, ensure_ascii=False).encode("utf-8")
    sent = {"Content-Type": "application/json", **(headers or {})}
    for attempt in range(policy.attempts):
        try:
            return _post_once(url, body, sent, policy.timeout_s)
        except RetryableError as exc:
            if attempt + 1 == policy.attempts:
                raise RetryableError(f"{exc} (gave up after {policy.attempts} attempts)") from None
            if on_retry is not None:
                on_retry(str(exc))
            policy.wait(attempt, exc.retry_after, sleep)
    raise AssertionError("unreachable")  # pragma: no cover - the loop returns or raises
