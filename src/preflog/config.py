"""Every ``PREFLOG_*`` environment variable, in one table, read only at the edges.

preflog's library code takes keyword arguments; the environment is consulted only where a program
meets its user: :func:`preflog.store.open_store`, :class:`preflog.Client`, the service's app factory
and the CLI. Each of those calls :func:`get` (or :func:`raw`) with a name from :data:`SETTINGS`, so
what a variable means, its default and how it is parsed are written once, here, and the list in
``docs/configuration.md`` is generated from this table (``tests/test_config.py`` keeps them equal).

>>> get("PREFLOG_SQLITE_SYNCHRONOUS", {"PREFLOG_SQLITE_SYNCHRONOUS": "full"})
'FULL'
>>> get("PREFLOG_MAX_TAGS", {})
64
>>> get("PREFLOG_RATE_LIMIT", {"PREFLOG_RATE_LIMIT": "off"}) is None
True
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from preflog.errors import ConfigError

MiB: Final = 1024 * 1024


def _int(raw: str) -> int:
    try:
        value = int(raw)
    except ValueError:
        raise ValueError(f"must be an integer, got {raw!r}") from None
    if value < 0:
        raise ValueError(f"must not be negative, got {raw!r}")
    return value


def _positive_int(raw: str) -> int:
    value = _int(raw)
    if value < 1:
        raise ValueError(f"must be at least 1, got {raw!r}")
    return value


def _number_or_off(raw: str) -> float | None:
    if raw.lower() in ("off", "none", "0"):
        return None
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(f"must be a number or 'off', got {raw!r}") from None
    if value <= 0:
        raise ValueError(f"must be positive or 'off', got {raw!r}")
    return value


def _number(raw: str) -> float:
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(f"must be a number, got {raw!r}") from None
    if not value > 0:
        raise ValueError(f"must be positive, got {raw!r}")
    return value


def _seconds(raw: str) -> float:
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(f"must be a number of seconds, got {raw!r}") from None
    if value <= 0:
        raise ValueError(f"must be positive, got {raw!r}")
    return value


def _text(raw: str) -> str:
    return raw


def _upper(raw: str) -> str:
    return raw.upper()


@dataclass(frozen=True)
class Setting:
    """One variable: its ``default`` as a user would write it (``None``: unset means "none"), how
    the text is parsed, which edge reads it, and one line of documentation."""

    name: str
    default: str | None
    parse: Callable[[str], Any]
    read_by: str
    doc: str


def _s(name: str, default: str | None, parse: Callable[[str], Any], read_by: str, doc: str) -> Setting:
    return Setting(name, default, parse, read_by, doc)


_TABLE: Final = (
    # where events go and which project they belong to
    _s(
        "PREFLOG_DB",
        "./preflog.db",
        _text,
        "open_store, Client, CLI",
        "the store: a path, `sqlite:///...` or `postgresql://...`",
    ),
    _s("PREFLOG_PROJECT", "default", _text, "Client, CLI", "the project (tenant) read and written"),
    _s(
        "PREFLOG_URL",
        None,
        _text,
        "Client, CLI (spool)",
        "the ingestion service's URL; when set the SDK sends over HTTP",
    ),
    _s(
        "PREFLOG_API_KEY",
        None,
        _text,
        "Client, CLI (spool)",
        "the API key the SDK sends (`Authorization: Bearer`)",
    ),
    # the SDK's disk spool
    _s(
        "PREFLOG_SPOOL_DIR",
        None,
        _text,
        "Client, CLI (spool)",
        "the parent directory of the SDK's spools (default `$XDG_CACHE_HOME/preflog/spool`, "
        "else `~/.cache/preflog/spool`); one subdirectory per service and project",
    ),
    _s(
        "PREFLOG_SPOOL_DIR_EXACT",
        None,
        _text,
        "Client, CLI (spool)",
        "the spool directory itself, used as given (no per-service subdirectory)",
    ),
    _s(
        "PREFLOG_SPOOL_MAX_BYTES",
        str(256 * MiB),
        _positive_int,
        "Client",
        "the spool's size cap in bytes; past it new batches are counted as dropped",
    ),
    # stores
    _s(
        "PREFLOG_SQLITE_SYNCHRONOUS",
        "NORMAL",
        _upper,
        "open_store",
        "SQLite `PRAGMA synchronous` (`NORMAL`: durable across crashes of the process; "
        "`FULL`: across power loss)",
    ),
    _s(
        "PREFLOG_PG_TIMEOUT",
        "3",
        _seconds,
        "open_store",
        "seconds to wait for a PostgreSQL connection before answering `StoreUnavailable`",
    ),
    # event field limits (preflog.events.Limits)
    _s(
        "PREFLOG_MAX_PROMPT_BYTES",
        str(256 * 1024),
        _positive_int,
        "open_store, app",
        "UTF-8 bytes of a prompt (all messages) plus `system`",
    ),
    _s(
        "PREFLOG_MAX_OUTPUT_BYTES",
        str(256 * 1024),
        _positive_int,
        "open_store, app",
        "UTF-8 bytes of one candidate's output",
    ),
    _s("PREFLOG_MAX_CANDIDATES", "16", _positive_int, "open_store, app", "candidates in one inference"),
    _s(
        "PREFLOG_MAX_METADATA_BYTES",
        str(16 * 1024),
        _positive_int,
        "open_store, app",
        "JSON bytes of each free-form object (`metadata`, `features`, `params`, `usage`)",
    ),
    _s(
        "PREFLOG_MAX_TEXT_BYTES",
        str(16 * 1024),
        _positive_int,
        "open_store, app",
        "bytes of a rationale, reason, criterion or other short text",
    ),
    _s("PREFLOG_MAX_TAGS", "64", _positive_int, "open_store, app", "tags on one event"),
    # the HTTP service
    _s(
        "PREFLOG_MAX_BODY_BYTES",
        str(10 * MiB),
        _positive_int,
        "app",
        "bytes of a request body, as sent and after gzip decompression",
    ),
    _s("PREFLOG_MAX_BATCH_EVENTS", "10000", _positive_int, "app", "events in one write"),
    _s("PREFLOG_MAX_PAGE", "1000", _positive_int, "app", "the largest `limit=` of a read"),
    _s(
        "PREFLOG_RATE_LIMIT",
        "off",
        _number_or_off,
        "app",
        "steady requests per second allowed per key (`off`: no limit)",
    ),
    _s(
        "PREFLOG_RATE_BURST",
        None,
        _positive_int,
        "app",
        "the rate limiter's bucket size (default twice the rate, at least 1)",
    ),
    _s("PREFLOG_RETRY_AFTER", "1", _positive_int, "app", "the `Retry-After` seconds sent with a 503"),
    _s(
        "PREFLOG_REDACT",
        "off",
        _text,
        "open_store, app",
        "built-in redaction rules applied on ingest: comma-separated kinds "
        "(`secrets`, `email`, `phone`, `all`) or `off`",
    ),
    _s(
        "PREFLOG_REDACT_PATTERNS",
        None,
        _text,
        "open_store, app",
        "custom redaction rules: a JSON object of name to regular expression",
    ),
    _s("PREFLOG_SESSION_TTL", str(12 * 3600), _positive_int, "app", "seconds a web UI sign-in lasts"),
    _s(
        "PREFLOG_SESSION_SECRET",
        None,
        _text,
        "app",
        "mixed into the web UI's session signatures; rotating it ends every session",
    ),
    _s(
        "PREFLOG_FEEDBACK_RATE",
        "1",
        _number,
        "app",
        "browser feedback calls per second allowed per feedback token, on average",
    ),
    _s(
        "PREFLOG_FEEDBACK_BURST",
        "10",
        _positive_int,
        "app",
        "browser feedback calls a token may make at once",
    ),
    _s(
        "PREFLOG_FEEDBACK_MAX_TTL",
        str(30 * 24 * 3600),
        _positive_int,
        "app",
        "the longest lifetime, in seconds, of a feedback token (`POST /v1/feedback-tokens`)",
    ),
    _s("PREFLOG_WORKERS", "1", _positive_int, "CLI", "`preflog serve` worker processes"),
    _s("PREFLOG_LOG_LEVEL", "info", _text, "CLI", "`preflog serve` log level"),
)

SETTINGS: Final[Mapping[str, Setting]] = {s.name: s for s in _TABLE}


def raw(name: str, environ: Mapping[str, str] | None = None) -> str | None:
    """The variable's text as set (stripped), else its default text; ``None`` when neither."""
    setting = SETTINGS[name]  # a KeyError here is a programming mistake: every name is in the table
    env = os.environ if environ is None else environ
    value = env.get(name, "").strip()
    return value if value else setting.default


def get(name: str, environ: Mapping[str, str] | None = None) -> Any:
    """The parsed value of ``name`` from ``environ`` (default ``os.environ``), or of its default.
    A value that does not parse is a :class:`~preflog.errors.ConfigError` naming the variable."""
    text = raw(name, environ)
    if text is None:
        return None
    try:
        return SETTINGS[name].parse(text)
    except ValueError as exc:
        raise ConfigError(f"{name}: {exc}") from None


def markdown_table() -> str:
    """The table of ``docs/configuration.md``: every variable, its default, who reads it, what it does."""
    lines = ["| variable | default | read by | meaning |", "|---|---|---|---|"]
    for s in _TABLE:
        default = "—" if s.default is None else f"`{s.default}`"
        lines.append(f"| `{s.name}` | {default} | {s.read_by} | {s.doc} |")
    return "\n".join(lines) + "\n"
