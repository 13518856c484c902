"""``preflog erase`` and ``preflog audit list``: thin shells over :mod:`preflog.erasure` and
:mod:`preflog.server.audit`. An erasure made here is written to the audit log (actor
``cli:<os user>``), as keys created and revoked by ``preflog keys`` are."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from preflog.cli.common import open_store_for

if TYPE_CHECKING:
    _Subparsers = argparse._SubParsersAction[argparse.ArgumentParser]


def register(sub: _Subparsers) -> None:
    erase = sub.add_parser(
        "erase",
        help="erase a request or a user (privacy) and list the datasets to rebuild",
        description=_erase.__doc__,
    )
    target = erase.add_mutually_exclusive_group(required=True)
    target.add_argument("--request", metavar="REQUEST_ID", help="erase this request's content")
    target.add_argument("--user", metavar="USER_ID", help="erase the content of every request of this user")
    erase.add_argument("--reason", default=None, help="why (kept with the erasure event)")
    erase.add_argument(
        "--manifests",
        nargs="+",
        metavar="DIR",
        default=[],
        type=Path,
        help="directories (or manifest.json files) of earlier compiles to check",
    )
    erase.add_argument(
        "--rewrite",
        nargs="+",
        metavar="DIR",
        default=[],
        type=Path,
        help="directories (or manifest.json files) of earlier compiles to rewrite without the erased "
        "requests' rows (manifest and card updated)",
    )
    erase.add_argument("--format", choices=["text", "json"], default="text")
    erase.set_defaults(handler=_erase)

    audit = sub.add_parser("audit", help="the audit log of admin actions")
    audit_sub = audit.add_subparsers(dest="audit_command", metavar="ACTION")
    audit_sub.required = True
    listing = audit_sub.add_parser("list", help="list admin actions, oldest first")
    listing.add_argument(
        "--project", metavar="NAME", default=argparse.SUPPRESS, help="only this project (default: every one)"
    )
    listing.add_argument("--action", default=None, help="only this action (key.create, erase.user...)")
    listing.add_argument("--after", type=int, default=0, help="only entries with a larger id")
    listing.add_argument("--limit", type=int, default=1000, help="at most this many entries (default 1000)")
    listing.add_argument("--format", choices=["table", "json"], default="table")
    listing.set_defaults(handler=_audit_list)


def _erase(args: argparse.Namespace) -> int:
    """Erase the content of one request (--request) or of every request of a user (--user) in
    --project: prompts, outputs, rationales and metadata are blanked in the store at once, and no
    later compile emits them. The erasure is written to the audit log. With --manifests, list the
    manifest.json files of earlier compiles that contain the erased requests: rebuild those. With
    --rewrite, rewrite those datasets in place: the erased requests' rows removed, manifest.json
    (new file hashes, the erasure recorded) and README.md updated."""
    from preflog.erasure import erase
    from preflog.server.audit import cli_actor, open_audit_log, record_erasure

    store = open_store_for(args, create=False)
    audit = open_audit_log(store)
    try:
        report = erase(
            store,
            project=args.project,
            request_id=args.request,
            user_id=args.user,
            reason=args.reason,
            manifests=args.manifests,
            rewrite=args.rewrite,
        )
        if report.status == "stored":
            event = {"event_id": report.event_id, "request_id": args.request, "user_id": args.user}
            record_erasure(audit, event, project=args.project, actor=cli_actor(), via="cli")
    finally:
        audit.close()
        store.close()
    if args.format == "json":
        print(json.dumps(report.to_dict(), indent=2))
        return 0
    what = f"request {args.request}" if args.request else f"user {args.user}"
    again = "" if report.status == "stored" else " (a duplicate of an earlier erasure)"
    print(
        f"erased {what} in project {args.project!r}{again}: {len(report.request_ids)} request(s), "
        f"{report.events_blanked} event(s) blanked"
    )
    rewritten = {r.path: r for r in report.rewritten}
    if args.manifests:
        print(f"datasets to rebuild: {len(report.manifests) - len(rewritten)}")
        for hit in report.manifests:
            if hit.path not in rewritten:
                print(f"  {hit.path}  ({_why(hit)})")
    if args.rewrite:
        print(f"datasets rewritten: {len(rewritten)}")
        for r in report.rewritten:
            gone = f", {len(r.files_removed)} file(s) removed" if r.files_removed else ""
            print(f"  {r.path}  ({r.removed} row(s) removed{gone})")
        if report.texts_unknown:
            print(
                f"  {report.texts_unknown} request(s) were erased before: their rows cannot be found "
                "by their texts any more; compile those datasets again"
            )
    return 0


def _why(hit: Any) -> str:
    if hit.reason == "listed":
        return f"lists {len(hit.request_ids)} erased request(s)"
    return f"compiled up to position {hit.watermark}, which includes {len(hit.request_ids)} erased request(s)"


def _audit_list(args: argparse.Namespace) -> int:
    from preflog.server.audit import open_audit_log

    store = open_store_for(args, create=False)
    audit = open_audit_log(store)
    try:
        project = args.project if args.project_given else None
        rows = audit.entries(project, after=args.after, limit=args.limit, action=args.action)
    finally:
        audit.close()
        store.close()
    if args.format == "json":
        print(json.dumps([e.to_dict() for e in rows], indent=2))
        return 0
    table = [("ID", "AT", "PROJECT", "ACTOR", "VIA", "ACTION", "TARGET")]
    table += [(str(e.id), e.at[:19], e.project, e.actor, e.via, e.action, e.target or "") for e in rows]
    widths = [max(len(r[i]) for r in table) for i in range(len(table[0]))]
    for row in table:
        sys.stdout.write("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() + "\n")
    return 0
