"""API keys in the PostgreSQL store's database: table ``api_keys``, created by the store's
migrations, reached through the store's connection pool."""

from __future__ import annotations

from preflog.server.keys import KEY_COLUMNS, KeyStore, StoredKey, key_from_row
from preflog.store.postgres import PostgresStore


class PostgresKeyStore(KeyStore):
    """Keys beside the events of a :class:`PostgresStore` (thread-safe through its pool)."""

    def __init__(self, store: PostgresStore) -> None:
        self.store = store

    def add_key(self, key: StoredKey) -> None:
        with self.store.transaction("api_keys") as conn:
            conn.execute(
                f"INSERT INTO api_keys ({KEY_COLUMNS}) VALUES (%s, %s, %s, %s, %s, %s, %s, NULL)",
                (key.key_id, key.project, key.scope, key.name, key.salt, key.secret_hash, key.created_at),
            )

    def get_key(self, key_id: str) -> StoredKey | None:
        with self.store.transaction("api_keys") as conn:
            row = conn.execute(f"SELECT {KEY_COLUMNS} FROM api_keys WHERE key_id = %s", (key_id,)).fetchone()
        return None if row is None else key_from_row(row)

    def list_keys(self, project: str | None = None) -> list[StoredKey]:
        query = f"SELECT {KEY_COLUMNS} FROM api_keys"
        args: tuple[str, ...] = ()
        if project is not None:
            query, args = query + " WHERE project = %s", (project,)
        with self.store.transaction("api_keys") as conn:
            rows = conn.execute(query + " ORDER BY created_at, key_id", args).fetchall()
        return [key_from_row(r) for r in rows]

    def set_revoked(self, key_id: str, revoked_at: str) -> bool:
        with self.store.transaction("api_keys") as conn:
            cur = conn.execute(
                "UPDATE api_keys SET revoked_at = %s WHERE key_id = %s AND revoked_at IS NULL",
                (revoked_at, key_id),
            )
            return cur.rowcount > 0
