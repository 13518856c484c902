"""Browser feedback: tokens, the feedback call itself (with CORS), the allowed origins, the script.

* ``POST /v1/feedback-tokens`` (scope ``ingest`` or ``admin``: the application backend that logs
  inferences mints their tokens) → a signed token for one request (:mod:`.feedback_tokens`).
* ``POST /v1/feedback`` takes such a token (``Authorization: Bearer pft1...``) instead of an API key
  and records a thumbs, a pick or a comment (:mod:`.feedback`). Cross-origin calls are allowed from
  the origins listed for the token's project (:mod:`.feedback_origins`); a preflight from an
  unlisted origin gets 403 and no ``Access-Control-Allow-Origin``. Each token is rate limited.
* ``GET/POST/DELETE /v1/feedback-origins`` (``admin``): the project's allowed origins.
* ``GET /static/preflog-feedback.js``: the dependency-free widget a product page embeds.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any, Final

from fastapi import APIRouter, Depends, FastAPI, Query, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from preflog.errors import ValidationError
from preflog.server import openapi_docs as docs
from preflog.server.api_errors import ApiError, error_response, json_response, reject_unknown_query
from preflog.server.auth import Principal, get_state, require
from preflog.server.body import read_body
from preflog.server.feedback import apply_feedback, check_body
from preflog.server.feedback_origins import ORIGIN_PATTERN, normalize_origin
from preflog.server.feedback_settings import FeedbackState
from preflog.server.feedback_tokens import KINDS, FeedbackToken, TokenRefused, mint_token, verify_token
from preflog.server.limits import RateLimiter

router = APIRouter(prefix="/v1", dependencies=[Depends(reject_unknown_query)])
static_router = APIRouter()

SCRIPT: Final = Path(__file__).resolve().parent / "static" / "preflog-feedback.js"
MAX_FEEDBACK_BYTES: Final = 16 * 1024  # one click and at most a comment
PREFLIGHT_MAX_AGE_S: Final = 600
TOKEN_SCOPES: Final = frozenset({"ingest", "admin"})
ORIGIN_REFUSED: Final = "origin_forbidden"

token_bearer = HTTPBearer(
    auto_error=False,
    scheme_name="FeedbackToken",
    description="A feedback token from `POST /v1/feedback-tokens`: `Authorization: Bearer pft1.<...>`.",
)


def feedback_state(request: Request) -> FeedbackState:
    state: FeedbackState = request.app.state.preflog_feedback
    return state


# ---------------------------------------------------------------------------------------------- tokens


class TokenRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    request_id: str = Field(min_length=1, max_length=256, description="the request the end user judges")
    kinds: list[str] = Field(default=list(KINDS), description="allowed actions: thumbs, pick, comment")
    ttl: int | None = Field(None, description="seconds the token is valid (default a day, at most 30 days)")
    user_id: str | None = Field(None, max_length=256, description="the end user, written on the judgments")


_TOKEN_EXAMPLE: Final = {
    "token": "pft1.eyJleHAiOjE3OTAwODY0MDAsImsiOiIzZjlhMGM0YjdkMjEi....Zq3x",
    "request_id": docs.REQUEST_ID,
    "kinds": ["thumbs", "pick", "comment"],
    "user_id": "u-42",
    "expires_at": "2026-11-27T10:00:00.000000Z",
}


@router.post(
    "/feedback-tokens",
    status_code=201,
    tags=["feedback"],
    summary="Mint a feedback token for one request",
    description="A signed token a product page uses to send its end user's feedback on one request "
    "(`POST /v1/feedback`), limited to the `kinds` given, valid `ttl` seconds. Scopes: ingest, admin. "
    "Revoking the key that minted a token ends the token.",
    responses={
        201: {"content": {"application/json": {"example": _TOKEN_EXAMPLE}}},
        **docs.error_responses(400, 401, 403, 422, 429, 503),
    },
    openapi_extra={
        "requestBody": {
            "content": {
                "application/json": {
                    "example": {"request_id": docs.REQUEST_ID, "kinds": ["thumbs", "pick"], "ttl": 3600}
                }
            }
        }
    },
)
async def post_feedback_token(
    request: Request, body: TokenRequest, principal: Annotated[Principal, Depends(require("write"))]
) -> Response:
    if principal.scope not in TOKEN_SCOPES:
        raise ApiError(403, "forbidden", f"a key with scope {principal.scope!r} cannot mint feedback tokens")
    settings = feedback_state(request).settings
    keys = get_state(request).keys

    def mint() -> tuple[str, FeedbackToken]:
        return mint_token(
            principal.key,
            keys,
            request_id=body.request_id,
            kinds=body.kinds,
            ttl_s=body.ttl if body.ttl is not None else settings.default_ttl_s,
            max_ttl_s=settings.max_ttl_s,
            user_id=body.user_id,
        )

    token, grant = await run_in_threadpool(mint)
    from preflog.events import format_time

    answer = {
        "token": token,
        "request_id": grant.request_id,
        "kinds": list(grant.kinds),
        "user_id": grant.user_id,
        "expires_at": format_time(grant.expires),
    }
    return json_response(answer, 201)


# ---------------------------------------------------------------------------------------------- CORS


def _cors(origin: str | None) -> dict[str, str]:
    if origin is None:
        return {"Vary": "Origin"}
    return {"Access-Control-Allow-Origin": origin, "Vary": "Origin"}


def _origin(request: Request) -> str | None:
    raw = request.headers.get("origin")
    if raw is None or raw == "null":
        return raw
    try:
        return normalize_origin(raw)
    except ValidationError:
        return "invalid"


@router.options("/feedback", include_in_schema=False)
async def preflight(request: Request) -> Response:
    origin = _origin(request)
    listed = origin is not None and await run_in_threadpool(feedback_state(request).origins.allowed, origin)
    if not listed:
        return Response(status_code=403, headers={"Vary": "Origin"})
    return Response(
        status_code=204,
        headers={
            **_cors(origin),
            "Access-Control-Allow-Methods": "POST",
            "Access-Control-Allow-Headers": "authorization, content-type",
            "Access-Control-Max-Age": str(PREFLIGHT_MAX_AGE_S),
        },
    )


# ---------------------------------------------------------------------------------------------- feedback

_FEEDBACK_EXAMPLE: Final = {
    "status": "changed",
    "event_id": docs.EVENT_ID,
    "retracted": docs.EXAMPLE_EVENTS["preference"]["event_id"],
}


def _feedback_errors() -> dict[int | str, dict[str, Any]]:
    out = docs.error_responses(400, 401, 403, 413, 415, 422, 429, 503)
    out[401] = {
        "description": "Missing, malformed, forged, expired or revoked feedback token.",
        "content": {
            "application/json": {"example": {"error": "unauthorized", "message": "the token has expired"}}
        },
    }
    out[409] = {
        "description": "A comment without a vote, or the same vote changed at the same moment elsewhere.",
        "content": {
            "application/json": {
                "example": {"error": "nothing_to_comment", "message": "a comment goes with a vote"}
            }
        },
    }
    return out


async def _record(request: Request, token_text: str | None, origin: str | None) -> Response:
    state = feedback_state(request)
    if token_text is None:
        raise ApiError(401, "unauthorized", "missing feedback token: send Authorization: Bearer pft1...")
    keys = get_state(request).keys
    try:
        token = await run_in_threadpool(verify_token, keys, token_text)
    except TokenRefused as exc:
        raise ApiError(401, "unauthorized", str(exc)) from None
    if origin is not None and not await run_in_threadpool(state.origins.allowed, origin, token.project):
        raise ApiError(
            403, ORIGIN_REFUSED, f"origin {origin} may not send feedback to project {token.project!r}"
        )
    wait = state.limiter.acquire(token.nonce)
    if wait is not None:
        raise ApiError(
            429,
            "rate_limited",
            "too many feedback calls for this token",
            headers={"Retry-After": RateLimiter.retry_after(wait)},
        )
    raw = await read_body(request, MAX_FEEDBACK_BYTES)
    try:
        body = json.loads(raw)
    except ValueError as exc:
        raise ApiError(400, "invalid_json", f"the body is not valid JSON: {exc}") from None
    checked = check_body(body, token)
    store = get_state(request).store
    outcome = await run_in_threadpool(apply_feedback, store, token, checked, origin)
    return json_response(outcome.to_dict(), 201 if outcome.status != "unchanged" else 200)


def _answer_error(exc: ApiError | ValidationError) -> Response:
    if isinstance(exc, ApiError):
        return error_response(exc)
    details = [{"field": e.path, "reason": e.reason} for e in exc.errors]
    return error_response(ApiError(422, "invalid", str(exc), details=details))


@router.post(
    "/feedback",
    tags=["feedback"],
    summary="Record an end user's feedback (thumbs, pick, comment)",
    description="Called from a product page with a feedback token instead of an API key. "
    '`{"action": "thumbs", "candidate_id": "c0", "value": "up"}`, `{"action": "pick", '
    '"chosen": "b", "presented": ["b", "a"]}` or `{"action": "comment", "text": "..."}`. '
    "201: a judgment was stored (`changed`: the previous one retracted); 200: the same vote again "
    "(`unchanged`). Cross-origin from the origins allowed for the token's project (`/v1/feedback-origins`).",
    responses={
        200: {
            "content": {"application/json": {"example": {"status": "unchanged", "event_id": docs.EVENT_ID}}}
        },
        201: {"content": {"application/json": {"example": _FEEDBACK_EXAMPLE}}},
        **_feedback_errors(),
    },
    openapi_extra={
        "requestBody": {
            "content": {
                "application/json": {
                    "example": {
                        "action": "pick",
                        "request_id": docs.REQUEST_ID,
                        "chosen": "b",
                        "presented": ["b", "a"],
                    }
                }
            }
        }
    },
)
async def post_feedback(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(token_bearer)],
) -> Response:
    origin = _origin(request)
    if origin in ("null", "invalid"):
        return error_response(ApiError(403, ORIGIN_REFUSED, "feedback needs an http(s) Origin"))
    try:
        answer = await _record(request, credentials.credentials if credentials else None, origin)
    except (ApiError, ValidationError) as exc:  # answered here, with CORS headers the page can read
        answer = _answer_error(exc)
    if origin is not None:  # a listed origin may read every answer; an unlisted one none
        listed = await run_in_threadpool(feedback_state(request).origins.allowed, origin)
        answer.headers.update(_cors(origin if listed else None))
    return answer


# ---------------------------------------------------------------------------------------------- origins


class OriginRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    origin: str = Field(
        max_length=300, pattern=ORIGIN_PATTERN, description="scheme://host[:port], as sent by browsers"
    )


_ORIGIN: Final = "https://shop.example.com"
_ORIGIN_ERRORS: Final = (401, 403, 422, 429, 503)


def _checked_origin(value: str) -> str:
    try:
        return normalize_origin(value)
    except ValidationError as exc:
        raise ApiError(
            422, "invalid", str(exc), details=[{"field": "origin", "reason": exc.reason}]
        ) from None


@router.get(
    "/feedback-origins",
    tags=["feedback"],
    summary="The origins allowed to send feedback to this project",
    description="Web origins (CORS) whose pages may call `POST /v1/feedback` with this project's tokens.",
    responses={
        200: {"content": {"application/json": {"example": {"origins": [_ORIGIN]}}}},
        **docs.error_responses(*_ORIGIN_ERRORS),
    },
)
async def get_origins(
    request: Request, principal: Annotated[Principal, Depends(require("admin"))]
) -> Response:
    rows = await run_in_threadpool(feedback_state(request).origins.origins, principal.project)
    return json_response({"origins": [origin for _, origin in rows]})


@router.post(
    "/feedback-origins",
    status_code=201,
    tags=["feedback"],
    summary="Allow an origin to send feedback",
    description="`added` is false when the origin was allowed already.",
    responses={
        201: {"content": {"application/json": {"example": {"origin": _ORIGIN, "added": True}}}},
        **docs.error_responses(400, *_ORIGIN_ERRORS),
    },
    openapi_extra={"requestBody": {"content": {"application/json": {"example": {"origin": _ORIGIN}}}}},
)
async def post_origin(
    request: Request, body: OriginRequest, principal: Annotated[Principal, Depends(require("admin"))]
) -> Response:
    origin = _checked_origin(body.origin)
    added = await run_in_threadpool(feedback_state(request).origins.add, principal.project, origin)
    return json_response({"origin": origin, "added": added}, 201)


@router.delete(
    "/feedback-origins",
    tags=["feedback"],
    summary="Stop allowing an origin",
    description="`removed` is false when the origin was not allowed.",
    responses={
        200: {"content": {"application/json": {"example": {"origin": _ORIGIN, "removed": True}}}},
        **docs.error_responses(*_ORIGIN_ERRORS),
    },
)
async def delete_origin(
    request: Request,
    principal: Annotated[Principal, Depends(require("admin"))],
    origin: Annotated[str, Query(max_length=300, pattern=ORIGIN_PATTERN, description="the origin to remove")],
) -> Response:
    checked = _checked_origin(origin)
    removed = await run_in_threadpool(feedback_state(request).origins.remove, principal.project, checked)
    return json_response({"origin": checked, "removed": removed})


# ---------------------------------------------------------------------------------------------- the script


@static_router.get("/static/preflog-feedback.js", include_in_schema=False)
async def feedback_script() -> Response:
    """The widget, loadable by a ``<script src>`` from any page (no CORS needed for a classic script)."""
    return Response(
        SCRIPT.read_bytes(),
        media_type="text/javascript; charset=utf-8",
        headers={
            "Cache-Control": "public, max-age=3600",
            "Cross-Origin-Resource-Policy": "cross-origin",
            "X-Content-Type-Options": "nosniff",
        },
    )


def install_feedback(app: FastAPI, state: FeedbackState) -> None:
    """Mount the feedback routes on ``app`` with ``state`` (settings, limiter, origins)."""
    app.state.preflog_feedback = state
    app.include_router(router)
    app.include_router(static_router)
