"""``POST /v1/traces``: OTLP over HTTP (protobuf or JSON), the traces an OpenTelemetry exporter sends.

A thin shell over :mod:`preflog.integrations.otlp`: decode, turn LLM spans into inference and score
events, append them under the key's project (as ``POST /v1/events`` does, with the same per-event
checks), and answer an ``ExportTraceServiceResponse`` in the request's encoding. Its
``partial_success`` counts the spans that gave nothing (``rejected_spans``: LLM spans without
content, events the store refused) with the first reasons in ``error_message``; spans that are not
LLM calls are accepted and ignored, and said so in ``error_message`` with ``rejected_spans`` 0 (a
warning, as the OTLP specification allows). The headers ``Preflog-Events`` and ``Preflog-Spans``
carry the full counts. An exporter retrying a batch gets ``duplicate`` for every event: ids derive
from the trace and span ids.

Errors: 400 for a body that is not a trace request (a protobuf ``google.rpc.Status`` for a protobuf
request, preflog's JSON error with the gRPC ``code`` for a JSON one), 415 for another content type;
the rest as every ``/v1`` route (401, 403, 413, 429, 503 with ``Retry-After``).
"""

from __future__ import annotations

import json
from typing import Annotated, Any, Final

from fastapi import APIRouter, Depends, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from preflog.errors import ConfigError
from preflog.integrations.otlp import (
    JSON_TYPE,
    PROTOBUF_TYPES,
    Conversion,
    OtlpDecodeError,
    convert_spans,
    decode_request,
)
from preflog.server import openapi_docs as docs
from preflog.server.api_errors import ApiError, json_response
from preflog.server.auth import Principal, get_state, require
from preflog.server.body import Item, media_type, read_body
from preflog.server.ingest import BatchOutcome, ingest
from preflog.server.state import ServerState

router = APIRouter(prefix="/v1")

PROTOBUF: Final = "application/x-protobuf"
GRPC_INVALID_ARGUMENT: Final = 3
MAX_REASONS: Final = 5  # reasons quoted in error_message; the counts say how many there were


class _Answer:
    """What one export gave: the store's outcome and the spans rejected, for the response."""

    def __init__(self, conversion: Conversion, outcome: BatchOutcome) -> None:
        self.conversion = conversion
        self.outcome = outcome
        reasons = [str(p) for p in conversion.problems]
        rejected = {(p.trace_id, p.span_id) for p in conversion.problems}
        for result, origin, event in zip(outcome.results, conversion.origins, conversion.events, strict=True):
            if result["status"] in ("rejected", "conflict"):
                rejected.add(origin)
                where = f"{result['field']}: " if result.get("field") else ""
                reason = f"{result['status']}: {where}{result.get('reason', '')}"
                reasons.append(f"span {origin[1]}: {event['type']} event {event['event_id']}: {reason}")
        self.rejected_spans = len(rejected)
        self.reasons = reasons

    def message(self) -> str:
        parts = []
        if self.rejected_spans:
            shown = "; ".join(self.reasons[:MAX_REASONS])
            more = len(self.reasons) - MAX_REASONS
            tail = f"; and {more} more" if more > 0 else ""
            parts.append(f"{self.rejected_spans} span(s) rejected: {shown}{tail}")
        if self.conversion.ignored:
            parts.append(f"{self.conversion.ignored} span(s) ignored: not LLM calls")
        return ". ".join(parts)

    def headers(self) -> dict[str, str]:
        counts = self.outcome.counts
        c = self.conversion
        return {
            "Preflog-Events": ", ".join(f"{k}={v}" for k, v in counts.items()),
            "Preflog-Spans": f"received={c.spans}, llm={c.llm_spans}, ignored={c.ignored}, "
            f"rejected={self.rejected_spans}",
        }


def _export(state: ServerState, principal: Principal, body: bytes, content_type: str) -> _Answer:
    try:
        spans = decode_request(body, content_type)
    except ConfigError as exc:
        raise ApiError(415, "unsupported_media_type", str(exc)) from None
    conversion = convert_spans(spans)
    if len(conversion.events) > state.settings.max_batch_events:
        raise ApiError(
            413,
            "too_many_events",
            f"{len(conversion.events)} events in one request; max_batch_events is "
            f"{state.settings.max_batch_events}",
            limit="max_batch_events",
        )
    items = [Item(i, event) for i, event in enumerate(conversion.events)]
    return _Answer(conversion, ingest(state.ingest_sink, principal, items))


def _protobuf_answer(answer: _Answer) -> bytes:
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
        ExportTracePartialSuccess,
        ExportTraceServiceResponse,
    )

    message = answer.message()
    if not message:
        return bytes(ExportTraceServiceResponse().SerializeToString())
    partial = ExportTracePartialSuccess(rejected_spans=answer.rejected_spans, error_message=message)
    return bytes(ExportTraceServiceResponse(partial_success=partial).SerializeToString())


def _json_answer(answer: _Answer) -> dict[str, Any]:
    message = answer.message()
    if not message:
        return {}
    return {"partialSuccess": {"rejectedSpans": answer.rejected_spans, "errorMessage": message}}


def _bad_request(content_type: str, message: str) -> Response:
    if content_type in PROTOBUF_TYPES:
        from google.rpc.status_pb2 import Status

        status = Status(code=GRPC_INVALID_ARGUMENT, message=message)
        return Response(status.SerializeToString(), status_code=400, media_type=PROTOBUF)
    body = {"error": "invalid_otlp", "message": message, "code": GRPC_INVALID_ARGUMENT}
    return Response(json.dumps(body), status_code=400, media_type=JSON_TYPE)


