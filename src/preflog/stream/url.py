"""``kafka://HOST:PORT[,HOST2:PORT2]/TOPIC?partitions=N&replication=R`` parsed into what the
clients need. Stdlib only, so the CLI can refuse a bad URL before importing ``confluent_kafka``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final
from urllib.parse import parse_qsl, urlsplit

from preflog.errors import ConfigError

# 12 partitions: a consumer group can grow to 12 members without re-partitioning, and 12 divides
# evenly among 1, 2, 3, 4 and 6 consumers. docs/scaling.md says when to raise it.
DEFAULT_PARTITIONS: Final = 12
DEFAULT_REPLICATION: Final = 1


class StreamURLError(ConfigError):
    """A ``kafka://`` URL that cannot be used; the message names the part and the reason."""


@dataclass(frozen=True)
class StreamURL:
    bootstrap: str  # "h1:p1,h2:p2", librdkafka's bootstrap.servers
    topic: str
    partitions: int = DEFAULT_PARTITIONS
    replication: int = DEFAULT_REPLICATION

    def __str__(self) -> str:
        return f"kafka://{self.bootstrap}/{self.topic}?partitions={self.partitions}"


def _positive(name: str, text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise StreamURLError(f"{name} must be a whole number, got {text!r}") from None
    if value < 1:
        raise StreamURLError(f"{name} must be at least 1, got {value}")
    return value


def _hosts(netloc: str) -> str:
    if not netloc:
        raise StreamURLError("a kafka:// URL needs HOST:PORT, e.g. kafka://127.0.0.1:9092/preflog")
    for host in netloc.split(","):
        name, sep, port = host.rpartition(":")
        if not sep or not name:
            raise StreamURLError(f"broker {host!r} needs HOST:PORT")
        number = _positive(f"the port of broker {host!r}", port)
        if number > 65535:
            raise StreamURLError(f"the port of broker {host!r} must be at most 65535")
    return netloc


def parse_stream_url(url: str) -> StreamURL:
    """The parts of ``url``; :class:`StreamURLError` names what is wrong."""
    parts = urlsplit(url)
    if parts.scheme != "kafka":
        raise StreamURLError(f"a stream URL starts with kafka://, got {url!r}")
    topic = parts.path.lstrip("/")
    if not topic or "/" in topic:
        raise StreamURLError(f"a kafka:// URL names one topic after the brokers, got {parts.path!r}")
    known = {"partitions": DEFAULT_PARTITIONS, "replication": DEFAULT_REPLICATION}
    for key, value in parse_qsl(parts.query, keep_blank_values=True):
        if key not in known:
            raise StreamURLError(f"unknown option {key!r} (known: {', '.join(sorted(known))})")
        known[key] = _positive(key, value)
    return StreamURL(_hosts(parts.netloc), topic, known["partitions"], known["replication"])
