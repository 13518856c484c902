"""``preflog feedback origins add|list|remove``: the web origins allowed to send end-user feedback.

Each command is one call on the store's :class:`~preflog.server.feedback_origins.OriginStore` (the
admin API ``/v1/feedback-origins`` makes the same calls). ``POST /v1/feedback`` reads the origins
on every call, so a change takes effect at once in a running service.
"""

from __future__ import annotations

import argparse
import json
from typing import TYPE_CHECKING

from preflog.cli.common import open_store_for

if TYPE_CHECKING:
    _Subparsers = argparse._SubParsersAction[argparse.ArgumentParser]


def register(sub: _Subparsers) -> None:
    feedback = sub.add_parser(
        "feedback",
        help="browser feedback: the web origins allowed to send it",
        description="End-user feedback from product pages (docs/feedback.md): the origins (CORS) allowed to "
        "call POST /v1/feedback with a project's feedback tokens.",
    )
    groups = feedback.add_subparsers(dest="feedback_command", metavar="COMMAND")
    groups.required = True
    origins = groups.add_parser("origins", help="the origins allowed for a project")
    actions = origins.add_subparsers(dest="origins_command", metavar="ACTION")
    actions.required = True
    add = actions.add_parser("add", help="allow ORIGIN (scheme://host[:port]) for --project")
    add.add_argument("origin", metavar="ORIGIN")
    add.set_defaults(handler=cmd_add)
    remove = actions.add_parser("remove", help="stop allowing ORIGIN for --project")
    remove.add_argument("origin", metavar="ORIGIN")
    remove.set_defaults(handler=cmd_remove)
    listing = actions.add_parser("list", help="the allowed origins (of --project when given)")
    listing.add_argument("--format", choices=["table", "json"], default="table")
    listing.set_defaults(handler=cmd_list)


def cmd_add(args: argparse.Namespace) -> int:
    return _change(args, add=True)


def cmd_remove(args: argparse.Namespace) -> int:
    return _change(args, add=False)


def _change(args: argparse.Namespace, *, add: bool) -> int:
    from preflog.server.feedback_origins import normalize_origin, open_origin_store

    origin = normalize_origin(args.origin)
    with open_store_for(args, create=add) as store:
        origins = open_origin_store(store)
        changed = origins.add(args.project, origin) if add else origins.remove(args.project, origin)
    said = ("allowed", "was already allowed") if add else ("no longer allowed", "was not allowed")
    print(f"{origin} {said[0] if changed else said[1]} for project {args.project!r}")
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    from preflog.server.feedback_origins import open_origin_store

    with open_store_for(args, create=False) as store:
        rows = open_origin_store(store).origins(args.project if args.project_given else None)
    if args.format == "json":
        print(json.dumps([{"project": p, "origin": o} for p, o in rows], indent=2))
    else:
        for project, origin in rows:
            print(f"{project}\t{origin}")
    return 0
