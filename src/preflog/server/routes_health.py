"""Unauthenticated operational routes: liveness, readiness and Prometheus metrics."""

from __future__ import annotations

import anyio
import anyio.to_thread
from fastapi import APIRouter, Request
from starlette.responses import Response

from preflog.errors import StoreUnavailable
from preflog.server import openapi_docs as docs
from preflog.server.api_errors import json_response
from preflog.server.auth import get_state
from preflog.server.metrics import CONTENT_TYPE, render_redactions
from preflog.server.models import Health, Ready

router = APIRouter(tags=["operations"])

_METRICS_EXAMPLE = """\
# HELP preflog_events_total Events received, by type and outcome.
# TYPE preflog_events_total counter
preflog_events_total{type="inference",outcome="stored"} 1200
"""


@router.get(
    "/healthz",
    summary="Liveness",
    description="200 while the process serves requests. Does not touch the store.",
    response_model=Health,
    responses={200: {"content": {"application/json": {"example": {"status": "ok"}}}}},
)
async def healthz() -> Response:
    return json_response({"status": "ok"})


@router.get(
    "/readyz",
    summary="Readiness",
    description="200 when the store answers a query within the timeout, else 503 with Retry-After.",
    response_model=Ready,
    responses={
        200: {"content": {"application/json": {"example": {"status": "ready", "last_position": 1234}}}},
        **docs.error_responses(503),
    },
)
async def readyz(request: Request) -> Response:
    state = get_state(request)
    try:
        with anyio.fail_after(state.settings.ready_timeout_s):
            last = await anyio.to_thread.run_sync(lambda: state.store.last_position(), abandon_on_cancel=True)
    except TimeoutError:
        raise StoreUnavailable(f"no answer within {state.settings.ready_timeout_s:g} s") from None
    return json_response({"status": "ready", "last_position": last})


@router.get(
    "/metrics",
    summary="Prometheus metrics",
    description="Text exposition format 0.0.4: events by type and outcome, request latency histogram, "
    "store errors, auth failures, rate limiting, redactions, and the store call queue. Per worker process.",
    response_class=Response,
    responses={200: {"content": {CONTENT_TYPE: {"schema": {"type": "string"}, "example": _METRICS_EXAMPLE}}}},
)
async def metrics(request: Request) -> Response:
    state = get_state(request)
    text = state.metrics.render() + render_redactions(state.store.redaction_counts())
    return Response(text, media_type=CONTENT_TYPE)
