"""preflog.jsonread.loads reads JSON text exactly as json.loads does (orjson where it may): the
integers orjson would turn into floats (beyond 64 bits, either sign) stay integers."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from preflog.jsonread import loads

EDGES = [
    2**64,  # 20 digits: orjson reads 1.8446744073709552e+19
    2**64 - 1,  # the largest orjson keeps
    -(2**63) - 1,  # 19 digits and negative: orjson reads -9.223372036854776e+18
    -(2**63),
    2**63,
    10**30,
    -(10**25),
]


@pytest.mark.parametrize("number", EDGES)
def test_integers_at_and_beyond_64_bits_stay_integers(number: int) -> None:
    text = json.dumps({"metadata": {"seed": number, "nested": [number, {"n": number}]}})
    for data in (text, text.encode()):
        value = loads(data)
        assert value["metadata"]["seed"] == number and isinstance(value["metadata"]["seed"], int)
        assert repr(value) == repr(json.loads(text))


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**40), max_value=10**40)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=20,
)


@given(json_values)
def test_any_json_reads_as_json_loads_reads_it(value: Any) -> None:
    for text in (json.dumps(value), json.dumps(value, ensure_ascii=False)):
        # repr tells an int from a float (1e+29 against 100...0) and -0.0 from 0.0
        assert repr(loads(text)) == repr(json.loads(text))
        try:
            data = text.encode("utf-8")
        except UnicodeEncodeError:  # a lone surrogate kept by ensure_ascii=False
            continue
        assert repr(loads(data)) == repr(json.loads(data))


@pytest.mark.parametrize("text", ["{", '{"a": }', "[1, 2", b"\xff"])
def test_errors_are_the_standard_librarys(text: str | bytes) -> None:
    with pytest.raises(ValueError) as ours:
        loads(text)
    with pytest.raises(ValueError) as theirs:
        json.loads(text)
    assert type(ours.value) is type(theirs.value) and str(ours.value) == str(theirs.value)
