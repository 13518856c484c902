"""JSONL lines are the same bytes whether or not orjson is installed: ``json_line`` uses orjson only
for rows it writes exactly as the standard library does."""

from __future__ import annotations

import doctest
import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import preflog.formats.base as base
from preflog.formats.base import json_line

STDLIB = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False)

scalars = (
    st.text() | st.booleans() | st.none() | st.integers() | st.floats(allow_nan=False, allow_infinity=False)
)
values = st.recursive(
    scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4)
)
rows = st.dictionaries(st.text(), values, max_size=6)


@settings(max_examples=500, deadline=None)
@given(rows)
def test_json_line_is_the_stdlib_encoding(row: dict[str, Any]) -> None:
    try:
        expected = (STDLIB.encode(row) + "\n").encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate: an error either way
        with pytest.raises(UnicodeEncodeError):
            json_line(row)
        return
    assert json_line(row) == expected


def test_floats_take_the_stdlib_path() -> None:
    assert json_line({"margin": 1e-06, "big": 1e16}) == b'{"margin":1e-06,"big":1e+16}\n'
    assert json_line({"n": 2**70}) == b'{"n":1180591620717411303424}\n'


def test_doctests() -> None:
    assert doctest.testmod(base).failed == 0
