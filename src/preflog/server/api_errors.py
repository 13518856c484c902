"""Errors as HTTP answers: every failure is a small JSON object, never a stack trace.

The body is ``{"error": CODE, "message": TEXT}``, plus ``limit`` (the name of the setting that was
exceeded, for 413/422/429) and ``details`` (field problems) when they apply. Library errors are
mapped here: ``StoreUnavailable`` → 503 and ``StoreFull`` → 507, both with ``Retry-After``;
``ValidationError`` → 422; ``NotFound`` → 404; anything unexpected → 500, logged with its
traceback on the server and answered without it.
"""

from __future__ import annotations

import json
import logging
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from preflog.errors import NotFound, StoreError, StoreFull, StoreUnavailable, ValidationError

log = logging.getLogger("preflog.server")


class ApiError(Exception):
    """An answer other than success, raised anywhere in a route and rendered by the handler."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        limit: str | None = None,
        details: list[dict[str, Any]] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.limit = limit
        self.details = details
        self.headers = headers or {}


def json_response(payload: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    try:
        body = orjson.dumps(payload)
    except TypeError:  # an integer beyond 64 bits in a stored event, say: the standard library writes it
        body = json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    return Response(body, status_code=status, headers=headers, media_type="application/json")


def error_response(exc: ApiError) -> Response:
    body: dict[str, Any] = {"error": exc.code, "message": exc.message}
    if exc.limit is not None:
        body["limit"] = exc.limit
    if exc.details is not None:
        body["details"] = exc.details
    return json_response(body, exc.status, exc.headers)


def _state_metrics(request: Request) -> Any:
    state = getattr(request.app.state, "preflog", None)
    return None if state is None else state.metrics


def install_error_handlers(app: FastAPI, *, retry_after_s: int) -> None:
    retry = {"Retry-After": str(retry_after_s)}

    async def on_api_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, ApiError)
        return error_response(exc)

    async def on_store_error(request: Request, exc: Exception) -> Response:
        metrics = _state_metrics(request)
        if metrics is not None:
            metrics.store_error(type(exc).__name__)
        log.warning("store error on %s %s: %s", request.method, request.url.path, exc)
        if isinstance(exc, StoreUnavailable):
            err = ApiError(503, "store_unavailable", f"the event store is unavailable: {exc}", headers=retry)
        elif isinstance(exc, StoreFull):
            err = ApiError(507, "store_full", f"the event store is full: {exc}", headers=retry)
        else:
            err = ApiError(503, "store_error", f"the event store failed: {exc}", headers=retry)
        return error_response(err)

    async def on_validation(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, ValidationError)
        details = [{"field": e.path, "reason": e.reason} for e in exc.errors]
        return error_response(ApiError(422, "invalid", str(exc), details=details))

    async def on_not_found(request: Request, exc: Exception) -> Response:
        return error_response(ApiError(404, "not_found", str(exc)))

    async def on_request_validation(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        details = [
            {"field": ".".join(str(p) for p in err.get("loc", ())), "reason": str(err.get("msg", ""))}
            for err in exc.errors()
        ]
        message = "; ".join(f"{d['field']}: {d['reason']}" for d in details) or "invalid request"
        return error_response(ApiError(422, "invalid_request", message, details=details))

    async def on_http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        names = {400: "bad_request", 404: "not_found", 405: "method_not_allowed"}
        code = names.get(exc.status_code, "http_error")
        headers = dict(exc.headers or {})
        return error_response(ApiError(exc.status_code, code, str(exc.detail), headers=headers))

    async def on_unexpected(request: Request, exc: Exception) -> Response:
        log.error("unexpected error on %s %s", request.method, request.url.path, exc_info=exc)
        return error_response(
            ApiError(500, "internal_error", "internal error; the server log has the details")
        )

    app.add_exception_handler(ApiError, on_api_error)
    app.add_exception_handler(StoreError, on_store_error)
    app.add_exception_handler(ValidationError, on_validation)
    app.add_exception_handler(NotFound, on_not_found)
    app.add_exception_handler(RequestValidationError, on_request_validation)
    app.add_exception_handler(StarletteHTTPException, on_http_error)
    app.add_exception_handler(Exception, on_unexpected)


async def reject_unknown_query(request: Request) -> None:
    """A router dependency: a query parameter the route does not declare is a 422, so that a typo
    such as ``?afer=10`` is reported instead of silently ignored."""
    route = request.scope.get("route")
    dependant = getattr(route, "dependant", None)
    known = {p.alias for p in getattr(dependant, "query_params", [])}
    for sub in getattr(dependant, "dependencies", []):
        known |= {p.alias for p in sub.query_params}
    unknown = sorted(set(request.query_params) - known)
    if unknown:
        raise ApiError(
            422,
            "invalid_request",
            f"unknown query parameter {unknown[0]!r}"
            + (f"; known: {', '.join(sorted(known))}" if known else ""),
            details=[{"field": f"query.{name}", "reason": "unknown query parameter"} for name in unknown],
        )
