from __future__ import annotations

from pathlib import Path

import pytest

from preflog.errors import ConfigError
from preflog.stream.url import DEFAULT_PARTITIONS, StreamURLError, parse_stream_url


def test_a_url_gives_brokers_topic_and_partitions() -> None:
    url = parse_stream_url("kafka://10.0.0.1:9092,10.0.0.2:9093/events?partitions=24&replication=3")
    assert (url.bootstrap, url.topic, url.partitions, url.replication) == (
        "10.0.0.1:9092,10.0.0.2:9093",
        "events",
        24,
        3,
    )
    assert parse_stream_url("kafka://h:1/t").partitions == DEFAULT_PARTITIONS


@pytest.mark.parametrize(
    ("url", "names"),
    [
        ("http://h:1/t", "kafka://"),
        ("kafka:///t", "HOST:PORT"),
        ("kafka://h/t", "needs HOST:PORT"),
        ("kafka://h:x/t", "port"),
        ("kafka://h:70000/t", "65535"),
        ("kafka://h:1/", "one topic"),
        ("kafka://h:1/a/b", "one topic"),
        ("kafka://h:1/t?partitions=0", "partitions must be at least 1"),
        ("kafka://h:1/t?partitions=many", "partitions must be a whole number"),
        ("kafka://h:1/t?acks=1", "unknown option 'acks'"),
    ],
)
def test_a_bad_url_is_refused_naming_the_part(url: str, names: str) -> None:
    with pytest.raises(StreamURLError, match=names):
        parse_stream_url(url)


def test_a_kafka_client_with_a_bad_url_is_refused_naming_the_part(tmp_path: Path) -> None:
    import preflog

    with pytest.raises(ConfigError, match="one topic"):
        preflog.Client(url="kafka://127.0.0.1:9092/", project="p", spool_dir=tmp_path)


def test_a_kafka_client_is_made_before_its_broker_answers(tmp_path: Path) -> None:
    # nothing listens on port 9: the client is made, and the first batch goes to the spool
    import preflog
    from preflog.sdk.kafka import KafkaTransport

    transport = KafkaTransport("kafka://127.0.0.1:9/t", project="p", timeout=1.0, spool_dir=tmp_path)
    client = preflog.Client(project="p", transport=transport, max_retries=0)
    client.log_inference("q", ["a"], model="m")
    assert client.flush(timeout=30)
    assert client.stats().spooled == 1
    client.close(timeout=1)
