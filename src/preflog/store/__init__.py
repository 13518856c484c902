"""Event stores: the interface and its backends, opened by URL with :func:`open_store`.

:func:`open_store` is where a store meets its user's environment: it reads ``PREFLOG_DB``,
``PREFLOG_SQLITE_SYNCHRONOUS``, ``PREFLOG_PG_TIMEOUT``, the ``PREFLOG_MAX_*`` limits and
``PREFLOG_REDACT``/``PREFLOG_REDACT_PATTERNS`` (through :mod:`preflog.config`) for every argument
its caller leaves out. The stores themselves take keyword arguments only.
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

from preflog import config
from preflog.errors import ConfigError, NotFound, StoreError
from preflog.events import Limits
from preflog.redact import Redactor
from preflog.store.base import AppendResult, RequestView, Store, StoredEvent, StoreStats

__all__ = ["AppendResult", "RequestView", "Store", "StoreStats", "StoredEvent", "open_store"]

DEFAULT_DB: Final = "./preflog.db"


def open_store(
    url: str | None = None,
    *,
    limits: Limits | None = None,
    synchronous: str | None = None,
    timeout_s: float | None = None,
    redactor: Redactor | None = None,
    create: bool = True,
) -> Store:
    """Open a store by URL: ``sqlite:///path/file.db``, a plain file path, or ``postgresql://...``.

    ``None`` means ``$PREFLOG_DB`` or ``./preflog.db``. Every other argument left out comes from
    its ``PREFLOG_*`` variable: ``limits`` (``PREFLOG_MAX_*``), ``synchronous`` (SQLite,
    ``PREFLOG_SQLITE_SYNCHRONOUS``), ``timeout_s`` (PostgreSQL, ``PREFLOG_PG_TIMEOUT``),
    ``redactor`` (``PREFLOG_REDACT``, ``PREFLOG_REDACT_PATTERNS``). ``create=False`` is for
    readers: a SQLite file that does not exist is :class:`NotFound` (a mistyped path must not
    become an empty store).
    """
    url = url or config.get("PREFLOG_DB") or DEFAULT_DB
    limits = limits if limits is not None else Limits.from_env()
    redactor = redactor if redactor is not None else Redactor.from_env()
    if url.startswith(("postgresql://", "postgres://")):
        return _postgres(url, limits=limits, timeout_s=timeout_s, redactor=redactor)
    path = sqlite_path(url)
    if not create and not Path(path).is_file():
        raise NotFound(f"no SQLite store at {path!r} (no such file)")
    from preflog.store.sqlite import SQLiteStore

    return SQLiteStore(Path(path), limits=limits, synchronous=_synchronous(synchronous), redactor=redactor)


def sqlite_path(url: str) -> str:
    """The file of a SQLite URL or plain path; a :class:`ConfigError` for any other URL."""
    if url.startswith("sqlite://"):
        path = url.removeprefix("sqlite://")
        if not path.startswith("/"):
            raise ConfigError(
                f"{url!r} is not a sqlite URL; use sqlite:///relative.db or sqlite:////abs/path.db"
            )
        return path[1:]
    if "://" in url:
        raise ConfigError(
            f"unsupported URL scheme in {url!r}; use sqlite:///path, a file path or postgresql://"
        )
    return url


def _postgres(url: str, *, limits: Limits, timeout_s: float | None, redactor: Redactor) -> Store:
    try:
        from preflog.store.postgres import PostgresStore
    except ImportError as exc:  # the server extra is not installed
        raise ConfigError(
            f"{url.split(':')[0]} needs the server extra: pip install 'preflog[server]' ({exc})"
        ) from exc
    timeout = timeout_s if timeout_s is not None else float(config.get("PREFLOG_PG_TIMEOUT"))
    return PostgresStore(url, limits=limits, timeout_s=timeout, redactor=redactor)


def _synchronous(explicit: str | None) -> str:
    if explicit is not None:
        return explicit  # the store checks it and names the argument
    from preflog.store.sqlite import SYNCHRONOUS

    level = str(config.get("PREFLOG_SQLITE_SYNCHRONOUS"))
    if level not in SYNCHRONOUS:
        raise StoreError(f"PREFLOG_SQLITE_SYNCHRONOUS: must be NORMAL or FULL (or OFF, EXTRA), got {level!r}")
    return level
