"""The consumer pauses the cyclic garbage collector for one batch only: it is on again after the
batch, also when the batch raised, and a host that turned it off finds it off."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from preflog.stream.consumer import _collector_paused


@pytest.fixture(autouse=True)
def collector_restored() -> Iterator[None]:
    was = gc.isenabled()
    yield
    if was:
        gc.enable()
    else:
        gc.disable()


def test_off_during_the_batch_and_on_after_it_even_when_it_raised() -> None:
    gc.enable()
    with _collector_paused():
        assert not gc.isenabled()
    assert gc.isenabled()
    with pytest.raises(RuntimeError), _collector_paused():
        raise RuntimeError("the store failed")
    assert gc.isenabled()


def test_a_host_that_turned_it_off_finds_it_off() -> None:
    gc.disable()
    with _collector_paused():
        assert not gc.isenabled()
    assert not gc.isenabled()
