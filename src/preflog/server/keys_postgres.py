"""API keys in the PostgreSQL store's database: table ``api_keys``, created by the store's
migrations, reached through the store's connection pool."""

from __future__ import annotations

from typing import Any, Final, cast

from preflog.server.keys import KeyStore, Scope, StoredKey
from preflog.store.postgres import PostgresStore

_COLUMNS: Final = "key_id, project, scope, name, salt, secret_hash, created_at, revoked_at"


def _row(row: tuple[Any, ...]) -> StoredKey:
    key_id, project, scope, name, salt, secret_hash, created_at, revoked_at = row
    return StoredKey(
        key_id=key_id,
        project=project,
        scope=cast(Scope, scope),
        name=name,
        created_at=created_at,
        revoked_at=revoked_at,
        salt=salt,
        secret_hash=secret_hash,
    )


class PostgresKeyStore(KeyStore):
    """Keys beside the events of a :class:`PostgresStore` (thread-safe through its pool)."""

    def __init__(self, store: PostgresStore) -> None:
        self.store = store

    def add_key(self, key: StoredKey) -> None:
        with self.store.transaction("api_keys") as conn:
            conn.execute(
                f"INSERT INTO api_keys ({_COLUMNS}) VALUES (%s, %s, %s, %s, %s, %s, %s, NULL)",
                (key.key_id, key.project, key.scope, key.name, key.salt, key.secret_hash, key.created_at),
            )

    def get_key(self, key_id: str) -> StoredKey | None:
        with self.store.transaction("api_keys") as conn:
            row = conn.execute(f"SELECT {_COLUMNS} FROM api_keys WHERE key_id = %s", (key_id,)).fetchone()
        return None if row is None else _row(row)

    def list_keys(self, project: str | None = None) -> list[StoredKey]:
        query = f"SELECT {_COLUMNS} FROM api_keys"
        args: tuple[str, ...] = ()
        if project is not None:
            query, args = query + " WHERE project = %s", (project,)
        with self.store.transaction("api_keys") as conn:
            rows = conn.execute(query + " ORDER BY created_at, key_id", args).fetchall()
        return [_row(r) for r in rows]

    def set_revoked(self, key_id: str, revoked_at: str) -> bool:
        with self.store.transaction("api_keys") as conn:
            cur = conn.execute(
                "UPDATE api_keys SET revoked_at = %s WHERE key_id = %s AND revoked_at IS NULL",
                (revoked_at, key_id),
            )
            return cur.rowcount > 0
