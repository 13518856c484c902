"""What the browser-feedback routes share: their settings, a rate limiter per token, the origins.

``FeedbackSettings`` takes keyword arguments; :meth:`FeedbackSettings.from_env` is what the app
factory calls (``PREFLOG_FEEDBACK_RATE``, ``PREFLOG_FEEDBACK_BURST``, ``PREFLOG_FEEDBACK_MAX_TTL``
through :mod:`preflog.config`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

from preflog import config
from preflog.errors import ConfigError
from preflog.server.feedback_origins import OriginStore
from preflog.server.limits import RateLimiter

DEFAULT_TTL_S: Final = 24 * 3600  # a product page stays open for hours; a day covers a session
#: Buckets kept before idle ones are forgotten: one per token used recently, so memory stays flat.
MAX_BUCKETS: Final = 100_000


@dataclass(frozen=True)
class FeedbackSettings:
    """``rate`` feedback calls per second per token on average, bursts of ``burst`` (a person
    clicks a few times, a script looping on a leaked token is held to that); tokens live at most
    ``max_ttl_s`` seconds (30 days), ``default_ttl_s`` when the minting call names no ``ttl``."""

    rate: float = 1.0
    burst: int = 10
    max_ttl_s: int = 30 * 24 * 3600
    default_ttl_s: int = DEFAULT_TTL_S

    def __post_init__(self) -> None:
        if self.rate <= 0 or self.burst < 1 or self.max_ttl_s < 1:
            raise ConfigError("feedback rate must be positive, burst and max_ttl_s at least 1")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> FeedbackSettings:
        max_ttl = int(config.get("PREFLOG_FEEDBACK_MAX_TTL", environ))
        return cls(
            rate=float(config.get("PREFLOG_FEEDBACK_RATE", environ)),
            burst=int(config.get("PREFLOG_FEEDBACK_BURST", environ)),
            max_ttl_s=max_ttl,
            default_ttl_s=min(DEFAULT_TTL_S, max_ttl),
        )


@dataclass
class FeedbackState:
    settings: FeedbackSettings
    limiter: RateLimiter
    origins: OriginStore


def build_state(settings: FeedbackSettings, origins: OriginStore) -> FeedbackState:
    limiter = RateLimiter(settings.rate, settings.burst, max_keys=MAX_BUCKETS)
    return FeedbackState(settings, limiter, origins)
