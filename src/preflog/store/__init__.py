"""Event stores: the interface and its backends, opened by URL with :func:`open_store`."""

from __future__ import annotations

from pathlib import Path

from preflog.errors import ConfigError, NotFound
from preflog.events import Limits
from preflog.store.base import AppendResult, RequestView, Store, StoredEvent, StoreStats

__all__ = ["AppendResult", "RequestView", "Store", "StoreStats", "StoredEvent", "open_store"]

DEFAULT_DB = "./preflog.db"


def open_store(url: str | None = None, *, limits: Limits | None = None, create: bool = True) -> Store:
    """Open a store by URL: ``sqlite:///path/file.db``, a plain file path, or ``postgresql://...``.

    ``None`` means ``$PREFLOG_DB`` or ``./preflog.db``. ``create=False`` is for readers: a SQLite
    file that does not exist is :class:`NotFound` (a mistyped path must not become an empty store).
    """
    import os

    url = url or os.environ.get("PREFLOG_DB") or DEFAULT_DB
    if url.startswith(("postgresql://", "postgres://")):
        try:
            from preflog.store.postgres import PostgresStore
        except ImportError as exc:  # the server extra is not installed
            raise ConfigError(
                f"{url.split(':')[0]} needs the server extra: pip install 'preflog[server]' ({exc})"
            ) from exc
        return PostgresStore(url, limits=limits)
    if url.startswith("sqlite://"):
        path = url.removeprefix("sqlite://")
        if not path.startswith("/"):
            raise ConfigError(
                f"{url!r} is not a sqlite URL; use sqlite:///relative.db or sqlite:////abs/path.db"
            )
        path = path[1:]
    elif "://" in url:
        raise ConfigError(
            f"unsupported URL scheme in {url!r}; use sqlite:///path, a file path or postgresql://"
        )
    else:
        path = url
    if not create and not Path(path).is_file():
        raise NotFound(f"no SQLite store at {path!r} (no such file)")
    from preflog.store.sqlite import SQLiteStore

    return SQLiteStore(Path(path), limits=limits)
