"""The web origins allowed to send end-user feedback, per project (CORS for ``POST /v1/feedback``).

An origin is ``scheme://host[:port]`` exactly as a browser sends it in ``Origin`` (lower case, no
path, no trailing slash, the default port left out). A preflight (``OPTIONS``) carries no token,
so it is answered yes for an origin listed for *any* project; the feedback call itself must then
come from an origin listed for the token's project. ``preflog feedback origins add|list|remove``
and ``/v1/feedback-origins`` (admin) manage the list; it lives beside the events
(:class:`SQLOriginStore`, table ``feedback_origins``).
"""

from __future__ import annotations

import re
import threading
import urllib.parse
from abc import ABC, abstractmethod
from typing import Final

from preflog.errors import ValidationError
from preflog.events import now
from preflog.store.base import Store
from preflog.store.sql import SQLStore

DEFAULT_PORTS: Final = {"http": 80, "https": 443}
_PORT: Final = r"([0-9]{1,4}|[1-5][0-9]{4}|6[0-4][0-9]{3}|65[0-4][0-9]{2}|655[0-2][0-9]|6553[0-5])"
#: What an origin looks like: scheme, host (a name or an IPv4 address; IPv6 literals are not
#: accepted), port. The API's schema says it too, so a request the schema allows is never refused.
ORIGIN_PATTERN: Final = rf"^[Hh][Tt][Tt][Pp][Ss]?://[A-Za-z0-9._-]+(:{_PORT})?/?$"


def normalize_origin(value: str) -> str:
    """``value`` as a browser's ``Origin``, or ValidationError.

    >>> normalize_origin("HTTPS://Shop.Example.com:443/"), normalize_origin("http://127.0.0.1:8080")
    ('https://shop.example.com', 'http://127.0.0.1:8080')
    """
    if not re.match(ORIGIN_PATTERN, value.strip()):
        raise ValidationError(f"must be http(s)://host[:port], got {value!r}", path="origin")
    try:
        parts = urllib.parse.urlsplit(value.strip())
        port = parts.port
    except ValueError as exc:  # what the pattern cannot see
        raise ValidationError(
            f"must be http(s)://host[:port], got {value!r} ({exc})", path="origin"
        ) from None
    default = port in (None, DEFAULT_PORTS[parts.scheme])
    return f"{parts.scheme}://{parts.hostname}" + ("" if default else f":{port}")


class OriginStore(ABC):
    """Where the allowed origins are kept, one row per (project, origin)."""

    @abstractmethod
    def add(self, project: str, origin: str) -> bool:
        """Allow ``origin`` for ``project``; True when it was not allowed before."""

    @abstractmethod
    def remove(self, project: str, origin: str) -> bool:
        """Stop allowing it; True when it was allowed."""

    @abstractmethod
    def origins(self, project: str | None = None) -> list[tuple[str, str]]:
        """``(project, origin)`` pairs, of ``project`` when given, sorted."""

    def allowed(self, origin: str, project: str | None = None) -> bool:
        """Whether ``origin`` is allowed for ``project`` (for any project when None)."""
        return any(o == origin for _, o in self.origins(project))


class MemoryOriginStore(OriginStore):
    """Origins in a set: for tests and for stores without a table of their own."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._rows: set[tuple[str, str]] = set()

    def add(self, project: str, origin: str) -> bool:
        with self._lock:
            new = (project, origin) not in self._rows
            self._rows.add((project, origin))
            return new

    def remove(self, project: str, origin: str) -> bool:
        with self._lock:
            found = (project, origin) in self._rows
            self._rows.discard((project, origin))
            return found

    def origins(self, project: str | None = None) -> list[tuple[str, str]]:
        return sorted(r for r in self._rows if project is None or r[0] == project)


class SQLOriginStore(OriginStore):
    """Origins in table ``feedback_origins`` of an SQL store's database, on its own connections."""

    def __init__(self, store: SQLStore) -> None:
        self.store = store

    def add(self, project: str, origin: str) -> bool:
        sql = (
            "INSERT INTO feedback_origins (project, origin, created_at) VALUES (?, ?, ?) "
            "ON CONFLICT DO NOTHING"
        )
        with self.store.transaction("feedback_origins") as tx:
            return int(tx.execute(sql, (project, origin, now())).rowcount) > 0

    def remove(self, project: str, origin: str) -> bool:
        sql = "DELETE FROM feedback_origins WHERE project = ? AND origin = ?"
        with self.store.transaction("feedback_origins") as tx:
            return int(tx.execute(sql, (project, origin)).rowcount) > 0

    def origins(self, project: str | None = None) -> list[tuple[str, str]]:
        where, args = ("WHERE project = ?", (project,)) if project is not None else ("", ())
        sql = f"SELECT project, origin FROM feedback_origins {where} ORDER BY project, origin"
        with self.store.connection("feedback_origins") as tx:
            return [(str(p), str(o)) for p, o in tx.all(sql, args)]

    def allowed(self, origin: str, project: str | None = None) -> bool:
        where, args = ("AND project = ?", (origin, project)) if project is not None else ("", (origin,))
        with self.store.connection("feedback_origins") as tx:
            return (
                tx.one(f"SELECT 1 FROM feedback_origins WHERE origin = ? {where} LIMIT 1", args) is not None
            )


def open_origin_store(store: Store) -> OriginStore:
    """The :class:`OriginStore` beside ``store``'s events; in memory for a store without tables."""
    if isinstance(store, SQLStore):
        return SQLOriginStore(store)
    return MemoryOriginStore()
