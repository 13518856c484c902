"""Per-key rate limiting: a token bucket per API key, in process (each worker keeps its own)."""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable


class RateLimiter:
    """``rate`` requests per second per key on average, bursts of up to ``burst``.

    :meth:`acquire` takes one token and returns None, or returns how many seconds to wait until a
    token is available (the ``Retry-After``), taking nothing. With ``max_keys``, buckets idle long
    enough to be full again are dropped once there are more than that many (a full bucket and a
    missing one are the same), so one bucket per short-lived key (a feedback token) stays bounded.
    """

    def __init__(
        self,
        rate: float,
        burst: int,
        *,
        clock: Callable[[], float] = time.monotonic,
        max_keys: int | None = None,
    ) -> None:
        self.rate = rate
        self.burst = burst
        self.max_keys = max_keys
        self._clock = clock
        self._lock = threading.Lock()
        self._buckets: dict[str, tuple[float, float]] = {}  # key -> (tokens, last refill time)

    def acquire(self, key: str) -> float | None:
        with self._lock:
            t = self._clock()
            if self.max_keys is not None and len(self._buckets) > self.max_keys:
                refill = self.burst / self.rate
                self._buckets = {k: v for k, v in self._buckets.items() if t - v[1] < refill}
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
