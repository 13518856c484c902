"""The ``preflog`` command: a thin shell over the library, one command = one library call.

Each command module exposes ``register(subparsers)``, which adds its sub-commands with
``set_defaults(handler=...)``; a handler takes the parsed arguments and returns the exit code.
``--db`` and ``--project`` are accepted before the command and after it (after wins), at every
level. Library errors become one line on stderr — in a bad option's message, the library's name
(``aggregate:``) turned into the flag a user typed (``--aggregate:``) — and exit code 2 (bad
input, not found) or 1 (failure); a user's mistake never prints a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from preflog import __version__, config
from preflog.cli.common import add_store_options, flag_names, with_flags
from preflog.errors import ConfigError, NotFound, PreflogError, ValidationError

# Modules under preflog.cli that add commands; each is imported only to register its parsers,
# and imports its heavy dependencies inside the handlers.
COMMAND_MODULES = (
    "core",  # log, show, stats, schema, demo
    "compile_cmds",  # compile, verify
    "analytics_cmds",  # leaderboard, ab, report
    "server_cmds",  # serve, keys
    "import_cmds",  # import
    "privacy_cmds",  # erase, audit
    "judge_cmds",  # score, judge
    "feedback_cmds",  # feedback origins
    "spool_cmds",  # spool replay, spool status
    "archive_cmds",  # archive
    "stream_cmds",  # consume
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="preflog",
        description="Log preference pairs from LLM applications; compile datasets and analytics.",
        epilog="--db and --project may also follow the command: preflog stats --db demo.db.",
    )
    parser.add_argument("--version", action="version", version=f"preflog {__version__}")
    add_store_options(parser, nested=False)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name in COMMAND_MODULES:
        importlib.import_module(f"preflog.cli.{name}").register(sub)
    _accept_store_options_everywhere(parser)
    return parser


def _accept_store_options_everywhere(parser: argparse.ArgumentParser) -> None:
    """Give every command and sub-command ``--db`` and ``--project`` too (``preflog stats --db X``)."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for child in dict.fromkeys(action.choices.values()):  # aliases share a parser
                add_store_options(child, nested=True)
                _accept_store_options_everywhere(child)


def _resolve_store_options(args: argparse.Namespace) -> None:
    """Fill ``--db``/``--project`` from ``PREFLOG_DB``/``PREFLOG_PROJECT`` when no flag gave them;
    ``project_given`` says whether a flag did (``keys list`` filters by project only then)."""
    args.project_given = args.project is not None
    if args.db is None:
        args.db = config.get("PREFLOG_DB")
    if args.project is None:
        args.project = config.get("PREFLOG_PROJECT")


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)

    def fail(exc: BaseException | str, code: int) -> int:
        print(f"preflog: error: {exc}", file=sys.stderr)
        return code

    try:
        _resolve_store_options(args)
        code: int = args.handler(args)
    except ConfigError as exc:  # a bad option: say the flag the user typed
        return fail(with_flags(str(exc), flag_names(parser)), 2)
    except (ValidationError, NotFound) as exc:  # field paths of events and ids stay as they are
        return fail(exc, 2)
    except PreflogError as exc:
        return fail(exc, 1)
    except BrokenPipeError:
        return 0
    except KeyboardInterrupt:
        print("preflog: interrupted", file=sys.stderr)
        return 130
    except OSError as exc:  # a file the user named could not be read or written
        where = f"{exc.filename}: " if exc.filename else ""
        return fail(f"{where}{exc.strerror or exc}", 1)
    return code


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
