"""What every route shares: the store, the key store, settings, metrics, the rate limiter and the
audit log."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from preflog.server.audit import AuditLog, MemoryAuditLog
from preflog.server.keys import KeyStore
from preflog.server.limits import RateLimiter
from preflog.server.metrics import Metrics
from preflog.server.settings import ServerSettings
from preflog.store.base import AppendResult, Store


class Sink(Protocol):
    """Where accepted events go: a :class:`preflog.store.Store`, or with ``serve --stream`` a
    :class:`preflog.stream.producer.StreamSink` (the broker's ack replaces the commit)."""

    def append(self, events: Sequence[Any], *, project: str) -> list[AppendResult]: ...


@dataclass
class ServerState:
    store: Store
    keys: KeyStore
    settings: ServerSettings
    metrics: Metrics
    limiter: RateLimiter | None
    audit: AuditLog = field(default_factory=MemoryAuditLog)
    sink: Sink | None = None  # serve --stream: ingest produces here; reads still come from the store

    @property
    def ingest_sink(self) -> Sink:
        return self.sink if self.sink is not None else self.store
