"""``preflog spool replay`` and ``preflog spool status``: the SDK's disk spool, from a shell.

A client that could not deliver to the ingestion service (down, or the key refused) keeps the
events in its spool and replays them by itself; these commands do it by hand — after fixing a
key, from another machine's copy of a spool, or to see what waits. ``replay`` is one call of
:func:`preflog.sdk.replay.replay_spool`.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from preflog import config
from preflog.errors import ConfigError

if TYPE_CHECKING:
    from preflog.sdk.replay import ReplayReport

    _Subparsers = argparse._SubParsersAction[argparse.ArgumentParser]


def register(sub: _Subparsers) -> None:
    spool = sub.add_parser("spool", help="replay or inspect the SDK's disk spool")
    actions = spool.add_subparsers(dest="spool_command", metavar="ACTION")
    actions.required = True
    replay = actions.add_parser("replay", help="deliver the spooled events now", description=_replay.__doc__)
    _add_location(replay)
    replay.add_argument("--api-key", default=None, help="the key to send with (env PREFLOG_API_KEY)")
    replay.add_argument("--format", choices=["text", "json"], default="text")
    replay.set_defaults(handler=_replay)
    status = actions.add_parser("status", help="count the spooled events", description=_status.__doc__)
    _add_location(status)
    status.add_argument("--format", choices=["text", "json"], default="text")
    status.set_defaults(handler=_status)


def _add_location(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--url", default=None, help="the ingestion service (env PREFLOG_URL)")
    parser.add_argument(
        "--project",
        metavar="NAME",
        default=argparse.SUPPRESS,  # fills the same `project` as the global option
        help="the project whose spool it is (as the global --project)",
    )
    parser.add_argument(
        "--spool-dir",
        default=None,
        metavar="DIR",
        help="the spool directory itself (env PREFLOG_SPOOL_DIR_EXACT; default: the one a client "
        "for --url and --project uses, under PREFLOG_SPOOL_DIR or ~/.cache/preflog/spool)",
    )


def _location(args: argparse.Namespace, *, need_url: bool) -> tuple[str | None, str, str]:
    from preflog.sdk.client import spool_location

    url = args.url or config.get("PREFLOG_URL")
    project = args.project
    if url is None and (need_url or not args.spool_dir):
        raise ConfigError("--url: give the ingestion service's URL (or set PREFLOG_URL)")
    directory = args.spool_dir or str(spool_location(url or "", project))
    return url, project, directory


def _replay(args: argparse.Namespace) -> int:
    """Deliver the events waiting in the spool of --url and --project (or in --spool-dir) with
    --api-key, oldest first. A segment of the spool is deleted only once every event in it was
    answered (stored, duplicate, or rejected with a reason, which is printed); events refused
    for the key stay. Exit 0 when the spool is empty afterwards, 1 when events are left."""
    from preflog.sdk.http import HTTPTransport
    from preflog.sdk.replay import replay_spool
    from preflog.sdk.spool import DiskSpool

    url, project, directory = _location(args, need_url=True)
    assert url is not None
    if not Path(directory).is_dir():
        print(f"no spool at {directory}: nothing to replay")
        return 0
    key = args.api_key or config.get("PREFLOG_API_KEY")
    transport = HTTPTransport(url, api_key=key, project=project, spool=False)
    try:
        report = replay_spool(DiskSpool(directory), transport, project)
    finally:
        transport.close()
    _print(report, args.format)
    return 0 if report.pending == 0 else 1


def _status(args: argparse.Namespace) -> int:
    """Count the events waiting in the spool of --url and --project (or in --spool-dir). Reads
    the files only: nothing is sent."""
    from preflog.sdk.spool import DiskSpool

    _, _, directory = _location(args, need_url=False)
    pending = DiskSpool(directory).pending() if Path(directory).is_dir() else 0
    if args.format == "json":
        print(json.dumps({"directory": directory, "pending": pending}))
    else:
        print(f"{pending} events in {directory}")
    return 0


def _print(report: ReplayReport, fmt: str) -> None:
    if fmt == "json":
        print(json.dumps(report._asdict()))
        return
    print(
        f"replayed {report.replayed} events from {report.directory} ({report.rejected} rejected); "
        f"{report.pending} still in the spool"
    )
    if report.error is not None:
        print(f"preflog: error: the replay stopped: {report.error}", file=sys.stderr)
