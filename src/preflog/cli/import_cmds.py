"""``preflog import FORMAT FILE...``: one call to :func:`preflog.importers.import_file` per file, or
for a tool's export (langfuse, langsmith, label-studio, openai-stored) one call to
:func:`preflog.importers.import_files` with all the files (their rows refer to each other).

Prints every rejected row and conflicting event (row number, field, reason), then a summary line;
a progress counter goes to stderr while a big file is read (when stderr is a terminal). Exit code 0
when every row was imported (stored or already there), 1 otherwise.
"""

from __future__ import annotations

import argparse
import json
from typing import TYPE_CHECKING

from preflog.cli.common import open_store_for
from preflog.cli.progress import TerminalProgress
from preflog.events import SOURCE_KINDS
from preflog.importers import DEFAULT_OCCURRED_AT, IMPORTERS, TOOL_IMPORTERS
from preflog.importers.run import DEFAULT_BATCH

if TYPE_CHECKING:
    from preflog.importers import ImportReport

    _Subparsers = argparse._SubParsersAction[argparse.ArgumentParser]

IMPORT_FORMATS = tuple(sorted(IMPORTERS))  # the library's registry: one list of formats
TOOL_FORMATS = tuple(sorted(TOOL_IMPORTERS))


def register(sub: _Subparsers) -> None:
    p = sub.add_parser(
        "import",
        help="import a public preference data set (arena, trl, hh-rlhf, ultrafeedback, llmfao) or another "
        "tool's export (langfuse, langsmith, label-studio, openai-stored)",
        description="Import a file of rows in an external format as preflog events: each row becomes an "
        "inference and its judgment(s). Ids are derived from the rows' content, so importing the same file "
        "twice stores nothing new. JSONL, JSON arrays (.json) and Parquet, optionally gzip-compressed. "
        "A tool's export may be several files read together (Langfuse observations and scores, LangSmith "
        "runs and feedback, OpenAI stored completions and their messages); API list responses are read as "
        "they are.",
    )
    formats = IMPORT_FORMATS + TOOL_FORMATS
    p.add_argument("format", metavar="FORMAT", choices=formats, help=", ".join(formats))
    p.add_argument("file", metavar="FILE", nargs="+", help="the file(s) to import (llmfao: the data folder)")
    p.add_argument(
        "--source-kind",
        choices=SOURCE_KINDS,
        help="judge kind of every imported preference (default: the format's: human; ai_judge for "
        "ultrafeedback)",
    )
    p.add_argument("--source-id", help="judge id of every imported preference (default: the row's judge)")
    p.add_argument("--criterion", help="criterion of every imported preference, e.g. harmlessness")
    p.add_argument(
        "--occurred-at",
        metavar="TIME",
        help=f"RFC 3339 time of rows that carry none (default {DEFAULT_OCCURRED_AT}, fixed so that a "
        "second import is a no-op)",
    )
    p.add_argument(
        "--batch-size",
        type=int,
        default=DEFAULT_BATCH,
        help=f"events per append call (default {DEFAULT_BATCH})",
    )
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.add_argument("--quiet", "-q", action="store_true", help="print only the summary")
    p.set_defaults(handler=cmd_import)


def cmd_import(args: argparse.Namespace) -> int:
    from preflog.importers import ImportOptions, import_file, import_files

    options = ImportOptions(
        source_kind=args.source_kind,
        source_id=args.source_id,
        criterion=args.criterion,
        occurred_at=args.occurred_at or DEFAULT_OCCURRED_AT,
    )
    common = {"project": args.project, "options": options, "batch_size": args.batch_size}
    reports: list[ImportReport] = []
    with open_store_for(args, create=True) as store, TerminalProgress("import") as progress:
        if args.format in TOOL_FORMATS:
            reports.append(import_files(store, args.format, args.file, progress=progress, **common))
        else:
            for path in args.file:
                reports.append(import_file(store, args.format, path, progress=progress, **common))
    for report in reports:
        _print_report(report, as_json=args.json, quiet=args.quiet)
    return 0 if all(r.ok for r in reports) else 1


def _print_report(report: ImportReport, *, as_json: bool, quiet: bool) -> None:
    if as_json:
        print(json.dumps(report.to_dict(), indent=2, ensure_ascii=False))
        return
    if not quiet:
        for problem in [*report.rejected, *report.conflicts]:
            print(problem)
    print(report.summary())
