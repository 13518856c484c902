"""Archive fixtures: a SQLite store with a few days of events, and an archive target on a local
directory or on S3 (moto's server on loopback, reached through pyarrow's S3 filesystem)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from preflog.archive import S3Options
from preflog.store import Store, open_store
from tests import factories as f
from tests.compile.helpers import append_all

PROJECT = "chat"


def day_events(n: int, *, day: int, user: str = "u1", tag: str = "") -> list[dict[str, Any]]:
    """``n`` requests on 2026-11-<day>, each an inference (occurred just before midnight UTC in
    +02:00, so the day is the UTC one) and a preference."""
    out: list[dict[str, Any]] = []
    for i in range(n):
        stamp = f"2026-11-{day:02d}T01:{i % 60:02d}:00+02:00"  # the day before, in UTC
        inf = f.inference(
            outputs=(f"answer A{tag}{day}-{i}", f"answer B{tag}{day}-{i}"),
            prompt=f"question {tag}{day}-{i}?",
            occurred_at=stamp,
            user_id=user,
        )
        out += [inf, f.preference(inf["request_id"], occurred_at=stamp)]
    return out


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    opened = open_store(str(tmp_path / "events.db"))
    yield opened
    opened.close()


@pytest.fixture
def filled(store: Store) -> Store:
    append_all(store, day_events(30, day=2) + day_events(20, day=3, user="u2"), PROJECT)
    return store


@pytest.fixture(scope="session")
def moto_s3() -> Iterator[S3Options]:
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    os.environ.setdefault("AWS_EC2_METADATA_DISABLED", "true")  # no metadata probe for credentials
    yield S3Options(
        endpoint=f"http://{host}:{port}", access_key="test", secret_key="test", region="us-east-1"
    )
    server.stop()


_BUCKETS = iter(range(1_000_000))


@pytest.fixture(params=["local", "s3"])
def target(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[str, S3Options | None]:
    """(uri, s3 options) of an empty archive location: a new directory, or a new bucket."""
    if request.param == "local":
        return str(tmp_path / "archive"), None
    options: S3Options = request.getfixturevalue("moto_s3")
    from pyarrow import fs as pafs

    bucket = f"archive-{next(_BUCKETS)}"
    host = str(options.endpoint).removeprefix("http://")
    admin = pafs.S3FileSystem(
        endpoint_override=host,
        scheme="http",
        access_key="test",
        secret_key="test",
        allow_bucket_creation=True,
    )
    admin.create_dir(bucket)
    return f"s3://{bucket}/events", options
