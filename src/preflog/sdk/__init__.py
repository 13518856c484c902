"""The Python SDK: :class:`Client` (log calls that only enqueue), its background batcher and its
transports. Standard library only, so it is safe to import on an application's hot path."""

from __future__ import annotations

from preflog.sdk.client import Client
from preflog.sdk.stats import ClientStats
from preflog.sdk.transport import LocalTransport, Spool, Transport, make_transport

__all__ = ["Client", "ClientStats", "LocalTransport", "Spool", "Transport", "make_transport"]
