"""``preflog consume``: read the stream ``serve --stream`` (or a ``kafka://`` client) writes into
the store of ``--db``. Run several with the same ``--group``: the topic's partitions are shared
among them, and a member that dies has its partitions moved to the others."""

from __future__ import annotations

import argparse
import signal
import sys
from typing import Any

from preflog.cli.archive_cmds import add_s3_options, s3_options
from preflog.cli.common import open_store_for
from preflog.errors import ConfigError


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
    consume.add_argument(
        "--archive",
        metavar="URI",
        help="also keep the Parquet archive at URI (a directory or s3://bucket/prefix) up to date",
    )
    consume.add_argument(
        "--archive-every",
        type=float,
        default=300.0,
        metavar="SECONDS",
        help="archive at most this often, after a commit (default: 300)",
    )
    add_s3_options(consume)
    consume.add_argument("--format", choices=["text", "json"], default="text")
    consume.set_defaults(handler=_consume)


def _consume(args: argparse.Namespace) -> int:
    """Append the stream's events into the store (a redelivered event is a duplicate, so a restart
    is harmless), committing offsets only after the store has the events. With --archive, the
    member holding partition 0 also brings the Parquet archive of every project up to date from
    the store, after a commit at most every --archive-every seconds and when it stops. SIGTERM or
    SIGINT finishes the batch in hand, commits it and prints a summary."""
    from preflog.stream.url import parse_stream_url

    url = parse_stream_url(args.stream)  # a bad URL is one line, before the store is opened
    if args.archive_every <= 0:
        raise ConfigError(f"--archive-every must be more than 0 seconds, got {args.archive_every:g}")
    from preflog.stream.archiver import StreamArchiver
    from preflog.stream.consumer import StreamConsumer
    from preflog.stream.producer import ensure_topic

    store = open_store_for(args, create=True)
    archiver = None
    try:
        ensure_topic(url)
        if args.archive:
            archiver = StreamArchiver(
                store, out=args.archive, s3=s3_options(args), interval=args.archive_every
            )
        consumer = StreamConsumer(
            url, store, group=args.group, archiver=archiver, on_assign=_print_assignment
        )
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: consumer.stop())
        print(f"consuming {url} as group {args.group!r} into {args.db}", file=sys.stderr, flush=True)
        summary = consumer.run(idle_exit_s=args.idle_exit)
    finally:
        store.close()
    if args.format == "json":
        import json

        archived = None if archiver is None else archiver.counts.__dict__
        print(json.dumps({**summary.__dict__, "partitions": sorted(summary.partitions), "archive": archived}))
    else:
        print(summary.line())
        if archiver is not None:
            print(archiver.counts.line())
    return 0


def _print_assignment(partitions: list[int]) -> None:
    # one line per (re)assignment: an operator sees a rebalance, a test sees the group settle
    print(f"assigned partitions {sorted(partitions)}", file=sys.stderr, flush=True)