_SPANS_JSON: Final = {
    "type": "object",
    "description": "An OTLP/JSON ExportTraceServiceRequest (trace and span ids as hex strings).",
    "properties": {"resourceSpans": {"type": "array", "items": {"type": "object"}}},
}
_ANSWER_JSON: Final = {
    "type": "object",
    "properties": {
        "partialSuccess": {
            "type": "object",
            "properties": {
                "rejectedSpans": {"type": ["integer", "string"]},
                "errorMessage": {"type": "string"},
            },
        }
    },
}
_REQUEST_EXAMPLE: Final = {
    "resourceSpans": [
        {
            "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "checkout"}}]},
            "scopeSpans": [
                {
                    "scope": {"name": "opentelemetry.instrumentation.openai_v2"},
                    "spans": [
                        {
                            "traceId": "5b8efff798038103d269b633813fc60c",
                            "spanId": "eee19b7ec3c1b174",
                            "name": "chat gpt-4o",
                            "kind": 3,
                            "startTimeUnixNano": "1790000000000000000",
                            "endTimeUnixNano": "1790000000812500000",
                            "attributes": [
                                {"key": "gen_ai.operation.name", "value": {"stringValue": "chat"}},
                                {"key": "gen_ai.request.model", "value": {"stringValue": "gpt-4o"}},
                                {
                                    "key": "gen_ai.input.messages",
                                    "value": {
                                        "stringValue": '[{"role":"user","parts":[{"type":"text",'
                                        '"content":"Capital of France?"}]}]'
                                    },
                                },
                                {
                                    "key": "gen_ai.output.messages",
                                    "value": {
                                        "stringValue": '[{"role":"assistant","parts":[{"type":"text",'
                                        '"content":"Paris."}],"finish_reason":"stop"}]'
                                    },
                                },
                            ],
                        }
                    ],
                }
            ],
        }
    ]
}
_BINARY_EXAMPLE: Final = "(protobuf bytes)"
_EXAMPLE: Final = {
    "partialSuccess": {
        "rejectedSpans": 1,
        "errorMessage": "1 span(s) rejected: span 5fb397be34d26b51 (chat gpt-4o): no "
        "gen_ai.input.messages/gen_ai.output.messages (turn content capture on ...)",
    }
}


def _responses() -> dict[int | str, dict[str, Any]]:
    out = docs.error_responses(*docs.WRITE_ERRORS)
    out[200] = {
        "description": "Accepted. `partialSuccess` counts the spans rejected (LLM spans without content, "
        "events refused) and warns about spans ignored (not LLM calls). Protobuf requests get a "
        "protobuf ExportTraceServiceResponse.",
        "content": {
            "application/json": {"schema": _ANSWER_JSON, "example": _EXAMPLE},
            PROTOBUF: {"schema": {"type": "string", "format": "binary"}, "example": _BINARY_EXAMPLE},
        },
    }
    out[400] = {
        "description": "Not an OTLP trace request (a google.rpc.Status for protobuf requests).",
        "content": {
            "application/json": {
                "schema": {"$ref": "#/components/schemas/ErrorResponse"},
                "example": {"error": "invalid_otlp", "message": "body: must be an object", "code": 3},
            },
            PROTOBUF: {"schema": {"type": "string", "format": "binary"}, "example": _BINARY_EXAMPLE},
        },
    }
    return out


@router.post(
    "/traces",
    tags=["write"],
    summary="Receive OpenTelemetry traces (OTLP/HTTP)",
    description="OTLP over HTTP, `application/x-protobuf` or `application/json`, optionally gzip. "
    "GenAI (`gen_ai.*`) and OpenInference LLM spans become inference events, one candidate per output "
    "message; `gen_ai.evaluation.result` span events become scores; other spans are ignored. Scopes: "
    "ingest, admin. Point an exporter here: OTEL_EXPORTER_OTLP_TRACES_ENDPOINT=http://HOST/v1/traces, "
    "OTEL_EXPORTER_OTLP_HEADERS=Authorization=Bearer%20pfl_... (docs/otel.md).",
    response_model=None,
    responses=_responses(),
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                PROTOBUF: {"schema": {"type": "string", "format": "binary"}, "example": _BINARY_EXAMPLE},
                JSON_TYPE: {"schema": _SPANS_JSON, "example": _REQUEST_EXAMPLE},
            },
        }
    },
)
async def post_traces(
    request: Request, principal: Annotated[Principal, Depends(require("write"))]
) -> Response:
    if not principal.may_write("inference"):
        raise ApiError(403, "forbidden", f"a key with scope {principal.scope!r} cannot write traces")
    content_type = media_type(request)
    if content_type not in PROTOBUF_TYPES and content_type != JSON_TYPE:
        raise ApiError(
            415,
            "unsupported_media_type",
            f"Content-Type {content_type!r}: send application/x-protobuf or application/json",
        )
    state = get_state(request)
    body = await read_body(request, state.settings.max_body_bytes)
    try:
        answer = await run_in_threadpool(_export, state, principal, body, content_type)
    except OtlpDecodeError as exc:
        return _bad_request(content_type, str(exc))
    state.metrics.count_events(answer.outcome.outcomes)
    if content_type in PROTOBUF_TYPES:
        return Response(_protobuf_answer(answer), media_type=PROTOBUF, headers=answer.headers())
    return json_response(_json_answer(answer), headers=answer.headers())
