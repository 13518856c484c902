"""What every command shares at the CLI's edge: the store options, opening the store, output
directories, and turning the library's option names into the flags a user typed."""

from __future__ import annotations

import argparse
import re
from pathlib import Path
from typing import TYPE_CHECKING

from preflog.errors import ConfigError, NotFound

if TYPE_CHECKING:
    from preflog.store import Store

# Library options whose flag is not their name with dashes (a CompileOptions field is plural, its
# repeatable flag singular; open_store's ``url`` is ``--db``).
FLAG_ALIASES = {
    "url": "--db",
    "out_dir": "--out",
    "sources": "--source",
    "criteria": "--criterion",
    "models": "--model",
    "users": "--user",
}

WRITERS = "log, import, demo, serve and keys create"
DB_HELP = (
    "store: sqlite:///path/file.db, a plain path, or postgresql://... (env PREFLOG_DB; default ./preflog.db)"
)
PROJECT_HELP = "project (tenant) to read and write (env PREFLOG_PROJECT; default 'default')"


def add_store_options(parser: argparse.ArgumentParser, *, nested: bool) -> None:
    """``--db`` and ``--project``. At the top their default is None (filled from the environment
    after parsing); after a command they are SUPPRESSed unless given, so the top value stays."""
    default = argparse.SUPPRESS if nested else None
    if "--db" not in parser._option_string_actions:
        parser.add_argument(
            "--db",
            metavar="URL",
            default=default,
            help=DB_HELP,
        )
    if "--project" not in parser._option_string_actions:
        parser.add_argument(
            "--project",
            metavar="NAME",
            default=default,
            help=PROJECT_HELP,
        )


def flag_names(parser: argparse.ArgumentParser) -> dict[str, str]:
    """Every option's destination (``min_agreement``) to its long flag (``--min-agreement``)."""
    names = dict(FLAG_ALIASES)
    stack = [parser]
    while stack:
        current = stack.pop()
        for action in current._actions:
            longs = [o for o in action.option_strings if o.startswith("--")]
            if longs and action.dest not in ("help", "version"):
                names.setdefault(action.dest, longs[0])
            if isinstance(action, argparse._SubParsersAction):
                stack.extend(action.choices.values())
    return names


def with_flags(message: str, names: dict[str, str]) -> str:
    """A library message in the CLI's words: a leading ``aggregate:`` becomes ``--aggregate:`` and
    a backquoted option name (`` `force` ``) its flag (``--force``).

    >>> with_flags("min_agreement: must be between 0 and 1", {"min_agreement": "--min-agreement"})
    '--min-agreement: must be between 0 and 1'
    >>> with_flags("x: not empty (`force` writes anyway)", {"force": "--force"})
    'x: not empty (--force writes anyway)'
    """
    head, sep, rest = message.partition(": ")
    if sep and head in names:
        message = f"{names[head]}: {rest}"
    return re.sub(r"`([a-z_]+)`", lambda m: names.get(m.group(1), m.group(0)), message)


def open_store_for(args: argparse.Namespace, *, create: bool) -> Store:
    """The store of ``--db``. A command that only reads passes ``create=False``: a mistyped path is
    an error naming it, and no empty database is left behind."""
    from preflog.events import Limits
    from preflog.store import open_store

    limits = Limits.from_env()
    try:
        return open_store(args.db, limits=limits, create=create)
    except NotFound as exc:
        raise NotFound(f"--db {args.db}: {exc}; the commands that create a store are {WRITERS}") from exc
    except ConfigError as exc:
        raise ConfigError(f"--db: {exc}") from exc


def require_events(store: Store, project: str) -> None:
    """Refuse a project without events (a typo, most likely), naming the projects the store holds."""
    if store.last_position(project=project) == 0:
        raise NotFound(no_events(store, project))


def no_events(store: Store, project: str) -> str:
    held = store.projects()
    if not held:
        return f"project {project!r} has no events: the store holds none"
    return f"project {project!r} has no events; the store holds {', '.join(map(repr, held))}"


def output_dir(path: str, flag: str) -> Path:
    """``path`` as a directory to write into, created if missing; a clear error if it cannot be."""
    out = Path(path)
    if out.exists() and not out.is_dir():
        raise ConfigError(f"{flag} {path}: is a file, not a directory")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"{flag} {path}: cannot create the directory: {exc.strerror}") from exc
    return out
