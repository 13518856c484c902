"""``--engine spark`` on an ``s3://`` archive: refused in one clear error before any Spark starts
(Spark reads object storage through ``s3a://`` and hadoop-aws, which only a cluster provides here;
docs/scaling.md, "Spark"). The archive is a real one, on moto's S3 server on loopback."""

from __future__ import annotations

import pytest
from pyarrow import fs as pafs

from preflog.archive import S3Options, archive_events
from preflog.engines import compile_source
from preflog.errors import ConfigError
from preflog.store import Store
from tests.archive import conftest as archive

# the archive tests' fixtures, used here by name: a store with a few days of events, moto's S3
filled, store, moto_s3 = archive.filled, archive.store, archive.moto_s3


def test_the_spark_engine_refuses_an_s3_archive_and_names_what_reads_it(
    request: pytest.FixtureRequest,
) -> None:
    events: Store = request.getfixturevalue("filled")
    s3: S3Options = request.getfixturevalue("moto_s3")
    host = str(s3.endpoint).removeprefix("http://")
    admin = pafs.S3FileSystem(
        endpoint_override=host,
        scheme="http",
        access_key="test",
        secret_key="test",
        allow_bucket_creation=True,
    )
    admin.create_dir("spark-refused")
    uri = "s3://spark-refused/events"
    archive_events(events, project=archive.PROJECT, out=uri, s3=s3)
    with pytest.raises(ConfigError) as refused:
        compile_source(events, project=archive.PROJECT, engine="spark", from_archive=uri, s3=s3)
    message = str(refused.value)
    assert message.startswith("from_archive: the spark engine reads local archives here")
    assert "s3a://" in message and "hadoop-aws" in message and "--engine duckdb" in message
    duck = compile_source(events, project=archive.PROJECT, engine="duckdb", from_archive=uri, s3=s3)
    assert duck.last_position(project=archive.PROJECT) == events.last_position(project=archive.PROJECT)
