"""OTLP/JSON trace requests written by hand, as the OTLP specification encodes them: attributes as
``{"key", "value": {"stringValue" | "intValue" | "doubleValue" | "boolValue" | "arrayValue" |
"kvlistValue"}}``, ids as hex, nanosecond times as decimal strings."""

from __future__ import annotations

import json
from typing import Any

TRACE_ID = "5b8efff798038103d269b633813fc60c"
START_NS = 1_790_000_000_000_000_000  # 2026-09-21T14:13:20Z
END_NS = START_NS + 812_500_000


def value(v: Any) -> dict[str, Any]:
    if isinstance(v, bool):
        return {"boolValue": v}
    if isinstance(v, int):
        return {"intValue": str(v)}
    if isinstance(v, float):
        return {"doubleValue": v}
    if isinstance(v, str):
        return {"stringValue": v}
    if isinstance(v, list):
        return {"arrayValue": {"values": [value(x) for x in v]}}
    if isinstance(v, dict):
        return {"kvlistValue": {"values": attributes(v)}}
    raise TypeError(type(v))


def attributes(attrs: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"key": k, "value": value(v)} for k, v in attrs.items()]


def span(
    span_id: str,
    attrs: dict[str, Any],
    *,
    name: str = "chat gpt-4o",
    events: list[tuple[str, dict[str, Any]]] | None = None,
    trace_id: str = TRACE_ID,
) -> dict[str, Any]:
    return {
        "traceId": trace_id,
        "spanId": span_id,
        "name": name,
        "kind": 3,
        "startTimeUnixNano": str(START_NS),
        "endTimeUnixNano": str(END_NS),
        "attributes": attributes(attrs),
        "events": [
            {"timeUnixNano": str(END_NS), "name": n, "attributes": attributes(a)} for n, a in events or []
        ],
        "status": {},
    }


def request(*spans: dict[str, Any], service: str = "checkout") -> bytes:
    body = {
        "resourceSpans": [
            {
                "resource": {"attributes": attributes({"service.name": service})},
                "scopeSpans": [{"scope": {"name": "tests"}, "spans": list(spans)}],
            }
        ]
    }
    return json.dumps(body).encode()


def messages(*pairs: tuple[str, str]) -> str:
    """``gen_ai.input.messages`` as the JSON string instrumentations record: text parts only."""
    return json.dumps([{"role": r, "parts": [{"type": "text", "content": c}]} for r, c in pairs])
