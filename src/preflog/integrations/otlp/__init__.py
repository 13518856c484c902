"""OpenTelemetry traces (OTLP) → preflog events. Pure: bytes in, events out; no store, no server.

``convert_spans(decode_request(body, content_type))`` turns an OTLP ``ExportTraceServiceRequest``
(protobuf or JSON, :mod:`.wire`) into inference events (GenAI and OpenInference LLM spans,
:mod:`.genai`, :mod:`.openinference`) and score events (``gen_ai.evaluation.result``), with the
spans it ignored or rejected counted (:mod:`.convert`). docs/otel.md describes the mapping.
"""

from __future__ import annotations

from preflog.integrations.otlp.convert import Conversion, SpanProblem, convert_spans, read_call
from preflog.integrations.otlp.wire import (
    JSON_TYPE,
    PROTOBUF_TYPES,
    OtlpDecodeError,
    Span,
    SpanEvent,
    decode_request,
)

__all__ = [
    "JSON_TYPE",
    "PROTOBUF_TYPES",
    "Conversion",
    "OtlpDecodeError",
    "Span",
    "SpanEvent",
    "SpanProblem",
    "convert_spans",
    "decode_request",
    "read_call",
]
