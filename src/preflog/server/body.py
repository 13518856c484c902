"""Request bodies: read with a size cap while streaming (gzip included), parse JSON or NDJSON.

Nothing is buffered past ``max_bytes``: the declared ``Content-Length`` is checked first, then the
bytes as they arrive, then the bytes gzip produces (so a small "zip bomb" cannot expand unbounded).
"""

from __future__ import annotations

import json
import zlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any, Final

from starlette.requests import Request

from preflog.jsonread import loads
from preflog.ndjson import json_error
from preflog.server.api_errors import ApiError

NDJSON_TYPES: Final = frozenset({"application/x-ndjson", "application/ndjson", "application/jsonl"})
JSON_TYPES: Final = frozenset({"application/json", ""})
UTF8_BOM: Final = b"\xef\xbb\xbf"


def _too_large(what: str, max_bytes: int) -> ApiError:
    return ApiError(
        413,
        "payload_too_large",
        f"{what} is larger than max_body_bytes ({max_bytes} bytes)",
        limit="max_body_bytes",
    )


async def _decode_gzip(chunks: AsyncIterator[bytes], max_bytes: int) -> bytes:
    decoder = zlib.decompressobj(16 + zlib.MAX_WBITS)
    out = bytearray()
    try:
        async for chunk in chunks:
            if not chunk:
                continue
            room = max_bytes - len(out)
            out += decoder.decompress(chunk, room + 1)
            if len(out) > max_bytes or decoder.unconsumed_tail:
                raise _too_large("the decompressed body", max_bytes)
        out += decoder.flush()
    except zlib.error as exc:
        raise ApiError(400, "invalid_gzip", f"the body is not valid gzip: {exc}") from None
    if not decoder.eof:
        raise ApiError(400, "invalid_gzip", "the gzip body is truncated")
    if len(out) > max_bytes:
        raise _too_large("the decompressed body", max_bytes)
    return bytes(out)


async def _capped(request: Request, max_bytes: int) -> AsyncIterator[bytes]:
    seen = 0
    async for chunk in request.stream():
        seen += len(chunk)
        if seen > max_bytes:
            raise _too_large("the request body", max_bytes)
        yield chunk


async def read_body(request: Request, max_bytes: int) -> bytes:
    """The request body, decompressed, at most ``max_bytes`` (413 naming ``max_body_bytes`` if larger)."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > max_bytes:
        raise _too_large("the request body", max_bytes)
    encoding = request.headers.get("content-encoding", "identity").strip().lower()
    if encoding == "gzip":
        return await _decode_gzip(_capped(request, max_bytes), max_bytes)
    if encoding not in ("identity", ""):
        raise ApiError(415, "unsupported_encoding", f"Content-Encoding {encoding!r}: use gzip or none")
    parts = [chunk async for chunk in _capped(request, max_bytes)]
    return b"".join(parts)


def media_type(request: Request) -> str:
    return request.headers.get("content-type", "").split(";", 1)[0].strip().lower()


@dataclass(slots=True)
class Item:
    """One event of a batch as parsed: ``value``, or ``error`` when its NDJSON line is not JSON.
    ``index`` counts events from 0; ``line`` is the 1-based NDJSON line number."""

    index: int
    value: Any = None
    line: int | None = None
    error: str | None = None


def _loads(data: bytes) -> Any:
    """Parse as the standard library does (:func:`preflog.jsonread.loads`: orjson where its answer
    is the same, several times faster): it reads integers beyond 64 bits (kept exact), ``NaN`` and
    lone surrogates, and the event checks then name the field, so a batch is not refused whole for
    one odd value. Its messages, worded by :func:`preflog.ndjson.json_error` as ``preflog log``
    words them, are the ones users see."""
    try:
        return loads(data)
    except json.JSONDecodeError as exc:
        raise ValueError(json_error(exc)) from None
    except UnicodeDecodeError as exc:
        raise ValueError(f"not UTF-8 (byte {exc.start + 1})") from None
    except RecursionError:
        raise ValueError("nested too deeply") from None


def parse_ndjson(body: bytes) -> list[Item]:
    items: list[Item] = []
    for number, raw in enumerate(body.split(b"\n"), start=1):
        if not raw.strip():
            continue
        index = len(items)
        try:
            items.append(Item(index, _loads(raw), line=number))
        except ValueError as exc:
            items.append(Item(index, line=number, error=f"invalid JSON: {exc}"))
    return items


def parse_json(body: bytes) -> list[Item]:
    """A JSON array of events, or a single event object (a batch of one)."""
    try:
        value = _loads(body)
    except ValueError as exc:
        raise ApiError(400, "invalid_json", f"the body is not valid JSON: {exc}") from None
    if isinstance(value, dict):
        value = [value]
    if not isinstance(value, list):
        raise ApiError(400, "invalid_json", "the body must be a JSON array of events (or one event object)")
    return [Item(i, v) for i, v in enumerate(value)]


def parse_batch(body: bytes, content_type: str, max_events: int) -> list[Item]:
    body = body.removeprefix(UTF8_BOM)  # editors on Windows start files with one
    if content_type in NDJSON_TYPES:
        items = parse_ndjson(body)
    elif content_type in JSON_TYPES:
        items = parse_json(body)
    else:
        raise ApiError(
            415,
            "unsupported_media_type",
            f"Content-Type {content_type!r}: send application/json or application/x-ndjson",
        )
    if len(items) > max_events:
        raise ApiError(
            413,
            "too_many_events",
            f"{len(items)} events in one request; max_batch_events is {max_events}",
            limit="max_batch_events",
        )
    return items
