"""Find the per-backend part of a server component that lives in the store's database.

``SQLiteStore`` → module ``preflog.server.<prefix>_sqlite``, class ``SQLite<suffix>``;
``PostgresStore`` → ``preflog.server.<prefix>_postgres``, class ``Postgres<suffix>``. The class is
constructed with the store. Used for API keys and the audit log.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from preflog.errors import ConfigError

if TYPE_CHECKING:
    from preflog.store.base import Store


def backend_part(store: Store, *, prefix: str, suffix: str, what: str) -> Any:
    backend = type(store).__name__.removesuffix("Store")  # SQLiteStore -> SQLite, PostgresStore -> Postgres
    module_name = f"preflog.server.{prefix}_{backend.lower()}"
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name != module_name:
            raise
        raise ConfigError(f"{what} are not supported on a {type(store).__name__} store yet") from exc
    return getattr(module, f"{backend}{suffix}")(store)
