"""The runnable examples in the compile and TRL format docstrings."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = ("preflog.records", "preflog.compile.judgments", "preflog.formats.trl")


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str) -> None:
    result = doctest.testmod(importlib.import_module(name))
    assert result.attempted > 0 and result.failed == 0
