"""``preflog consume``: read the stream ``serve --stream`` (or a ``kafka://`` client) writes into
the store of ``--db``. Run several with the same ``--group``: the topic's partitions are shared
among them, and a member that dies has its partitions moved to the others."""

from __future__ import annotations

import argparse
import signal
import sys
from typing import Any

from preflog.cli.common import open_store_for


def register(sub: Any) -> None:
    consume = sub.add_parser(
        "consume", help="store the events of a kafka:// stream", description=_consume.__doc__
    )
    consume.add_argument("--stream", required=True, metavar="kafka://HOST:PORT/TOPIC")
    consume.add_argument("--group", required=True, help="the consumer group (same for every member)")
    consume.add_argument(
        "--idle-exit",
        type=float,
        default=None,
        metavar="SECONDS",
        help="stop once no event came for this long (default: run until SIGTERM/SIGINT)",
    )
    consume.add_argument("--format", choices=["text", "json"], default="text")
    consume.set_defaults(handler=_consume)


def _consume(args: argparse.Namespace) -> int:
    """Append the stream's events into the store (a redelivered event is a duplicate, so a restart
    is harmless), committing offsets only after the store has the events. SIGTERM or SIGINT
    finishes the batch in hand, commits it and prints a summary."""
    from preflog.stream.url import parse_stream_url

    url = parse_stream_url(args.stream)  # a bad URL is one line, before the store is opened
    from preflog.stream.consumer import StreamConsumer
    from preflog.stream.producer import ensure_topic

    store = open_store_for(args, create=True)
    try:
        ensure_topic(url)
        consumer = StreamConsumer(url, store, group=args.group)
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: consumer.stop())
        print(f"consuming {url} as group {args.group!r} into {args.db}", file=sys.stderr, flush=True)
        summary = consumer.run(idle_exit_s=args.idle_exit)
    finally:
        store.close()
    if args.format == "json":
        import json

        print(json.dumps({**summary.__dict__, "partitions": sorted(summary.partitions)}))
    else:
        print(summary.line())
    return 0
