"""API keys: projects, scopes, hashing, and where keys are kept (:class:`KeyStore`, :class:`SQLKeyStore`).

A key is shown to its owner once, as ``pfl_<key_id>_<secret>``: ``key_id`` is 12 lowercase hex
characters (public, used to look the key up and to revoke it), ``secret`` is 43 URL-safe base64
characters (256 random bits). The store keeps only ``key_id``, a random per-key ``salt`` and
``secret_hash = HMAC-SHA256(key=salt, msg=secret)``; a presented key is verified by recomputing
the HMAC and comparing with :func:`hmac.compare_digest`. A fast hash is the right tool here: the
secret is 256 random bits, not a password, so it cannot be guessed by a dictionary or brute force.

Keys are looked up on every request (no cache), so a revocation takes effect at once in every
worker process.

Scopes (see :data:`SCOPES`): ``ingest`` writes events (every type but erasure); ``read`` reads
events, requests and analytics; ``annotate`` reads and writes preferences and retractions (the
web UI); ``admin`` does everything, including key management and erasure. A key belongs to
one project and never reads or writes another.

Where keys live
---------------
In the same database as the events, table ``api_keys`` (``key_id TEXT PRIMARY KEY, project, scope,
name NULL, salt, secret_hash, created_at, revoked_at NULL``), created by the store's migrations
(:mod:`preflog.store.tables`). :class:`SQLKeyStore` reads and writes it on the store's own
connections and transactions (:meth:`preflog.store.sql.SQLStore.connection`, ``.transaction``):
the store's connection settings, its writers' queue on SQLite, its pool on PostgreSQL, and its
error translation (a database that cannot be reached is ``StoreUnavailable``; a missing table or
a clashing key id is a ``StoreError``, a bug rather than an outage). :func:`open_key_store` finds
it for a store. A :class:`KeyStore` stores :class:`StoredKey` rows as given (it never hashes or
generates anything) and is safe to use from several threads.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import threading
from abc import ABC, abstractmethod
from dataclasses import asdict, dataclass, replace
from typing import Any, Final, Literal, NamedTuple, get_args

from preflog.errors import ConfigError, NotFound, StoreError, ValidationError
from preflog.events import PROJECT_RE, PROJECT_RULE, now
from preflog.store.base import Store
from preflog.store.sql import SQLStore

Scope = Literal["ingest", "read", "annotate", "admin"]
SCOPES: Final[tuple[Scope, ...]] = get_args(Scope)

KEY_PREFIX: Final = "pfl_"
_KEY_ID_RE: Final = re.compile(r"^[0-9a-f]{12}$")
_TOKEN_RE: Final = re.compile(r"^pfl_([0-9a-f]{12})_([A-Za-z0-9_-]{20,128})$")
_NAME_MAX: Final = 200


@dataclass(frozen=True)
class ApiKey:
    """What may be shown about a key: never its secret."""

    key_id: str
    project: str
    scope: Scope
    name: str | None
    created_at: str
    revoked_at: str | None = None

    @property
    def active(self) -> bool:
        return self.revoked_at is None

    def to_dict(self) -> dict[str, Any]:
        return {
            "key_id": self.key_id,
            "project": self.project,
            "scope": self.scope,
            "name": self.name,
            "created_at": self.created_at,
            "revoked_at": self.revoked_at,
        }


@dataclass(frozen=True)
class StoredKey(ApiKey):
    """A key as a backend stores it: the public fields plus the salt and the secret's HMAC."""

    salt: str = ""
    secret_hash: str = ""

    def public(self) -> ApiKey:
        fields = asdict(self)
        del fields["salt"], fields["secret_hash"]
        return ApiKey(**fields)


class KeyRow(NamedTuple):
    """A row of table ``api_keys``, in the order of :data:`KEY_COLUMNS`."""

    key_id: str
    project: str
    scope: str
    name: str | None
    salt: str
    secret_hash: str
    created_at: str
    revoked_at: str | None


KEY_COLUMNS: Final = ", ".join(KeyRow._fields)


def key_from_row(row: tuple[Any, ...]) -> StoredKey:
    """A :class:`StoredKey` from an ``api_keys`` row selected as :data:`KEY_COLUMNS`."""
    return StoredKey(**KeyRow._make(row)._asdict())


def key_row(key: StoredKey) -> KeyRow:
    return KeyRow(**{name: getattr(key, name) for name in KeyRow._fields})


class KeyStore(ABC):
    """Where API keys are kept: one row per key, in the same database as the events."""

    @abstractmethod
    def add_key(self, key: StoredKey) -> None:
        """Insert a new key row as given. ``key_id`` is unique (a clash raises ``StoreError``)."""

    @abstractmethod
    def get_key(self, key_id: str) -> StoredKey | None:
        """The row for ``key_id`` (revoked or not), or None."""

    @abstractmethod
    def list_keys(self, project: str | None = None) -> list[StoredKey]:
        """Every key (of ``project`` when given), revoked ones included, ordered by ``created_at``."""

    @abstractmethod
    def set_revoked(self, key_id: str, revoked_at: str) -> bool:
        """Set ``revoked_at`` when the key exists and is not revoked yet; True when a row changed."""

    def close(self) -> None:  # noqa: B027 - optional: a key store on the store's connections holds nothing
        """Release what this key store holds (the event store is closed separately)."""


