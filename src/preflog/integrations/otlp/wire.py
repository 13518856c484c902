"""OTLP trace requests (``ExportTraceServiceRequest``) as plain Python: :class:`Span` records.

Two encodings, one result:

* **protobuf** (``application/x-protobuf``), decoded with the official ``opentelemetry-proto``
  classes, imported on first use;
* **JSON** (``application/json``), the OTLP/JSON mapping: lowerCamelCase keys (snake_case accepted
  too), trace and span ids as hex strings (base64 accepted, as some encoders write the proto3
  default), 64-bit integers as strings or numbers, ``AnyValue`` as ``{"stringValue": ...}`` and
  friends.

Attribute values become Python values: strings, booleans, ints, floats, bytes, lists and dicts
(``kvlistValue``). A body that is not a trace request raises :class:`OtlpDecodeError` with the
path of the first problem; nothing of it is kept.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from preflog.errors import ConfigError

PROTOBUF_TYPES: Final = frozenset({"application/x-protobuf", "application/protobuf"})
JSON_TYPE: Final = "application/json"


class OtlpDecodeError(ValueError):
    """The body is not an OTLP trace request in the encoding it claims."""


@dataclass(frozen=True)
class SpanEvent:
    name: str
    time_unix_nano: int
    attributes: dict[str, Any]


@dataclass(frozen=True)
class Span:
    """One span with what preflog reads of it. Ids are lowercase hex (32 and 16 digits)."""

    trace_id: str
    span_id: str
    parent_span_id: str
    name: str
    start_time_unix_nano: int
    end_time_unix_nano: int
    attributes: dict[str, Any]
    events: tuple[SpanEvent, ...] = ()
    resource: Mapping[str, Any] = field(default_factory=dict)
    scope: str = ""


# ---------------------------------------------------------------------------------------------- protobuf


def _proto_value(value: Any) -> Any:
    kind = value.WhichOneof("value")
    if kind is None:
        return None
    if kind == "array_value":
        return [_proto_value(v) for v in value.array_value.values]
    if kind == "kvlist_value":
        return {kv.key: _proto_value(kv.value) for kv in value.kvlist_value.values}
    return getattr(value, kind)


def _proto_attributes(items: Any) -> dict[str, Any]:
    return {kv.key: _proto_value(kv.value) for kv in items}


def decode_protobuf(body: bytes) -> list[Span]:
    """The spans of a protobuf ``ExportTraceServiceRequest``."""
    try:
        from google.protobuf.message import DecodeError
        from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
    except ImportError as exc:  # the server extra installs it; a hand-made environment may not
        hint = "pip install 'preflog[server]'"
        raise ConfigError(f"OTLP protobuf needs opentelemetry-proto: {hint} ({exc})") from None
    try:
        request = ExportTraceServiceRequest.FromString(body)
    except DecodeError as exc:
        raise OtlpDecodeError(f"not a protobuf ExportTraceServiceRequest: {exc}") from None
    spans: list[Span] = []
    for resource_spans in request.resource_spans:
        resource = _proto_attributes(resource_spans.resource.attributes)
        for scope_spans in resource_spans.scope_spans:
            for s in scope_spans.spans:
                spans.append(
                    Span(
                        trace_id=s.trace_id.hex(),
                        span_id=s.span_id.hex(),
                        parent_span_id=s.parent_span_id.hex(),
                        name=s.name,
                        start_time_unix_nano=s.start_time_unix_nano,
                        end_time_unix_nano=s.end_time_unix_nano,
                        attributes=_proto_attributes(s.attributes),
                        events=tuple(
                            SpanEvent(e.name, e.time_unix_nano, _proto_attributes(e.attributes))
                            for e in s.events
                        ),
                        resource=resource,
                        scope=scope_spans.scope.name,
                    )
                )
    return spans


# ---------------------------------------------------------------------------------------------- JSON


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def _get(obj: Mapping[str, Any], name: str, default: Any = None) -> Any:
    """``obj[name]`` by its lowerCamelCase or its snake_case key (receivers accept both)."""
    camel = _camel(name)
    if camel in obj:
        return obj[camel]
    return obj.get(name, default)


def _object(value: Any, path: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise OtlpDecodeError(f"{path}: must be an object")
    return value


def _list(obj: Mapping[str, Any], name: str, path: str) -> list[Any]:
    value = _get(obj, name, [])
    if value is None:
        return []
    if not isinstance(value, list):
        raise OtlpDecodeError(f"{path}.{_camel(name)}: must be a list")
    return value


def _int64(value: Any, path: str) -> int:
    if value is None or value == "":
        return 0
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise OtlpDecodeError(f"{path}: must be an integer (or its decimal string)")
    try:
        return int(value)
    except ValueError:
        raise OtlpDecodeError(f"{path}: must be an integer (or its decimal string)") from None


def _id(value: Any, size: int, path: str) -> str:
    """A trace (16 bytes) or span (8 bytes) id as lowercase hex: OTLP/JSON writes hex; a proto3
    JSON encoder writes base64, which is accepted when it decodes to the right length."""
    if value is None or value == "":
        return ""
    if not isinstance(value, str):
        raise OtlpDecodeError(f"{path}: must be a hex string")
    if len(value) == 2 * size:
        try:
            return bytes.fromhex(value).hex()
        except ValueError:
            pass
    try:
        raw = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raw = b""
    if len(raw) != size:
        raise OtlpDecodeError(f"{path}: must be {2 * size} hex digits")
    return raw.hex()


_SCALARS: Final = (("stringValue", str), ("boolValue", bool), ("doubleValue", float))


def _json_value(value: Any, path: str) -> Any:
    if not isinstance(value, Mapping) or not value:
        return None
    for key, kind in _SCALARS:
        raw = _get(value, key)
        if raw is not None:
            if key == "doubleValue" and isinstance(raw, int | str) and not isinstance(raw, bool):
                return float(raw)  # an integral double, or "NaN"/"Infinity" as proto3 JSON writes them
            if not isinstance(raw, kind):
                raise OtlpDecodeError(f"{path}.{key}: must be a {kind.__name__}")
            return raw
    if (raw := _get(value, "intValue")) is not None:
        return _int64(raw, f"{path}.intValue")
    if (raw := _get(value, "bytesValue")) is not None:
        try:
            return base64.b64decode(raw)
        except (binascii.Error, ValueError, TypeError):
            raise OtlpDecodeError(f"{path}.bytesValue: must be base64") from None
    if (raw := _get(value, "arrayValue")) is not None:
        items = _list(_object(raw, f"{path}.arrayValue"), "values", f"{path}.arrayValue")
        return [_json_value(v, f"{path}.arrayValue.values[{i}]") for i, v in enumerate(items)]
    if (raw := _get(value, "kvlistValue")) is not None:
        return _json_attributes(_list(_object(raw, f"{path}.kvlistValue"), "values", path), path)
    return None


def _json_attributes(items: list[Any], path: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for i, kv in enumerate(items):
        where = f"{path}[{i}]"
        kv = _object(kv, where)
        key = kv.get("key")
        if not isinstance(key, str):
            raise OtlpDecodeError(f"{where}.key: must be a string")
        out[key] = _json_value(kv.get("value"), f"{where}.value")
    return out


def _json_span(raw: Any, path: str, resource: Mapping[str, Any], scope: str) -> Span:
    s = _object(raw, path)
    events = []
    for i, event in enumerate(_list(s, "events", path)):
        where = f"{path}.events[{i}]"
        event = _object(event, where)
        events.append(
            SpanEvent(
                name=str(event.get("name") or ""),
                time_unix_nano=_int64(_get(event, "time_unix_nano"), where + ".timeUnixNano"),
                attributes=_json_attributes(_list(event, "attributes", where), where + ".attributes"),
            )
        )
    return Span(
        trace_id=_id(_get(s, "trace_id"), 16, path + ".traceId"),
        span_id=_id(_get(s, "span_id"), 8, path + ".spanId"),
        parent_span_id=_id(_get(s, "parent_span_id"), 8, path + ".parentSpanId"),
        name=str(s.get("name") or ""),
        start_time_unix_nano=_int64(_get(s, "start_time_unix_nano"), path + ".startTimeUnixNano"),
        end_time_unix_nano=_int64(_get(s, "end_time_unix_nano"), path + ".endTimeUnixNano"),
        attributes=_json_attributes(_list(s, "attributes", path), path + ".attributes"),
        events=tuple(events),
        resource=resource,
        scope=scope,
    )


def decode_json(body: bytes) -> list[Span]:
    """The spans of an OTLP/JSON ``ExportTraceServiceRequest``."""
    try:
        request = json.loads(body)
    except (ValueError, RecursionError) as exc:
        raise OtlpDecodeError(f"not JSON: {exc}") from None
    request = _object(request, "body")
    spans: list[Span] = []
    for i, rs in enumerate(_list(request, "resource_spans", "body")):
        where = f"resourceSpans[{i}]"
        rs = _object(rs, where)
        res = _object(_get(rs, "resource", {}) or {}, where + ".resource")
        resource = _json_attributes(_list(res, "attributes", where), where + ".resource.attributes")
        for j, ss in enumerate(_list(rs, "scope_spans", where)):
            swhere = f"{where}.scopeSpans[{j}]"
            ss = _object(ss, swhere)
            scope = _object(_get(ss, "scope", {}) or {}, swhere + ".scope").get("name") or ""
            for k, raw in enumerate(_list(ss, "spans", swhere)):
                spans.append(_json_span(raw, f"{swhere}.spans[{k}]", resource, str(scope)))
    return spans


def decode_request(body: bytes, content_type: str) -> list[Span]:
    """The spans of a trace request in ``content_type`` (protobuf or JSON)."""
    if content_type in PROTOBUF_TYPES:
        return decode_protobuf(body)
    if content_type == JSON_TYPE:
        return decode_json(body)
    raise OtlpDecodeError(f"Content-Type {content_type!r}: send application/x-protobuf or application/json")
