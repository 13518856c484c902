from __future__ import annotations

import pytest

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
