"""The ``preflog`` command: a thin shell over the library, one command = one library call.

Each command module exposes ``register(subparsers)``, which adds its sub-commands with
``set_defaults(handler=...)``; a handler takes the parsed arguments and returns the exit code.
Library errors become a one-line message on stderr and exit code 2 (bad input) or 1 (failure).
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence

from preflog.errors import ConfigError, NotFound, PreflogError, ValidationError

# Modules under preflog.cli that add commands; each is imported only to register its parsers,
# and imports its heavy dependencies inside the handlers.
COMMAND_MODULES = (
    "core",  # log, show, stats, schema, demo
    "compile_cmds",  # compile, import, verify
    "analytics_cmds",  # leaderboard, ab, report
    "server_cmds",  # serve, keys
    "import_cmds",  # import
    "privacy_cmds",  # erase, audit
    "judge_cmds",  # score, judge
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="preflog",
        description="Log preference pairs from LLM applications; compile datasets and analytics.",
    )
    parser.add_argument(
        "--db",
        default=os.environ.get("PREFLOG_DB", "./preflog.db"),
        help="store: sqlite:///path/file.db, a plain path, or postgresql://... "
        "(env PREFLOG_DB; default ./preflog.db)",
    )
    parser.add_argument(
        "--project",
        default=os.environ.get("PREFLOG_PROJECT", "default"),
        help="project (tenant) to read and write (env PREFLOG_PROJECT; default 'default')",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(f"preflog.cli.{name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"preflog.cli.{name}":
                continue  # that part of the CLI is not built yet
            raise
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        code: int = args.handler(args)
    except ValidationError as exc:
        print(f"preflog: error: {exc}", file=sys.stderr)
        return 2
    except (ConfigError, NotFound) as exc:
        print(f"preflog: error: {exc}", file=sys.stderr)
        return 2
    except PreflogError as exc:
        print(f"preflog: error: {exc}", file=sys.stderr)
        return 1
    except BrokenPipeError:
        return 0
    except KeyboardInterrupt:
        print("preflog: interrupted", file=sys.stderr)
        return 130
    return code


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
