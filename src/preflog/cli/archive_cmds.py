"""``preflog archive``: a thin shell over :func:`preflog.archive.archive_events`.

The S3 endpoint and credentials come from ``--s3-*``, else the standard AWS variables
(``AWS_ENDPOINT_URL``, ``AWS_ACCESS_KEY_ID``, ``AWS_SECRET_ACCESS_KEY``, ``AWS_REGION``), read
here at the edge and passed down as :class:`preflog.archive.S3Options`.
"""

from __future__ import annotations

import argparse
import json
import os
from typing import TYPE_CHECKING, Any

from preflog.cli.common import open_store_for, require_events

if TYPE_CHECKING:
    from preflog.archive import S3Options

    _Subparsers = argparse._SubParsersAction[argparse.ArgumentParser]


def register(sub: _Subparsers) -> None:
    archive = sub.add_parser(
        "archive",
        help="write a project's events to a Parquet archive (local or s3://)",
        description=_archive.__doc__,
    )
    archive.add_argument("--out", required=True, metavar="URI", help="a directory or s3://bucket/prefix")
    add_s3_options(archive)
    archive.add_argument(
        "--workers",
        type=int,
        metavar="N",
        help="processes writing files at once (default: one per core; 1: this process alone)",
    )
    archive.add_argument("--format", choices=["text", "json"], default="text")
    archive.set_defaults(handler=_archive)


def add_s3_options(parser: argparse._ActionsContainer) -> None:
    """``--s3-endpoint``, ``--s3-access-key``, ``--s3-secret-key``, ``--s3-region`` (archive, compile...)."""
    parser.add_argument("--s3-endpoint", metavar="URL", help="S3 endpoint (default: $AWS_ENDPOINT_URL)")
    parser.add_argument("--s3-access-key", metavar="KEY", help="S3 access key (default: $AWS_ACCESS_KEY_ID)")
    parser.add_argument(
        "--s3-secret-key", metavar="KEY", help="S3 secret key (default: $AWS_SECRET_ACCESS_KEY)"
    )
    parser.add_argument("--s3-region", metavar="REGION", help="S3 region (default: $AWS_REGION)")


def s3_options(args: argparse.Namespace) -> S3Options:
    """The S3 options of the command line, each falling back on its AWS variable."""
    from preflog.archive import S3Options

    def pick(option: Any, variable: str) -> str | None:
        return option or os.environ.get(variable) or None

    return S3Options(
        endpoint=pick(args.s3_endpoint, "AWS_ENDPOINT_URL"),
        access_key=pick(args.s3_access_key, "AWS_ACCESS_KEY_ID"),
        secret_key=pick(args.s3_secret_key, "AWS_SECRET_ACCESS_KEY"),
        region=pick(args.s3_region, "AWS_REGION"),
    )


def _archive(args: argparse.Namespace) -> int:
    """Bring the Parquet archive at --out up to date with --project's events: only the events after
    the archive's watermark are written (project=P/day=YYYY-MM-DD/part-<first>-<last>.parquet, the
    day of occurred_at in UTC), and the files holding requests or users erased since are rewritten
    blanked. A rerun after a crash writes the same files again; none is ever partial or doubled."""
    from preflog.archive import archive_events

    store = open_store_for(args, create=False)
    try:
        require_events(store, args.project)
        report = archive_events(
            store, project=args.project, out=args.out, s3=s3_options(args), workers=args.workers
        )
    finally:
        store.close()
    if args.format == "json":
        print(json.dumps(report.to_dict(), indent=2))
        return 0
    print(
        f"archived {report.events} event(s) of project {args.project!r} to {args.out} "
        f"(positions {report.previous + 1}..{report.watermark}): "
        f"{len(report.files_written)} file(s) written, "
        f"{len(report.files_rewritten)} rewritten for erasures"
    )
    return 0
