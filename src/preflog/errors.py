"""One exception tree for preflog.

    PreflogError
    ├── ValidationError          an event or an argument is malformed (names the field path and reason)
    ├── ConfigError              a bad option, URL or environment variable
    ├── RetryableError           the same call may succeed later (after ``retry_after`` s when known)
    │   ├── StoreUnavailable     (also a StoreError)
    │   └── ServiceUnavailable   (also a TransportError)
    ├── StoreError               the store failed; lower-layer errors (sqlite3, psycopg) are mapped here
    │   ├── StoreUnavailable     the store cannot be reached now
    │   └── StoreFull            the disk or database is full
    ├── TransportError           an SDK transport could not deliver a batch
    │   ├── ServiceUnavailable   the service is unreachable or answered 5xx/429/408
    │   └── Unauthorized         the service refused the API key (401/403): events are kept
    └── NotFound                 a request, key or project does not exist

Lower-layer exceptions are translated at each boundary with ``raise ... from``. Only a
``RetryableError`` is ever retried, and only in one place (``preflog.sdk.retry``); every other
error is answered once.
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


class RetryableError(PreflogError):
    """A failure that may go away: the same call may succeed if made again, after
    ``retry_after`` seconds when the other side said so (HTTP ``Retry-After``)."""

    def __init__(self, message: str = "", retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class StoreError(PreflogError):
    """The store failed to do what was asked."""


class StoreUnavailable(StoreError, RetryableError):
    """The store cannot be reached right now; the operation may succeed later."""


class StoreFull(StoreError):
    """The disk or database is full; data already stored is intact."""


class TransportError(PreflogError):
    """An SDK transport could not deliver a batch."""


class ServiceUnavailable(TransportError, RetryableError):
    """The service could not take the batch now: unreachable, a 5xx, 429 or 408 answer."""


class Unauthorized(TransportError):
    """The service refused the credentials (HTTP 401 or 403): nothing sent can be accepted until
    a valid key is used, so the SDK keeps the events (in its spool) instead of counting them as
    rejected. ``status`` is the HTTP status."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class NotFound(PreflogError, LookupError):
    """A request, key or project that does not exist."""
