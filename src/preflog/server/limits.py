"""Per-key rate limiting: a token bucket per API key, in process (each worker keeps its own)."""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable


class RateLimiter:
    """``rate`` requests per second per key on average, bursts of up to ``burst``.

    :meth:`acquire` takes one token and returns None, or returns how many seconds to wait until a
    token is available (the ``Retry-After``), taking nothing.
    """

    def __init__(self, rate: float, burst: int, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.rate = rate
        self.burst = burst
        self._clock = clock
        self._lock = threading.Lock()
        self._buckets: dict[str, tuple[float, float]] = {}  # key -> (tokens, last refill time)

    def acquire(self, key: str) -> float | None:
        with self._lock:
            t = self._clock()
            tokens, last = self._buckets.get(key, (float(self.burst), t))
            tokens = min(float(self.burst), tokens + (t - last) * self.rate)
            if tokens >= 1.0:
                self._buckets[key] = (tokens - 1.0, t)
                return None
            self._buckets[key] = (tokens, t)
            return (1.0 - tokens) / self.rate

    @staticmethod
    def retry_after(seconds: float) -> str:
        """A ``Retry-After`` value: whole seconds, rounded up, at least 1."""
        return str(max(1, math.ceil(seconds)))
