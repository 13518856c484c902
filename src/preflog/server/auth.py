"""Authentication and authorization: ``Authorization: Bearer KEY`` on every ``/v1`` route.

A route declares the permission it needs (``read``, ``write`` or ``admin``) with
``Depends(require("read"))``; the dependency verifies the key (no cache: a revoked key fails on
the next request), applies the per-key rate limit and returns the :class:`Principal`, whose
project scopes everything the route does. What each scope may do:

========  ======================================================================
scope     permissions
========  ======================================================================
ingest    write events of every type except ``erasure``
read      read events, requests and analytics
annotate  read; write ``preference`` and ``retraction`` events
admin     everything: read, write every type (``erasure`` too), manage keys
========  ======================================================================
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, Final, Literal

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool

from preflog.events import EVENT_TYPES
from preflog.server.api_errors import ApiError
from preflog.server.keys import ApiKey, Scope, verify_key
from preflog.server.limits import RateLimiter
from preflog.server.state import ServerState

Permission = Literal["read", "write", "admin"]

PERMISSIONS: Final[dict[Scope, frozenset[Permission]]] = {
    "ingest": frozenset({"write"}),
    "read": frozenset({"read"}),
    "annotate": frozenset({"read", "write"}),
    "admin": frozenset({"read", "write", "admin"}),
}
WRITABLE_TYPES: Final[dict[Scope, frozenset[str]]] = {
    "ingest": frozenset(EVENT_TYPES) - {"erasure"},
    "read": frozenset(),
    "annotate": frozenset({"preference", "retraction"}),
    "admin": frozenset(EVENT_TYPES),
}

bearer = HTTPBearer(
    auto_error=False,
    scheme_name="ApiKey",
    description="An API key made by `preflog keys create`: `Authorization: Bearer pfl_<id>_<secret>`.",
)


@dataclass(frozen=True)
class Principal:
    """The verified key behind a request."""

    key: ApiKey

    @property
    def project(self) -> str:
        return self.key.project

    @property
    def scope(self) -> Scope:
        return self.key.scope

    def may_write(self, event_type: str) -> bool:
        return event_type in WRITABLE_TYPES[self.key.scope]


def _unauthorized(message: str) -> ApiError:
    return ApiError(401, "unauthorized", message, headers={"WWW-Authenticate": 'Bearer realm="preflog"'})


def get_state(request: Request) -> ServerState:
    state: ServerState = request.app.state.preflog
    return state


def require(permission: Permission) -> Callable[..., Awaitable[Principal]]:
    """A dependency that answers 401/403/429, or returns the request's :class:`Principal`."""

    async def dependency(
        request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]
    ) -> Principal:
        if credentials is None:
            raise _unauthorized("missing API key: send Authorization: Bearer pfl_...")
        state = get_state(request)
        key = await run_in_threadpool(verify_key, state.keys, credentials.credentials)
        if key is None:
            state.metrics.auth_failure("invalid_key")
            raise _unauthorized("invalid or revoked API key")
        if permission not in PERMISSIONS[key.scope]:
            state.metrics.auth_failure("forbidden")
            raise ApiError(403, "forbidden", f"a key with scope {key.scope!r} cannot {permission}")
        if state.limiter is not None:
            _rate_limit(state, state.limiter, key)
        return Principal(key)

    return dependency


def _rate_limit(state: ServerState, limiter: RateLimiter, key: ApiKey) -> None:
    wait = limiter.acquire(key.key_id)
    if wait is not None:
        state.metrics.rate_limited()
        raise ApiError(
            429,
            "rate_limited",
            f"rate limit of {limiter.rate:g} requests/s (burst {limiter.burst}) per key exceeded",
            limit="rate_limit",
            headers={"Retry-After": RateLimiter.retry_after(wait)},
        )
