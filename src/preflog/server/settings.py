"""Service settings: explicit keyword arguments, each with a documented ``PREFLOG_*`` env fallback."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from preflog.errors import ConfigError
from preflog.events import Limits

MiB = 1024 * 1024


def _env(name: str, default: str | None) -> str | None:
    raw = os.environ.get(name)
    return default if raw is None or raw.strip() == "" else raw.strip()


def _env_int(name: str, default: int) -> int:
    raw = _env(name, None)
    if raw is None:
        return default
    try:
        return int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be an integer, got {raw!r}") from None


def _env_float(name: str, default: float | None) -> float | None:
    raw = _env(name, None)
    if raw is None:
        return default
    if raw.lower() in ("off", "none", "0"):
        return None
    try:
        return float(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a number or 'off', got {raw!r}") from None


@dataclass(frozen=True)
class ServerSettings:
    """Limits and knobs of the HTTP service.

    ``max_body_bytes`` (``PREFLOG_MAX_BODY_BYTES``, 10 MiB) bounds a request body as sent and again
    after gzip decompression; ``max_batch_events`` (``PREFLOG_MAX_BATCH_EVENTS``, 10,000) bounds the
    events of one write; ``max_page`` (``PREFLOG_MAX_PAGE``, 1,000) bounds ``GET /v1/events?limit=``.
    ``rate_limit`` (``PREFLOG_RATE_LIMIT``, off) is the steady requests per second allowed per key,
    ``rate_burst`` (``PREFLOG_RATE_BURST``, default ``2 × rate_limit``, at least 1) the bucket size.
    ``retry_after_s`` (``PREFLOG_RETRY_AFTER``, 1) is the ``Retry-After`` sent with a 503.
    ``limits`` are the event field limits (:class:`preflog.events.Limits`, ``PREFLOG_MAX_PROMPT_BYTES``...).
    """

    max_body_bytes: int = 10 * MiB
    max_batch_events: int = 10_000
    max_page: int = 1000
    rate_limit: float | None = None
    rate_burst: int | None = None
    retry_after_s: int = 1
    ready_timeout_s: float = 5.0
    limits: Limits = field(default_factory=Limits)

    def __post_init__(self) -> None:
        for name in ("max_body_bytes", "max_batch_events", "max_page", "retry_after_s"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} must be at least 1")
        if self.rate_limit is not None and self.rate_limit <= 0:
            raise ConfigError("rate_limit must be positive (or None for no limit)")

    @property
    def burst(self) -> int:
        if self.rate_burst is not None:
            return max(1, self.rate_burst)
        return max(1, round(2 * (self.rate_limit or 0)))

    @classmethod
    def from_env(cls) -> ServerSettings:
        burst = _env("PREFLOG_RATE_BURST", None)
        return cls(
            max_body_bytes=_env_int("PREFLOG_MAX_BODY_BYTES", cls.max_body_bytes),
            max_batch_events=_env_int("PREFLOG_MAX_BATCH_EVENTS", cls.max_batch_events),
            max_page=_env_int("PREFLOG_MAX_PAGE", cls.max_page),
            rate_limit=_env_float("PREFLOG_RATE_LIMIT", None),
            rate_burst=None if burst is None else _env_int("PREFLOG_RATE_BURST", 0),
            retry_after_s=_env_int("PREFLOG_RETRY_AFTER", cls.retry_after_s),
            limits=Limits.from_env(),
        )