class MemoryKeyStore(KeyStore):
    """Keys in a dict: for tests and for stores that keep no keys of their own."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._rows: dict[str, StoredKey] = {}

    def add_key(self, key: StoredKey) -> None:
        with self._lock:
            if key.key_id in self._rows:
                raise StoreError(f"key id {key.key_id!r} exists")
            self._rows[key.key_id] = key

    def get_key(self, key_id: str) -> StoredKey | None:
        return self._rows.get(key_id)

    def list_keys(self, project: str | None = None) -> list[StoredKey]:
        rows = [k for k in self._rows.values() if project is None or k.project == project]
        return sorted(rows, key=lambda k: k.created_at)

    def set_revoked(self, key_id: str, revoked_at: str) -> bool:
        with self._lock:
            key = self._rows.get(key_id)
            if key is None or key.revoked_at is not None:
                return False
            self._rows[key_id] = replace(key, revoked_at=revoked_at)
            return True


class SQLKeyStore(KeyStore):
    """Keys in table ``api_keys`` of an SQL store's database, on the store's own connections."""

    def __init__(self, store: SQLStore) -> None:
        self.store = store

    def add_key(self, key: StoredKey) -> None:
        marks = ", ".join("?" * len(KeyRow._fields))
        with self.store.transaction("api_keys") as tx:
            tx.execute(f"INSERT INTO api_keys ({KEY_COLUMNS}) VALUES ({marks})", key_row(key))

    def get_key(self, key_id: str) -> StoredKey | None:
        with self.store.connection("api_keys") as tx:
            row = tx.one(f"SELECT {KEY_COLUMNS} FROM api_keys WHERE key_id = ?", (key_id,))
        return None if row is None else key_from_row(row)

    def list_keys(self, project: str | None = None) -> list[StoredKey]:
        where, args = ("WHERE project = ?", (project,)) if project is not None else ("", ())
        with self.store.connection("api_keys") as tx:
            rows = tx.all(f"SELECT {KEY_COLUMNS} FROM api_keys {where} ORDER BY created_at, key_id", args)
        return [key_from_row(r) for r in rows]

    def set_revoked(self, key_id: str, revoked_at: str) -> bool:
        sql = "UPDATE api_keys SET revoked_at = ? WHERE key_id = ? AND revoked_at IS NULL"
        with self.store.transaction("api_keys") as tx:
            return int(tx.execute(sql, (revoked_at, key_id)).rowcount) > 0


# ---------------------------------------------------------------------------------------------- tokens


def hash_secret(salt: str, secret: str) -> str:
    return hmac.new(salt.encode(), secret.encode(), hashlib.sha256).hexdigest()


def parse_token(token: str) -> tuple[str, str] | None:
    """``(key_id, secret)`` of a well-formed key, else None."""
    match = _TOKEN_RE.match(token)
    return (match.group(1), match.group(2)) if match else None


def check_scope(scope: str) -> Scope:
    if scope not in SCOPES:
        raise ValidationError(f"must be one of {', '.join(SCOPES)}, got {scope!r}", path="scope")
    return scope


def check_project(project: str) -> str:
    if not PROJECT_RE.match(project):
        raise ValidationError(PROJECT_RULE, path="project")
    return project


# ---------------------------------------------------------------------------------------------- operations


def create_key(keys: KeyStore, *, project: str, scope: str, name: str | None = None) -> tuple[str, ApiKey]:
    """Make a new key; return ``(token, key)``. The token is the only copy of the secret."""
    check_project(project)
    checked_scope = check_scope(scope)
    if name is not None and (len(name) > _NAME_MAX or any(c in name for c in "\r\n\x00")):
        raise ValidationError(f"at most {_NAME_MAX} characters on one line", path="name")
    key_id = secrets.token_hex(6)
    secret = secrets.token_urlsafe(32)
    salt = secrets.token_hex(16)
    stored = StoredKey(
        key_id=key_id,
        project=project,
        scope=checked_scope,
        name=name,
        created_at=now(),
        salt=salt,
        secret_hash=hash_secret(salt, secret),
    )
    keys.add_key(stored)
    return f"{KEY_PREFIX}{key_id}_{secret}", stored.public()


def verify_key(keys: KeyStore, token: str) -> ApiKey | None:
    """The active key that ``token`` is, or None (unknown, malformed, wrong secret or revoked)."""
    parsed = parse_token(token)
    if parsed is None:
        return None
    key_id, secret = parsed
    stored = keys.get_key(key_id)
    if stored is None or not hmac.compare_digest(hash_secret(stored.salt, secret), stored.secret_hash):
        return None
    return stored.public() if stored.active else None


def list_keys(keys: KeyStore, *, project: str | None = None) -> list[ApiKey]:
    return [k.public() for k in keys.list_keys(project)]


def revoke_key(keys: KeyStore, key_id: str, *, project: str | None = None) -> ApiKey:
    """Revoke ``key_id`` (only within ``project`` when given) and return it; revoking twice is a no-op.

    Raises :class:`NotFound` for an unknown key or a key of another project."""
    if not _KEY_ID_RE.match(key_id):
        raise NotFound(f"no key {key_id!r}")
    stored = keys.get_key(key_id)
    if stored is None or (project is not None and stored.project != project):
        raise NotFound(f"no key {key_id!r}" + (f" in project {project!r}" if project else ""))
    keys.set_revoked(key_id, now())
    revoked = keys.get_key(key_id)
    assert revoked is not None
    return revoked.public()


# -------------------------------------------------------------------------------------------- where keys live


def open_key_store(store: Store) -> KeyStore:
    """The :class:`KeyStore` that keeps keys in the same database as ``store`` (see module doc)."""
    if isinstance(store, KeyStore):
        return store
    if isinstance(store, SQLStore):
        return SQLKeyStore(store)
    raise ConfigError(f"API keys are not supported on a {type(store).__name__} store")
