"""``/ui/api/requests``: find requests (by id, user, model, tag, time) and show one joined record."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from preflog.events import normalize_time
from preflog.server.api_errors import ApiError, json_response
from preflog.server.auth import get_state
from preflog.server.ui.index import RequestSummary
from preflog.server.ui.session import Session
from preflog.server.ui.state import project_index
from preflog.server.ui.web import api_session

router = APIRouter(prefix="/ui/api", include_in_schema=False)
UiSession = Annotated[Session, Depends(api_session)]
Text = Annotated[str, Query(max_length=256)]


def _time(value: str, name: str) -> str | None:
    if not value:
        return None
    if len(value) == 10:  # a date from <input type=date>
        value += "T00:00:00Z"
    try:
        return normalize_time(value)
    except ValueError as exc:
        raise ApiError(422, "invalid_request", f"{name}: not a date or RFC 3339 time ({exc})") from None


def _matches(s: RequestSummary, q: dict[str, Any]) -> bool:
    if q["request_id"] and not s.request_id.startswith(q["request_id"]):
        return False
    if q["user"] and (s.erased or s.user_id != q["user"]):
        return False
    if q["model"] and q["model"] not in s.models.values():
        return False
    if q["tag"] and q["tag"] not in s.tags:
        return False
    if q["since"] and (not s.occurred_at or s.occurred_at < q["since"]):
        return False
    return not (q["until"] and (not s.occurred_at or s.occurred_at >= q["until"]))


def _search(request: Request, session: Session, q: dict[str, Any], limit: int) -> dict[str, Any]:
    index = project_index(request, session.project)
    with index.lock:
        found = [s for s in index.requests.values() if _matches(s, q)]
        found.sort(key=lambda s: (s.occurred_at, s.request_id), reverse=True)
        rows = [s.to_dict() for s in found[:limit]]
    return {"total": len(found), "rows": rows, "limit": limit}


@router.get("/requests")
async def search_requests(
    request: Request,
    session: UiSession,
    request_id: Text = "",
    user: Text = "",
    model: Text = "",
    tag: Text = "",
    since: Text = "",
    until: Text = "",
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> Response:
    q = {
        "request_id": request_id.strip(),
        "user": user.strip(),
        "model": model.strip(),
        "tag": tag.strip(),
        "since": _time(since.strip(), "since"),
        "until": _time(until.strip(), "until"),
    }
    return json_response(await run_in_threadpool(_search, request, session, q, limit))


def _record(request: Request, session: Session, request_id: str) -> dict[str, Any]:
    view = get_state(request).store.get_request(request_id, project=session.project)
    record = view.to_dict()
    empty = not any(record[k] for k in ("preferences", "scores", "signals", "retractions", "erasures"))
    if view.inference is None and empty:
        raise ApiError(404, "not_found", f"no request {request_id!r} in this project")
    return record


@router.get("/requests/{request_id}")
async def get_record(request: Request, session: UiSession, request_id: str) -> Response:
    return json_response(await run_in_threadpool(_record, request, session, request_id))


def _facets(request: Request, session: Session) -> dict[str, Any]:
    index = project_index(request, session.project)
    with index.lock:
        models = sorted({m for s in index.requests.values() for m in s.models.values()})
        tags = sorted({t for s in index.requests.values() for t in s.tags})
        criteria = sorted(index.criteria)
        requests = sum(1 for s in index.requests.values() if s.has_inference)
    return {
        "project": session.project,
        "scope": session.key.scope,
        "annotator": session.annotator,
        "models": models,
        "tags": tags[:200],
        "criteria": criteria,
        "requests": requests,
    }


@router.get("/facets")
async def facets(request: Request, session: UiSession) -> Response:
    """Values for the filter controls: models, tags and criteria seen in this project."""
    return json_response(await run_in_threadpool(_facets, request, session))
