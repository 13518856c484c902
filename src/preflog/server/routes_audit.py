"""``GET /v1/audit``: the audit log of admin actions of the admin key's project (admin scope)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from preflog.server import openapi_docs as docs
from preflog.server.api_errors import ApiError, json_response, reject_unknown_query
from preflog.server.audit import ACTIONS, Action, Via
from preflog.server.auth import Principal, get_state, require

router = APIRouter(prefix="/v1/audit", tags=["keys"], dependencies=[Depends(reject_unknown_query)])
MAX_ID = 2**63 - 1


class AuditEntryModel(BaseModel):
    """One admin action."""

    id: int = Field(description="increases in the order entries were written")
    at: str = Field(description="when, RFC 3339 UTC")
    project: str
    actor: str = Field(description="the API key id, or cli:<os user> for the CLI")
    via: Via
    action: Action
    target: str | None = Field(None, description="key id, request id, or sha256:<digest> of a user id")
    details: dict[str, Any]


class AuditPage(BaseModel):
    entries: list[AuditEntryModel]
    next_after: int = Field(description="pass as after= to read on")
    has_more: bool


_EXAMPLE = {
    "id": 7,
    "at": "2026-11-27T08:00:00.000000Z",
    "project": "demo",
    "actor": "3f9a0c4b7d21",
    "via": "api",
    "action": "key.revoke",
    "target": "9b1e2c3d4f50",
    "details": {"scope": "ingest", "name": "checkout-service"},
}


@router.get(
    "",
    summary="The audit log",
    description="Admin actions in the admin key's project, oldest first: key creation and revocation "
    "(by API or CLI) and erasures. An erased user appears only as a SHA-256 digest.",
    response_model=AuditPage,
    responses={
        200: {
            "content": {
                "application/json": {"example": {"entries": [_EXAMPLE], "next_after": 7, "has_more": False}}
            }
        },
        **docs.error_responses(*docs.READ_ERRORS),
    },
)
async def get_audit(
    request: Request,
    principal: Annotated[Principal, Depends(require("admin"))],
    after: Annotated[int, Query(ge=0, le=MAX_ID, description="entries with a larger id")] = 0,
    limit: Annotated[int, Query(ge=1, le=MAX_ID, description="page size (capped by max_page)")] = 100,
    action: Annotated[Action | None, Query(description="only this action")] = None,
) -> Response:
    state = get_state(request)
    log = state.audit
    if log is None:
        raise ApiError(404, "not_found", "this service keeps no audit log")
    limit = min(limit, state.settings.max_page)
    rows = await run_in_threadpool(
        lambda: log.entries(principal.project, after=after, limit=limit, action=action)
    )
    body = {
        "entries": [e.to_dict() for e in rows],
        "next_after": rows[-1].id if rows else after,
        "has_more": len(rows) == limit,
    }
    return json_response(body)


__all__ = ["ACTIONS", "router"]
