"""Core commands: ``log``, ``show``, ``stats``, ``schema`` and ``demo``.

Each handler opens the store, makes one library call and prints its answer; the logic lives in
:mod:`preflog.ndjson`, :mod:`preflog.store`, :mod:`preflog.schema` and :mod:`preflog.demo`.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable
from contextlib import AbstractContextManager, nullcontext
from typing import IO, TYPE_CHECKING

from preflog.cli.common import no_events, open_store_for
from preflog.cli.progress import TerminalProgress, progress_wanted
from preflog.demo import DEFAULT_REQUESTS, DEFAULT_SEED, DemoReport, load_demo
from preflog.errors import ConfigError, NotFound
from preflog.events import EVENT_TYPES, Limits
from preflog.ndjson import DEFAULT_BATCH, LineResult, LogSummary, append_ndjson
from preflog.progress import ProgressUpdate
from preflog.schema import event_json_schema
from preflog.store import Store, StoreStats

if TYPE_CHECKING:
    _Subparsers = argparse._SubParsersAction[argparse.ArgumentParser]


def register(sub: _Subparsers) -> None:
    _register_log(sub)
    _register_show(sub)
    _register_stats(sub)
    _register_schema(sub)
    _register_demo(sub)


def _open(args: argparse.Namespace, *, create: bool = False) -> Store:
    return open_store_for(args, create=create)


class Progress:
    """One bar on stderr for a call of one stage (kept for callers of the first CLI's counter);
    the commands use :class:`~preflog.cli.progress.TerminalProgress` directly."""

    def __init__(self, label: str, *, enabled: bool, total_bytes: int | None = None) -> None:
        self.label = label
        self.enabled = enabled
        self._terminal = TerminalProgress(label, enabled=enabled)

    def update(self, done: int, total: int | None = None, *, force: bool = False) -> None:
        self._terminal(ProgressUpdate("", done, total, "events"))
        if force:
            self._terminal.refresh()

    def close(self) -> None:
        self._terminal.close()


# ---------------------------------------------------------------------------------------------- log


def _register_log(sub: _Subparsers) -> None:
    p = sub.add_parser(
        "log",
        help="append NDJSON events (or a JSON array of them) from a file or stdin, reporting per line",
        description="Append NDJSON events (one JSON object per line) and report each line: stored, "
        "duplicate, conflict, or rejected with its field and reason. Valid lines are stored even when "
        "others are not. A JSON array of events (one line or pretty-printed) and pretty-printed events "
        "one after another are read whole; a UTF-8 byte order mark is skipped. Exit code 0 when every "
        "line was stored or a duplicate, 1 otherwise.",
    )
    p.add_argument("file", metavar="FILE", help="an NDJSON file, or - for stdin")
    p.add_argument("--quiet", "-q", action="store_true", help="print only problems and the summary")
    p.add_argument(
        "--batch-size",
        type=int,
        default=DEFAULT_BATCH,
        help=f"events per append call (default {DEFAULT_BATCH})",
    )
    p.set_defaults(handler=cmd_log)


def _input(path: str) -> AbstractContextManager[IO[bytes]]:
    if path == "-":
        return nullcontext(sys.stdin.buffer)
    try:
        return open(path, "rb")
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}") from exc


def format_line(result: LineResult) -> str:
    """``line 3: rejected  candidates[1].output: empty`` and the like; ``item 2 (line 5): ...``
    for an event of a JSON array."""
    where = f"item {result.item} (line {result.line})" if result.item else f"line {result.line}"
    head = f"{where}: {result.status}"
    if result.status in ("stored", "duplicate"):
        return f"{head}  event {result.event_id} at position {result.position}"
    where = f"{result.field}: " if result.field else ""
    event = f"event {result.event_id}: " if result.status == "conflict" and result.event_id else ""
    return f"{head}  {event}{where}{result.reason or ''}"


def cmd_log(args: argparse.Namespace) -> int:
    if args.batch_size < 1:
        raise ConfigError("--batch-size must be at least 1")
    summary = LogSummary()
    items = False
    # A bar only when the per-line answers do not go to the same terminal.
    bar = progress_wanted() and (args.quiet or not sys.stdout.isatty())
    with (
        _input(args.file) as stream,
        _open(args, create=True) as store,
        TerminalProgress("log", enabled=bar) as progress,
    ):
        results = append_ndjson(
            store, stream, project=args.project, batch_size=args.batch_size, progress=progress
        )
        for result in results:
            summary.add(result)
            items = items or result.item is not None
            if not args.quiet or not result.ok:
                print(format_line(result))
    c = summary.counts
    print(
        f"{summary.lines} {'events' if items else 'lines'}: {c['stored']} stored, "
        f"{c['duplicate']} duplicate, {c['conflict']} conflict, {c['rejected']} rejected"
    )
    return 0 if summary.ok else 1


# ---------------------------------------------------------------------------------------------- show


def _register_show(sub: _Subparsers) -> None:
    p = sub.add_parser(
        "show",
        help="print everything known about one request, joined, as JSON",
        description="Print the joined view of one request as JSON: its inference, preferences, scores, "
        "signals, retractions and erasures, and whether its judgments are orphans.",
    )
    p.add_argument("request_id", metavar="REQUEST_ID")
    p.set_defaults(handler=cmd_show)


def cmd_show(args: argparse.Namespace) -> int:
    with _open(args) as store:
        view = store.get_request(args.request_id, project=args.project)
    data = view.to_dict()
    lists = ("preferences", "scores", "signals", "retractions", "erasures")
    if data["inference"] is None and not any(data[k] for k in lists):
        raise NotFound(f"no request {args.request_id!r} in project {args.project!r} of {args.db}")
    print(json.dumps(data, indent=2, ensure_ascii=False))
    return 0


# ---------------------------------------------------------------------------------------------- stats


def _register_stats(sub: _Subparsers) -> None:
    p = sub.add_parser(
        "stats",
        help="count events by type, judgments by source kind and candidates by model",
        description="Count the project's events by type, judgments by source kind, candidates by model, "
        "requests and orphan requests (judgments waiting for their inference).",
    )
    p.add_argument(
        "--format", choices=("table", "json"), default="table", help="output format (default table)"
    )
    p.set_defaults(handler=cmd_stats)


def _section(title: str, counts: dict[str, int], order: Iterable[str] | None = None) -> list[str]:
    keys = list(order) if order is not None else sorted(counts, key=lambda k: (-counts[k], k))
    if not keys:
        return [title, "  (none)"]
    width = max(len(k) for k in keys)
    return [title] + [f"  {k:<{width}}  {counts.get(k, 0):>9,}" for k in keys]


def format_stats(stats: StoreStats, project: str, db: str) -> str:
    lines = [
        f"project {project!r} in {db}",
        f"  events {stats.events:,} (last position {stats.last_position:,}), requests {stats.requests:,}, "
        f"orphan requests {stats.orphan_requests:,}",
        "",
        *_section("events by type", stats.by_type, EVENT_TYPES),
        "",
        *_section("judgments by source kind", stats.by_source),
        "",
        *_section("candidates by model", stats.by_model),
    ]
    return "\n".join(lines)


def cmd_stats(args: argparse.Namespace) -> int:
    with _open(args) as store:
        stats = store.stats(project=args.project)
        if stats.events == 0:
            print(f"preflog: note: {no_events(store, args.project)}", file=sys.stderr)
    if args.format == "json":
        print(json.dumps(stats.to_dict(), indent=2, sort_keys=True))
    else:
        print(format_stats(stats, args.project, args.db))
    return 0


# ---------------------------------------------------------------------------------------------- schema


def _register_schema(sub: _Subparsers) -> None:
    p = sub.add_parser(
        "schema",
        help="print the JSON Schema of events (contract version 1)",
        description="Print the JSON Schema (draft 2020-12) of one event. Size limits are the defaults, "
        "or the PREFLOG_MAX_* environment variables when set.",
    )
    p.set_defaults(handler=cmd_schema)


def cmd_schema(args: argparse.Namespace) -> int:
    print(json.dumps(event_json_schema(Limits.from_env()), indent=2, ensure_ascii=False))
    return 0


# ---------------------------------------------------------------------------------------------- demo


def _register_demo(sub: _Subparsers) -> None:
    p = sub.add_parser(
        "demo",
        help="write a realistic synthetic project into the store",
        description="Write the demo project (models of unequal quality, chat and plain prompts, human, "
        "end-user, AI-judge and reward-model judgments, signals, retractions, orphans, erasures) into the "
        "store. The same seed always gives the same events, so running it twice stores nothing new.",
    )
    p.add_argument("--seed", type=int, default=DEFAULT_SEED, help=f"random seed (default {DEFAULT_SEED})")
    p.add_argument(
        "--requests",
        type=int,
        default=DEFAULT_REQUESTS,
        help=f"number of inference requests (default {DEFAULT_REQUESTS}, about 4 events each)",
    )
    p.set_defaults(handler=cmd_demo)


def format_demo(report: DemoReport, db: str) -> str:
    status = ", ".join(f"{n:,} {s}" for s, n in sorted(report.by_status.items()))
    types = ", ".join(f"{n:,} {t}" for t, n in report.by_type.items())
    lines = [
        f"demo project {report.project!r} (seed {report.seed}, {report.requests:,} requests) in {db}",
        f"  {report.events:,} events: {status}",
        f"  by type: {types}",
        f"  models: {', '.join(report.models)}",
    ]
    lines += [f"  problem: {p.status} {p.event_id}: {p.field}: {p.reason}" for p in report.problems[:10]]
    if report.sample_request_id:
        lines.append(f"  try: preflog --db {db} --project {report.project} show {report.sample_request_id}")
    return "\n".join(lines)


def cmd_demo(args: argparse.Namespace) -> int:
    if args.requests < 1:
        raise ConfigError("--requests must be at least 1")
    with _open(args, create=True) as store, TerminalProgress("demo") as progress:
        report = load_demo(store, args.project, seed=args.seed, requests=args.requests, progress=progress)
    print(format_demo(report, args.db))
    return 1 if report.problems else 0
