"""``/v1/keys``: key management for ``admin`` keys, always within the admin key's own project.
Every creation and revocation is written to the audit log (:mod:`preflog.server.audit`)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from preflog.server import openapi_docs as docs
from preflog.server.api_errors import json_response, reject_unknown_query
from preflog.server.audit import Action, record
from preflog.server.auth import Principal, get_state, require
from preflog.server.keys import ApiKey, create_key, list_keys, revoke_key
from preflog.server.models import KeyCreated, KeyCreateRequest, KeyInfo, KeyList
from preflog.server.state import ServerState

router = APIRouter(prefix="/v1/keys", tags=["keys"], dependencies=[Depends(reject_unknown_query)])

_INFO = {
    "key_id": "3f9a0c4b7d21",
    "project": "demo",
    "scope": "ingest",
    "name": "checkout-service",
    "created_at": "2026-11-26T10:00:00.000000Z",
    "revoked_at": None,
}
_ADMIN_ERRORS = (401, 403, 422, 429, 503)


@router.get(
    "",
    summary="List the project's API keys",
    description="Every key of the admin key's project, revoked ones included. Secrets are never shown.",
    response_model=KeyList,
    responses={
        200: {"content": {"application/json": {"example": {"keys": [_INFO]}}}},
        **docs.error_responses(*_ADMIN_ERRORS),
    },
)
async def get_keys(request: Request, principal: Annotated[Principal, Depends(require("admin"))]) -> Response:
    keys = await run_in_threadpool(list_keys, get_state(request).keys, project=principal.project)
    return json_response({"keys": [k.to_dict() for k in keys]})


@router.post(
    "",
    status_code=201,
    summary="Create an API key",
    description="A new key in the admin key's project. The key itself is in the answer, once; only a "
    "salted HMAC of its secret is stored.",
    response_model=KeyCreated,
    responses={
        201: {"content": {"application/json": {"example": dict(_INFO, key="pfl_3f9a0c4b7d21_q8Xk...")}}},
        **docs.error_responses(400, *_ADMIN_ERRORS),
    },
    openapi_extra={
        "requestBody": {
            "content": {"application/json": {"example": {"scope": "ingest", "name": "checkout-service"}}}
        }
    },
)
async def post_key(
    request: Request, body: KeyCreateRequest, principal: Annotated[Principal, Depends(require("admin"))]
) -> Response:
    state = get_state(request)
    token, key = await run_in_threadpool(
        lambda: create_key(state.keys, project=principal.project, scope=body.scope, name=body.name)
    )
    await run_in_threadpool(_audit, state, principal, "key.create", key)
    return json_response(dict(key.to_dict(), key=token), 201)


@router.delete(
    "/{key_id}",
    summary="Revoke an API key",
    description="Effective at once, in every worker. Revoking a revoked key changes nothing.",
    response_model=KeyInfo,
    responses={
        200: {
            "content": {
                "application/json": {"example": dict(_INFO, revoked_at="2026-11-27T08:00:00.000000Z")}
            }
        },
        **docs.error_responses(404, *_ADMIN_ERRORS),
    },
)
async def delete_key(
    request: Request,
    principal: Annotated[Principal, Depends(require("admin"))],
    key_id: Annotated[str, Path(description="the key's id (the part after pfl_)")],
) -> Response:
    state = get_state(request)
    key = await run_in_threadpool(lambda: revoke_key(state.keys, key_id, project=principal.project))
    await run_in_threadpool(_audit, state, principal, "key.revoke", key)
    return json_response(key.to_dict())


def _audit(state: ServerState, principal: Principal, action: Action, key: ApiKey) -> None:
    details = {"scope": key.scope, "name": key.name}
    record(
        state.audit,
        action,
        project=principal.project,
        actor=principal.key.key_id,
        via="api",
        target=key.key_id,
        details=details,
    )
