"""The examples in the SDK's docstrings run (and the modules that should have one do)."""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import preflog.sdk

MODULES = sorted(
    ["preflog.answers", "preflog.errors"]
    + [f"preflog.sdk.{m.name}" for m in pkgutil.iter_modules(preflog.sdk.__path__)]
)


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_run(name: str) -> None:
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS, report=True)
    assert result.failed == 0, f"{name}: {result.failed} of {result.attempted} examples failed"


def test_the_modules_users_read_first_have_examples() -> None:
    finder = doctest.DocTestFinder()
    with_examples = {
        name for name in MODULES if any(test.examples for test in finder.find(importlib.import_module(name)))
    }
    assert {"preflog.sdk.client", "preflog.sdk.retry", "preflog.sdk.asgi", "preflog.answers"} <= with_examples
