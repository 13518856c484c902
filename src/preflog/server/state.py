"""What every route shares: the store, the key store, settings, metrics, the rate limiter and the
audit log."""

from __future__ import annotations

from dataclasses import dataclass, field

from preflog.server.audit import AuditLog, MemoryAuditLog
from preflog.server.keys import KeyStore
from preflog.server.limits import RateLimiter
from preflog.server.metrics import Metrics
from preflog.server.settings import ServerSettings
from preflog.store.base import Store


@dataclass
class ServerState:
    store: Store
    keys: KeyStore
    settings: ServerSettings
    metrics: Metrics
    limiter: RateLimiter | None
    audit: AuditLog = field(default_factory=MemoryAuditLog)
