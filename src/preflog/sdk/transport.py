"""Transports carry a batch of built events from the SDK's worker to a store, and answer per event.

Every transport has the same small interface (:class:`Transport`, in :mod:`preflog.sdk.base`), so
the client does not know whether it writes into an embedded SQLite file (:class:`LocalTransport`)
or to the ingestion service over HTTP (:class:`preflog.sdk.http.HTTPTransport`, picked by
:func:`make_transport` when the client is given ``url=``), or to a Kafka-protocol stream
(:class:`preflog.sdk.kafka.KafkaTransport`, for ``url="kafka://..."``).
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from preflog.answers import AppendResult
from preflog.errors import ConfigError
from preflog.sdk.base import Spool, Transport
from preflog.sdk.local import LocalTransport

if TYPE_CHECKING:
    from preflog.events import Limits
    from preflog.sdk.retry import RetryPolicy

__all__ = ["AppendResult", "LocalTransport", "Spool", "Transport", "make_transport"]


def make_transport(
    *,
    db: str | None = None,
    url: str | None = None,
    api_key: str | None = None,
    project: str = "default",
    limits: Limits | None = None,
    retry: RetryPolicy | None = None,
    spool: bool = True,
    spool_dir: str | os.PathLike[str] | None = None,
    spool_max_bytes: int | None = None,
) -> Transport:
    """The transport for a client's options: ``url="kafka://..."`` → the stream (validated here as
    the service would, ``limits`` applied; ``api_key`` unused: the broker takes no preflog key),
    other ``url=`` → HTTP (the ingestion service; ``retry``,
    when given, replaces its default retry policy; ``spool*`` configure its disk spool, which the
    client replays), else the embedded store at ``db`` (``./preflog.db`` when None). Reads no
    environment: :class:`preflog.Client` does, and passes what it found."""
    if url is not None:
        if db is not None:
            raise ConfigError("give db= (embedded store) or url= (ingestion service), not both")
        if url.startswith("kafka://"):
            return _kafka(url, project, limits, retry, spool, spool_dir, spool_max_bytes)
        try:
            from preflog.sdk.http import HTTPTransport  # imported only when used
        except ImportError as exc:
            raise ConfigError(f"url=: the HTTP transport is not available in this install ({exc})") from exc

        transport = HTTPTransport(
            url,
            api_key=api_key,
            project=project,
            spool=spool,
            spool_dir=spool_dir,
            spool_max_bytes=spool_max_bytes,
        )
        if retry is not None:
            transport.retry = retry
        return transport
    if api_key is not None:
        raise ConfigError("api_key= is for the HTTP transport (url=); the embedded store needs none")
    return LocalTransport(db, limits=limits)


def _kafka(
    url: str,
    project: str,
    limits: Limits | None,
    retry: RetryPolicy | None,
    spool: bool,
    spool_dir: str | os.PathLike[str] | None,
    spool_max_bytes: int | None,
) -> Transport:
    from preflog.sdk.kafka import KafkaTransport  # imports confluent_kafka: only when used

    transport = KafkaTransport(
        url, project=project, limits=limits, spool=spool, spool_dir=spool_dir, spool_max_bytes=spool_max_bytes
    )
    if retry is not None:
        transport.retry = retry
    return transport
