"""One exception tree for preflog.

    PreflogError
    ├── ValidationError        an event or an argument is malformed (names the field path and reason)
    ├── ConfigError            a bad option, URL or environment variable
    ├── StoreError             the store failed; lower-layer errors (sqlite3, psycopg) are mapped here
    │   ├── StoreUnavailable   the store cannot be reached now (retrying may help)
    │   └── StoreFull          the disk or database is full
    ├── TransportError         an SDK transport could not deliver a batch
    └── NotFound               a request, key or project does not exist

Lower-layer exceptions are translated at each boundary with ``raise ... from``.
"""

from __future__ import annotations

from dataclasses import dataclass


class PreflogError(Exception):
    """Base class of every error preflog raises on purpose."""


@dataclass(frozen=True)
class FieldError:
    """One problem with one field: ``path`` is like ``candidates[1].output``."""

    path: str
    reason: str

    def __str__(self) -> str:
        return f"{self.path}: {self.reason}" if self.path else self.reason


class ValidationError(PreflogError, ValueError):
    """Input that can never be accepted as it is. ``errors`` lists every field problem found."""

    def __init__(self, errors: list[FieldError] | FieldError | str, path: str = "") -> None:
        if isinstance(errors, str):
            errors = [FieldError(path, errors)]
        elif isinstance(errors, FieldError):
            errors = [errors]
        self.errors: list[FieldError] = errors
        super().__init__("; ".join(str(e) for e in errors))

    @property
    def field(self) -> str:
        """The path of the first offending field."""
        return self.errors[0].path if self.errors else ""

    @property
    def reason(self) -> str:
        return self.errors[0].reason if self.errors else ""


class ConfigError(PreflogError, ValueError):
    """A bad option, URL or environment variable."""


class StoreError(PreflogError):
    """The store failed to do what was asked."""


class StoreUnavailable(StoreError):
    """The store cannot be reached right now; the operation may succeed later."""


class StoreFull(StoreError):
    """The disk or database is full; data already stored is intact."""


class TransportError(PreflogError):
    """An SDK transport could not deliver a batch."""


class NotFound(PreflogError, LookupError):
    """A request, key or project that does not exist."""
