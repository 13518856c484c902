"""The runnable examples in the docstrings of the CLI's edge, the progress seam, NDJSON parsing and
the arena's candidate choice."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = ("preflog.cli.common", "preflog.progress", "preflog.ndjson", "preflog.server.ui.index")


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str) -> None:
    result = doctest.testmod(importlib.import_module(name))
    assert result.attempted > 0 and result.failed == 0
