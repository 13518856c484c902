from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.stream.broker import Broker


@pytest.fixture
def broker() -> Iterator[Broker]:
    started = Broker()
    started.start()
    yield started
    started.close()


@pytest.fixture
def durable_broker() -> Iterator[Broker]:
    """A broker whose storage outlives it (S3 on loopback): killed and restarted, it keeps its data."""
    started = Broker(durable=True)
    started.start()
    yield started
    started.close()
