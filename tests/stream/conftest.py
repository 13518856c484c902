from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.stream.broker import Broker


@pytest.fixture
def broker() -> Iterator[Broker]:
    started = Broker()
    started.start()
    yield started
    started.stop()
