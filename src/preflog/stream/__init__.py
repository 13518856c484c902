"""The Kafka-protocol stream between the ingestion service and the store (issue #14, item 3).

``preflog serve --stream kafka://HOST:PORT/TOPIC`` validates each event as the store would and
produces the valid ones to the topic (:class:`preflog.stream.producer.StreamSink`, which has the
store's ``append(events, *, project)`` signature); ``preflog consume`` reads them into the store
(:mod:`preflog.stream.consumer`). Only :mod:`preflog.stream.url` is light: the other modules
import ``confluent_kafka`` (the ``stream`` extra).
"""
