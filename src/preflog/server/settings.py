"""Service settings: explicit keyword arguments; :meth:`ServerSettings.from_env` fills them from
their ``PREFLOG_*`` variables through :mod:`preflog.config` (the app factory calls it)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final

from preflog import config
from preflog.errors import ConfigError
from preflog.events import Limits

MiB: Final = 1024 * 1024
DEFAULT_SESSION_TTL_S: Final = 12 * 3600


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
    ``session_ttl_s`` (``PREFLOG_SESSION_TTL``, 12 hours) is how long a web UI sign-in lasts;
    ``session_secret`` (``PREFLOG_SESSION_SECRET``, none) is mixed into the UI's session signatures
    (:mod:`preflog.server.ui.session`).
    """

    max_body_bytes: int = 10 * MiB
    max_batch_events: int = 10_000
    max_page: int = 1000
    rate_limit: float | None = None
    rate_burst: int | None = None
    retry_after_s: int = 1
    ready_timeout_s: float = 5.0
    limits: Limits = field(default_factory=Limits)
    session_ttl_s: int = DEFAULT_SESSION_TTL_S
    session_secret: str = field(default="", repr=False)

    def __post_init__(self) -> None:
        for name in ("max_body_bytes", "max_batch_events", "max_page", "retry_after_s", "session_ttl_s"):
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
    def from_env(cls, environ: Mapping[str, str] | None = None) -> ServerSettings:
        """Every field from its ``PREFLOG_*`` variable in ``environ`` (default: the process environment)."""
        values = {name: config.get(variable, environ) for name, variable in _VARIABLES.items()}
        values["session_secret"] = values["session_secret"] or ""
        return cls(limits=Limits.from_env(environ), **values)


_VARIABLES: Final = {
    "max_body_bytes": "PREFLOG_MAX_BODY_BYTES",
    "max_batch_events": "PREFLOG_MAX_BATCH_EVENTS",
    "max_page": "PREFLOG_MAX_PAGE",
    "rate_limit": "PREFLOG_RATE_LIMIT",
    "rate_burst": "PREFLOG_RATE_BURST",
    "retry_after_s": "PREFLOG_RETRY_AFTER",
    "session_ttl_s": "PREFLOG_SESSION_TTL",
    "session_secret": "PREFLOG_SESSION_SECRET",
}
