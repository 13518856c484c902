"""The consumer's message decoding: orjson where it reads the message, and then exactly what
``json.loads`` would give; the standard library for what orjson refuses; None for what is no
event at all (counted ``rejected`` by the consumer, never retried)."""

from __future__ import annotations

import json

import pytest

from preflog.stream.consumer import _decode
from tests import factories


@pytest.mark.parametrize(
    "value",
    [
        json.dumps(factories.inference(), ensure_ascii=False).encode(),
        '{"text": "é ✓ 😀", "n": -0.0, "f": 1e-7, "i": 9007199254740993}'.encode(),
        b'{"big": 123456789012345678901234567890}',  # beyond 64 bits: orjson reads a float
        b'{"big": -18446744073709551617, "id": "12345678901234567890123"}',
        b'{"low": -9223372036854775809}',  # 19 digits below -2**63: orjson reads a float
        b'{"x": NaN, "y": Infinity}',  # not JSON, but json reads it and the checks name the field
        b'{"s": "\\ud800"}',  # a lone surrogate: orjson refuses, json reads
        b'{"k": 1, "k": 2}',  # the last one wins in both
    ],
)
def test_an_event_decodes_as_json_loads_reads_it(value: bytes) -> None:
    decoded = _decode(value)
    assert decoded is not None
    assert repr(decoded) == repr(json.loads(value))  # repr: NaN != NaN, -0.0 == 0.0


@pytest.mark.parametrize(
    "value", [None, b"", b"not json", b"[1, 2]", b'"text"', b"\xff\xfe{}", b"[" * 100_000]
)
def test_what_is_no_event_decodes_to_none(value: bytes | None) -> None:
    assert _decode(value) is None
