"""``/ui/api/queue``, ``/ui/api/judgments`` and ``/ui/api/undo``: the annotation arena's JSON.

Judgments are written with :func:`preflog.server.ingest.ingest` — the API's own write path — as the
signed-in key, so a key that may not write preferences cannot write them here either.
"""

from __future__ import annotations

import json
from typing import Annotated, Any, cast

from fastapi import APIRouter, Depends, Query, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from preflog.errors import ValidationError
from preflog.server.api_errors import ApiError, json_response
from preflog.server.auth import Principal, get_state
from preflog.server.body import Item as BatchItem
from preflog.server.body import read_body
from preflog.server.ingest import ingest
from preflog.server.ui.index import distinct_candidates
from preflog.server.ui.judgment import preference_event, retraction_event
from preflog.server.ui.queue import POLICIES, Policy, build_item, eligible, pick
from preflog.server.ui.session import Session
from preflog.server.ui.state import project_index, ui_state
from preflog.server.ui.web import api_session, require_annotator

router = APIRouter(prefix="/ui/api", include_in_schema=False)
UiSession = Annotated[Session, Depends(api_session)]
BODY_MAX_BYTES = 64 * 1024


def _progress(request: Request, session: Session, remaining: int) -> dict[str, Any]:
    index = project_index(request, session.project)
    return {"remaining": remaining, "done": index.count_by(session.annotator)}


def _next(request: Request, session: Session, policy: Policy, annotators: int, exclude: list[str]) -> Any:
    index = project_index(request, session.project)
    store = get_state(request).store
    leases = ui_state(request).leases
    skipped = list(exclude)
    while True:
        with index.lock:
            chosen, remaining = pick(
                index,
                leases,
                annotator=session.annotator,
                policy=policy,
                annotators=annotators,
                exclude=skipped,
            )
        if chosen is None:
            return {"item": None, "progress": _progress(request, session, remaining)}
        item = build_item(store.get_request(chosen.request_id, project=session.project))
        if item is not None:
            return {"item": item.to_dict(), "progress": _progress(request, session, remaining)}
        skipped.append(chosen.request_id)  # erased since it was indexed: try the next one


@router.get("/queue/next")
async def queue_next(
    request: Request,
    session: UiSession,
    policy: str = "random",
    annotators: Annotated[int, Query(ge=1, le=50)] = 1,
    exclude: Annotated[str, Query(max_length=20_000)] = "",
) -> Response:
    require_annotator(session)
    if policy not in POLICIES:
        raise ApiError(422, "invalid_request", f"policy must be one of {', '.join(POLICIES)}")
    skipped = [x for x in exclude.split(",") if x][:500]
    chosen = cast(Policy, policy)
    result = await run_in_threadpool(_next, request, session, chosen, annotators, skipped)
    return json_response(result)


def _item(request: Request, session: Session, request_id: str, annotators: int) -> Any:
    view = get_state(request).store.get_request(request_id, project=session.project)
    item = build_item(view)
    if item is None:
        raise ApiError(404, "not_found", "no request that can be annotated with this id")
    ui_state(request).leases.take(session.project, request_id, session.annotator)
    index = project_index(request, session.project)
    with index.lock:
        remaining = len(eligible(index, session.annotator, annotators))
    return {"item": item.to_dict(), "progress": _progress(request, session, remaining)}


@router.get("/queue/item/{request_id}")
async def queue_item(
    request: Request,
    session: UiSession,
    request_id: str,
    annotators: Annotated[int, Query(ge=1, le=50)] = 1,
) -> Response:
    require_annotator(session)
    return json_response(await run_in_threadpool(_item, request, session, request_id, annotators))


async def _json_body(request: Request) -> dict[str, Any]:
    raw = await read_body(request, BODY_MAX_BYTES)
    try:
        value = json.loads(raw or b"{}")
    except ValueError as exc:
        raise ApiError(400, "invalid_json", f"the body is not valid JSON: {exc}") from None
    if not isinstance(value, dict):
        raise ApiError(400, "invalid_json", "the body must be a JSON object")
    return value


def _append(request: Request, session: Session, event: dict[str, Any]) -> dict[str, Any]:
    state = get_state(request)
    outcome = ingest(state.store, Principal(session.key), [BatchItem(0, event)])
    state.metrics.count_events(outcome.outcomes)
    result = outcome.results[0]
    if result["status"] not in ("stored", "duplicate"):
        status = 422 if result["status"] == "rejected" else 409
        raise ApiError(status, result["status"], result.get("reason", ""))
    return result


def _judge(request: Request, session: Session, form: dict[str, Any]) -> dict[str, Any]:
    request_id = form.get("request_id")
    if not isinstance(request_id, str) or not request_id:
        raise ApiError(422, "invalid_request", "request_id is required")
    view = get_state(request).store.get_request(request_id, project=session.project)
    if view.inference is None or view.erased:
        raise ApiError(404, "not_found", "no request that can be annotated with this id")
    candidates = [str(c["candidate_id"]) for c in distinct_candidates(view.inference.event)]
    try:
        event = preference_event(
            form,
            request_id=request_id,
            candidates=candidates,
            annotator=session.annotator,
            key_id=session.key.key_id,
            policy=form.get("policy") if form.get("policy") in POLICIES else None,
        )
    except ValidationError as exc:
        raise ApiError(422, "invalid_request", str(exc)) from exc
    result = _append(request, session, event)
    ui_state(request).leases.release(session.project, request_id)
    return {"event_id": event["event_id"], "request_id": request_id, "status": result["status"]}


@router.post("/judgments")
async def post_judgment(request: Request, session: UiSession) -> Response:
    require_annotator(session)
    form = await _json_body(request)
    return json_response(await run_in_threadpool(_judge, request, session, form))


def _undo(request: Request, session: Session, event_id: Any) -> dict[str, Any]:
    store = get_state(request).store
    index = project_index(request, session.project)
    if not isinstance(event_id, str) or not event_id:
        last = index.last_judgment_by(session.key.key_id, session.annotator)
        if last is None:
            raise ApiError(404, "not_found", "nothing to undo")
        event_id = last.event_id
    stored = store.get_event(event_id, project=session.project)
    judgment = index.judgments.get(event_id)
    mine = judgment is not None and (
        judgment.key_id == session.key.key_id
        or (judgment.key_id is None and judgment.annotator == session.annotator)
    )
    if stored is None or stored.type != "preference" or not mine:
        raise ApiError(404, "not_found", "no judgment of yours with this id")
    assert judgment is not None
    if judgment.retracted:
        raise ApiError(409, "already_retracted", "this judgment was already withdrawn")
    event = retraction_event(
        event_id, request_id=judgment.request_id, annotator=session.annotator, key_id=session.key.key_id
    )
    _append(request, session, event)
    return {"event_id": event["event_id"], "retracts": event_id, "request_id": judgment.request_id}


@router.post("/undo")
async def post_undo(request: Request, session: UiSession) -> Response:
    require_annotator(session)
    form = await _json_body(request)
    return json_response(await run_in_threadpool(_undo, request, session, form.get("event_id")))
