"""The SDK's one retry policy: what is retried, how often, and how long to wait in between.

Only a :class:`~preflog.errors.RetryableError` is retried (a service that is unreachable or
answered 5xx, 429 or 408; a store that is busy or down); every other error is answered once.
The waits grow exponentially with full jitter (a random wait between 0 and the cap), so clients
that failed together do not come back together; a ``Retry-After`` from the service is honoured
as given. :meth:`RetryPolicy.call` is the only retry loop in the SDK: transports make one attempt
per call, and the batcher calls them through it.

>>> policy = RetryPolicy(retries=3, backoff=0.5, max_backoff=4.0)
>>> [policy.cap(attempt) for attempt in range(5)]
[0.5, 1.0, 2.0, 4.0, 4.0]
>>> policy.delay(0, retry_after=1.5)
1.5
>>> 0 <= policy.delay(2) <= 2.0
True
"""

from __future__ import annotations

import random
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final, TypeVar

from preflog.errors import ConfigError, RetryableError

__all__ = ["MAX_RETRY_AFTER", "RetryPolicy"]

T = TypeVar("T")

# A Retry-After longer than this is read as this: a service asking for an hour is not waited
# for in the worker; the batch goes to the spool, whose replay honours the wait.
MAX_RETRY_AFTER: Final = 600.0


@dataclass(frozen=True)
class RetryPolicy:
    """``retries`` attempts after the first; waits from ``backoff`` seconds doubling up to
    ``max_backoff``, with full jitter. A ``Retry-After`` longer than ``max_backoff`` ends the
    retries at once (the caller spools the batch rather than stall its worker that long)."""

    retries: int = 3
    backoff: float = 0.1
    max_backoff: float = 10.0

    def __post_init__(self) -> None:
        if isinstance(self.retries, bool) or not isinstance(self.retries, int) or self.retries < 0:
            raise ConfigError(f"retries must be an integer >= 0, got {self.retries!r}")
        for name in ("backoff", "max_backoff"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
                raise ConfigError(f"{name} must be a number of seconds >= 0, got {value!r}")

    def cap(self, attempt: int) -> float:
        """The longest wait before attempt ``attempt + 1`` (0-based: the wait after the first failure
        is ``cap(0)``)."""
        return float(min(self.max_backoff, self.backoff * 2**attempt))

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        """How long to wait after failure number ``attempt`` (0-based)."""
        if retry_after is not None:
            return float(min(max(0.0, retry_after), MAX_RETRY_AFTER))
        return random.uniform(0.0, self.cap(attempt))

    def call(
        self,
        attempt_once: Callable[[], T],
        *,
        stop: threading.Event | None = None,
        on_retry: Callable[[RetryableError], None] | None = None,
    ) -> T:
        """``attempt_once()``, again after a wait each time it raises a :class:`RetryableError`, at
        most ``retries`` more times; the last error is raised. ``stop`` (set by a closing client)
        ends the waiting early and raises the error at hand; ``on_retry`` is told of each retry."""
        stop = stop or threading.Event()
        attempt = 0
        while True:
            try:
                return attempt_once()
            except RetryableError as exc:
                too_long = exc.retry_after is not None and exc.retry_after > self.max_backoff
                if attempt >= self.retries or too_long or stop.is_set():
                    raise
                if on_retry is not None:
                    on_retry(exc)
                if stop.wait(self.delay(attempt, exc.retry_after)):
                    raise
                attempt += 1
