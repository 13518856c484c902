"""The OpenAPI document's examples, the shared response descriptions of every route, and the
``/docs`` and ``/redoc`` pages, served with their assets by preflog (they work offline)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Final

from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from fastapi.staticfiles import StaticFiles
from starlette.responses import HTMLResponse

from preflog.errors import ConfigError
from preflog.server.models import BatchResponse, ErrorResponse

REQUEST_ID: Final = "7d3f5c2e-3b1a-4c55-9f6e-2a0b8c1d4e5f"
EVENT_ID: Final = "0f8fad5b-d9cb-469f-a165-70867728950e"

EXAMPLE_EVENTS: Final[dict[str, dict[str, Any]]] = {
    "inference": {
        "event_id": EVENT_ID,
        "type": "inference",
        "request_id": REQUEST_ID,
        "occurred_at": "2026-11-26T10:00:00Z",
        "prompt": "What is the capital of France?",
        "candidates": [
            {"candidate_id": "a", "output": "Paris.", "model": {"name": "m-small", "version": "3"}},
            {"candidate_id": "b", "output": "Lyon, I think.", "model": {"name": "m-large", "version": "1"}},
        ],
        "presented": ["b", "a"],
        "user_id": "u-42",
    },
    "preference": {
        "event_id": "6c1d7a3e-8f2b-4d9a-b0c4-5e6f7a8b9c0d",
        "type": "preference",
        "request_id": REQUEST_ID,
        "occurred_at": "2026-11-26T10:05:00Z",
        "chosen": "a",
        "rejected": "b",
        "source": {"kind": "human", "id": "annotator-7"},
    },
    "score": {
        "event_id": "1b2c3d4e-5f60-4718-89ab-cdef01234567",
        "type": "score",
        "request_id": REQUEST_ID,
        "occurred_at": "2026-11-26T10:01:00Z",
        "candidate_id": "a",
        "score": 0.83,
        "scorer": {"name": "rm-small", "version": "3"},
    },
    "signal": {
        "event_id": "9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d",
        "type": "signal",
        "request_id": REQUEST_ID,
        "occurred_at": "2026-11-26T10:02:00Z",
        "candidate_id": "a",
        "signal": "thumbs_up",
    },
    "retraction": {
        "event_id": "2f3e4d5c-6b7a-4989-a7b6-c5d4e3f2a1b0",
        "type": "retraction",
        "request_id": REQUEST_ID,
        "occurred_at": "2026-11-26T10:06:00Z",
        "retracts": "6c1d7a3e-8f2b-4d9a-b0c4-5e6f7a8b9c0d",
        "reason": "clicked the wrong side",
    },
}

PLURALS: Final = {
    "inference": "inferences",
    "preference": "preferences",
    "score": "scores",
    "signal": "signals",
    "retraction": "retractions",
}


def _result(index: int, status: str, **extra: Any) -> dict[str, Any]:
    return {"index": index, "status": status, **extra}


BATCH_OK: Final = {
    "partial": False,
    "counts": {"stored": 1, "duplicate": 1, "conflict": 0, "rejected": 0},
    "results": [
        _result(0, "stored", event_id=EVENT_ID, request_id=REQUEST_ID, position=41),
        _result(
            1,
            "duplicate",
            event_id=EXAMPLE_EVENTS["preference"]["event_id"],
            request_id=REQUEST_ID,
            position=12,
        ),
    ],
}
BATCH_PARTIAL: Final = {
    "partial": True,
    "counts": {"stored": 1, "duplicate": 0, "conflict": 0, "rejected": 1},
    "results": [
        _result(0, "stored", event_id=EVENT_ID, request_id=REQUEST_ID, position=41),
        _result(
            1,
            "rejected",
            line=2,
            event_id="5d6e7f80-9a1b-4c2d-8e3f-405162738495",
            request_id=REQUEST_ID,
            field="candidates[1].tool_calls[0].function.arguments",
            reason="must be a string, got object",
        ),
    ],
}
BATCH_NONE: Final = {
    "partial": False,
    "counts": {"stored": 0, "duplicate": 0, "conflict": 0, "rejected": 1},
    "results": [
        _result(0, "rejected", line=1, field="", reason="invalid JSON: Expecting value: line 1 column 1")
    ],
}

ERRORS: Final[dict[int, tuple[str, dict[str, Any]]]] = {
    400: (
        "Malformed body (not JSON, bad gzip).",
        {"error": "invalid_json", "message": "the body is not valid JSON"},
    ),
    401: (
        "Missing, unknown or revoked API key.",
        {"error": "unauthorized", "message": "invalid or revoked API key"},
    ),
    403: (
        "The key's scope does not allow this.",
        {"error": "forbidden", "message": "a key with scope 'ingest' cannot read"},
    ),
    404: (
        "Nothing with this id in the key's project.",
        {"error": "not_found", "message": "no request 'r-1'"},
    ),
    413: (
        "The body or the batch is too large; `limit` names the setting.",
        {
            "error": "payload_too_large",
            "message": "the request body is larger than max_body_bytes (10485760 bytes)",
            "limit": "max_body_bytes",
        },
    ),
    415: (
        "Unsupported Content-Type or Content-Encoding.",
        {"error": "unsupported_media_type", "message": "send application/json or application/x-ndjson"},
    ),
    422: (
        "Invalid parameters.",
        {
            "error": "invalid_request",
            "message": "query.after: Input should be a valid integer",
            "details": [],
        },
    ),
    429: (
        "Per-key rate limit exceeded; retry after `Retry-After` seconds.",
        {
            "error": "rate_limited",
            "message": "rate limit of 50 requests/s (burst 100) per key exceeded",
            "limit": "rate_limit",
        },
    ),
    503: (
        "The store is unavailable; retry after `Retry-After` seconds.",
        {"error": "store_unavailable", "message": "the event store is unavailable: database is locked"},
    ),
    507: (
        "The store is full; data already stored is intact.",
        {"error": "store_full", "message": "the event store is full: database or disk is full"},
    ),
}

_RETRY_AFTER: Final = {"Retry-After": {"description": "seconds to wait", "schema": {"type": "string"}}}


def error_responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    out: dict[int | str, dict[str, Any]] = {}
    for code in codes:
        description, example = ERRORS[code]
        entry: dict[str, Any] = {
            "model": ErrorResponse,
            "description": description,
            "content": {"application/json": {"example": example}},
        }
        if code in (429, 503, 507):
            entry["headers"] = _RETRY_AFTER
        out[code] = entry
    return out


READ_ERRORS: Final = (401, 403, 422, 429, 503)
WRITE_ERRORS: Final = (400, 401, 403, 413, 415, 429, 503, 507)


def batch_responses() -> dict[int | str, dict[str, Any]]:
    def batch(description: str, example: dict[str, Any]) -> dict[str, Any]:
        return {
            "model": BatchResponse,
            "description": description,
            "content": {"application/json": {"example": example}},
        }

    responses: dict[int | str, dict[str, Any]] = {
        200: batch("Every event stored or a duplicate of one stored before.", BATCH_OK),
        207: batch("Partial success: some events stored, others rejected or in conflict.", BATCH_PARTIAL),
        422: batch("No event accepted: each result says why.", BATCH_NONE),
    }
    for code, entry in error_responses(*WRITE_ERRORS).items():
        responses.setdefault(code, entry)
    return responses


def batch_request_body(event_type: str | None) -> dict[str, Any]:
    """The ``requestBody`` of a write route: JSON (an array or one object) or NDJSON, gzip allowed."""
    event_ref = {"$ref": "#/components/schemas/Event"}
    examples = (
        [EXAMPLE_EVENTS[event_type]]
        if event_type
        else [EXAMPLE_EVENTS["inference"], EXAMPLE_EVENTS["preference"]]
    )
    if event_type:
        examples = [{k: v for k, v in examples[0].items() if k not in ("type", "occurred_at")}]
    ndjson = "\n".join(_compact(e) for e in examples) + "\n"
    return {
        "requestBody": {
            "required": True,
            "description": "A JSON array of events or one event; or NDJSON (one event per line). "
            "`Content-Encoding: gzip` is accepted.",
            "content": {
                "application/json": {
                    "schema": {"anyOf": [{"type": "array", "items": event_ref}, event_ref]},
                    "example": examples,
                },
                "application/x-ndjson": {"schema": {"type": "string"}, "example": ndjson},
            },
        }
    }


def _compact(event: dict[str, Any]) -> str:
    import json

    return json.dumps(event, separators=(",", ":"))


# ---------------------------------------------------------------------------------------------- pages

# The Swagger UI and ReDoc pages, with their scripts, styles and icon served by preflog itself from a
# pinned package (fastapi-offline, in the server extra): FastAPI's own pages load them from a CDN,
# so without internet /docs was a blank page.
DOCS_ASSETS: Final = "/docs/assets"


def _assets_dir() -> Path:
    try:
        import fastapi_offline
    except ImportError as exc:  # a hand-made environment without the server extra's pins
        raise ConfigError(
            f"the API docs need fastapi-offline: pip install 'preflog[server]' ({exc})"
        ) from exc
    return Path(fastapi_offline.__file__).parent / "static"


def install_docs(app: FastAPI) -> None:
    """Serve ``/docs`` (Swagger UI) and ``/redoc`` with every asset from this server. The app must
    be made with ``docs_url=None, redoc_url=None`` so that FastAPI's CDN pages are not there too."""
    app.mount(DOCS_ASSETS, StaticFiles(directory=_assets_dir()), name="docs-assets")
    openapi_url = app.openapi_url or "/openapi.json"
    redirect = app.swagger_ui_oauth2_redirect_url or "/docs/oauth2-redirect"

    @app.get("/docs", include_in_schema=False)
    async def swagger_ui(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        return get_swagger_ui_html(
            openapi_url=f"{root}{openapi_url}",
            title=f"{app.title} API",
            oauth2_redirect_url=f"{root}{redirect}",
            swagger_js_url=f"{root}{DOCS_ASSETS}/swagger-ui-bundle.js",
            swagger_css_url=f"{root}{DOCS_ASSETS}/swagger-ui.css",
            swagger_favicon_url=f"{root}{DOCS_ASSETS}/favicon.png",
            swagger_ui_parameters=app.swagger_ui_parameters,
        )

    @app.get(redirect, include_in_schema=False)
    async def swagger_ui_redirect() -> HTMLResponse:
        return get_swagger_ui_oauth2_redirect_html()

    @app.get("/redoc", include_in_schema=False)
    async def redoc(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        return get_redoc_html(
            openapi_url=f"{root}{openapi_url}",
            title=f"{app.title} API",
            redoc_js_url=f"{root}{DOCS_ASSETS}/redoc.standalone.js",
            redoc_favicon_url=f"{root}{DOCS_ASSETS}/favicon.png",
            with_google_fonts=False,
        )
