"""``/v1`` event routes: batch writes, convenience writes, tailing reads and the request view."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from preflog.events import SCHEMA_VERSION
from preflog.server import openapi_docs as docs
from preflog.server.api_errors import ApiError, json_response, reject_unknown_query
from preflog.server.audit import record_erasure
from preflog.server.auth import Principal, get_state, require
from preflog.server.body import Item, media_type, parse_batch, read_body
from preflog.server.ingest import fill_defaults, ingest
from preflog.server.models import EventsPage, RequestViewModel
from preflog.server.state import ServerState
from preflog.store.base import StoredEvent

router = APIRouter(prefix="/v1", dependencies=[Depends(reject_unknown_query)])

EventType = Literal["inference", "preference", "score", "signal", "retraction", "erasure"]
MAX_POSITION = 2**63 - 1


def _write(
    state: ServerState, principal: Principal, body: bytes, content_type: str, event_type: str | None
) -> Any:
    items = parse_batch(body, content_type, state.settings.max_batch_events)
    if event_type is not None:
        items = [Item(i.index, fill_defaults(i.value, event_type), i.line, i.error) for i in items]
    outcome = ingest(state.ingest_sink, principal, items, only_type=event_type)
    _audit_erasures(state, principal, items, outcome.results)
    return outcome


def _audit_erasures(
    state: ServerState, principal: Principal, items: list[Item], results: list[dict[str, Any]]
) -> None:
    """Write each erasure this batch stored to the audit log (a re-sent duplicate is not new)."""
    for item, result in zip(items, results, strict=True):
        value = item.value
        if result["status"] == "stored" and isinstance(value, dict) and value.get("type") == "erasure":
            actor = principal.key.key_id
            record_erasure(state.audit, value, project=principal.project, actor=actor, via="api")


async def _handle_write(request: Request, principal: Principal, event_type: str | None) -> Response:
    state = get_state(request)
    body = await read_body(request, state.settings.max_body_bytes)
    outcome = await run_in_threadpool(_write, state, principal, body, media_type(request), event_type)
    state.metrics.count_events(outcome.outcomes)
    return json_response(outcome.to_dict(), outcome.status_code)


@router.post(
    "/events",
    tags=["write"],
    summary="Append a batch of events",
    description="Append events of any type, as a JSON array or NDJSON, optionally gzip-compressed. "
    "Each event is answered on its own (stored, duplicate, conflict, rejected); valid events are stored "
    "even when others are rejected. 200: all accepted; 207: partial; 422: none accepted. "
    "Scopes: ingest (every type but erasure), annotate (preference, retraction), admin (all).",
    response_model=None,
    responses=docs.batch_responses(),
    openapi_extra=docs.batch_request_body(None),
)
async def post_events(
    request: Request, principal: Annotated[Principal, Depends(require("write"))]
) -> Response:
    return await _handle_write(request, principal, None)


def _add_convenience_route(event_type: str) -> None:
    plural = docs.PLURALS[event_type]

    async def post_typed(
        request: Request, principal: Annotated[Principal, Depends(require("write"))]
    ) -> Response:
        return await _handle_write(request, principal, event_type)

    router.add_api_route(
        f"/{plural}",
        post_typed,
        methods=["POST"],
        tags=["write"],
        name=f"post_{plural}",
        summary=f"Append {event_type} events",
        description=f"One {event_type} event or a list of them. `type` is filled in; `event_id` (a new UUID) "
        "and `occurred_at` (the time of receipt) are generated when absent"
        + (", and `request_id` (a new UUID, returned in the result)" if event_type == "inference" else "")
        + ". An event with another `type` is rejected. Answers like `POST /v1/events`.",
        response_model=None,
        responses=docs.batch_responses(),
        openapi_extra=docs.batch_request_body(event_type),
    )


for _type in docs.PLURALS:
    _add_convenience_route(_type)


def _row(item: StoredEvent) -> dict[str, Any]:
    return dict(item.event, position=item.position, erased=item.erased)


@router.get(
    "/events",
    tags=["read"],
    summary="Tail the event log",
    description="Events with position > `after`, in position order (commit order: a reader that "
    "follows `next_after` never skips an event). At most `limit` events, capped by the server's "
    "max_page (1000 by default).",
    response_model=EventsPage,
    responses={
        200: {
            "content": {
                "application/json": {
                    "example": {
                        "events": [
                            dict(
                                docs.EXAMPLE_EVENTS["signal"],
                                project="demo",
                                position=42,
                                erased=False,
                                received_at="2026-11-26T10:02:00.104Z",
                                schema_version=SCHEMA_VERSION,
                            )
                        ],
                        "next_after": 42,
                        "has_more": False,
                    }
                }
            }
        },
        **docs.error_responses(*docs.READ_ERRORS),
    },
)
async def get_events(
    request: Request,
    principal: Annotated[Principal, Depends(require("read"))],
    after: Annotated[int, Query(ge=0, le=MAX_POSITION, description="return events after this position")] = 0,
    limit: Annotated[int, Query(ge=1, le=MAX_POSITION, description="page size (capped by max_page)")] = 100,
    type: Annotated[list[EventType] | None, Query(description="only these event types")] = None,
) -> Response:
    state = get_state(request)
    limit = min(limit, state.settings.max_page)
    page = await run_in_threadpool(
        lambda: state.store.read(project=principal.project, after=after, limit=limit, types=type)
    )
    body = {
        "events": [_row(e) for e in page],
        "next_after": page[-1].position if page else after,
        "has_more": len(page) == limit,
    }
    return json_response(body)


@router.get(
    "/requests/{request_id}",
    tags=["read"],
    summary="The joined view of one request",
    description="The inference and every preference, score, signal, retraction and erasure about it. "
    "404 when the key's project knows nothing about the request (another project's requests look the same).",
    response_model=RequestViewModel,
    responses={
        200: {
            "content": {
                "application/json": {
                    "example": {
                        "request_id": docs.REQUEST_ID,
                        "inference": dict(
                            docs.EXAMPLE_EVENTS["inference"], project="demo", position=41, erased=False
                        ),
                        "preferences": [
                            dict(docs.EXAMPLE_EVENTS["preference"], project="demo", position=43, erased=False)
                        ],
                        "scores": [],
                        "signals": [],
                        "retractions": [],
                        "erasures": [],
                        "retracted": [],
                        "orphaned": False,
                        "erased": False,
                    }
                }
            }
        },
        **docs.error_responses(404, *docs.READ_ERRORS),
    },
)
async def get_request(
    request: Request,
    principal: Annotated[Principal, Depends(require("read"))],
    request_id: Annotated[str, Path(description="the request's id")],
) -> Response:
    state = get_state(request)
    view = await run_in_threadpool(state.store.get_request, request_id, project=principal.project)
    data = view.to_dict()
    if data["inference"] is None and not any(
        data[k] for k in ("preferences", "scores", "signals", "retractions", "erasures")
    ):
        raise ApiError(404, "not_found", f"no request {request_id!r} in project {principal.project!r}")
    return json_response(data)
