"""``import_files``: formats whose rows refer to each other, spread over several files.

The exports of observability and labelling tools are not one preference per row: Langfuse keeps
generations and the scores about them apart (often in two files), LangSmith runs and their
feedback likewise, an OpenAI stored completion and its input messages come from two endpoints.
A *bundle format* therefore sees every row of every file at once: ``convert(rows, options)``
answers one :class:`RowOutcome` per row — its events, or why it was skipped (a row that is not an
LLM call: a Langfuse span, a LangSmith chain run), or a ``ValidationError`` naming the field.

Reading: each file is JSONL, a JSON array, or one JSON object holding the rows under ``data``
(the list responses of the Langfuse and OpenAI APIs), ``runs`` (LangSmith's run query) or
another list key (:data:`LIST_KEYS`); a JSONL line that is such a page is unwrapped too. Files may
be gzip-compressed. Problems name the file and the row (1-based: the line of a JSONL file, the
index in a list).

Appending, validation, duplicates and conflicts work as for the one-file formats
(:mod:`preflog.importers.run`): ids derive from the tools' own ids, so importing the same files
again stores nothing.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from preflog.errors import ConfigError, ValidationError
from preflog.importers.base import Event, ImportOptions
from preflog.importers.run import (
    ImportReport,
    RowProblem,
    _Batch,
    _flush,
    _open_bytes,
    convert_row,
    iter_rows,
)
from preflog.progress import ProgressCallback
from preflog.progress import report as report_progress
from preflog.store.base import Store

#: Keys under which an API list response holds its rows, and keys that mark an object as such a page.
LIST_KEYS: Final = ("data", "runs", "feedback", "observations", "scores", "traces", "tasks", "items")
PAGE_MARKERS: Final = ("object", "meta", "cursors", "has_more", "first_id", "last_id", "next", "total")


@dataclass(frozen=True)
class SourceRow:
    """One row as read: its file, its 1-based row number there, its JSON value."""

    file: str
    row: int
    value: Any


@dataclass
class RowOutcome:
    """What one row gave: ``events``, or ``skipped`` (why nothing is imported from it), or ``error``."""

    source: SourceRow
    events: list[Event] = field(default_factory=list)
    skipped: str | None = None
    error: ValidationError | None = None


BundleConverter = Callable[[Sequence[SourceRow], ImportOptions], list[RowOutcome]]


@dataclass(frozen=True)
class FileRowProblem(RowProblem):
    """A :class:`RowProblem` that also names its file."""

    file: str = ""

    def __str__(self) -> str:
        return f"{self.file} {super().__str__()}" if self.file else super().__str__()

    def to_dict(self) -> dict[str, Any]:
        return {"file": self.file, **super().to_dict()}


@dataclass
class BundleReport(ImportReport):
    """An :class:`ImportReport` of several files, with the rows ``skipped`` (not LLM calls)."""

    skipped: list[RowProblem] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {**super().to_dict(), "skipped": [p.to_dict() for p in self.skipped]}

    def summary(self) -> str:
        return super().summary() + f"; {len(self.skipped):,} rows skipped"


# ---------------------------------------------------------------------------------------------- reading


def _page_items(value: Any) -> list[Any] | None:
    """The rows of an API list response (``{"data": [...], ...}``), else None."""
    if not isinstance(value, Mapping):
        return None
    for key in LIST_KEYS:
        items = value.get(key)
        if isinstance(items, list) and (len(value) == 1 or any(m in value for m in PAGE_MARKERS)):
            return items
    return None


def _whole_json(path: Path) -> Any:
    with _open_bytes(path) as buffered:
        head = buffered.peek(64).lstrip()[:1]
        if head != b"{":
            return None
        try:
            return json.load(buffered)
        except (UnicodeDecodeError, json.JSONDecodeError):
            return None  # JSONL whose lines are objects: read line by line


def read_rows(path: Path) -> Iterator[tuple[SourceRow | None, FileRowProblem | None]]:
    """Every row of ``path``: ``(row, None)``, or ``(None, problem)`` for a line that is not JSON."""
    name = str(path)
    whole = _whole_json(path)
    if whole is not None:
        items = _page_items(whole)
        for number, value in enumerate(items if items is not None else [whole], start=1):
            yield SourceRow(name, number, value), None
        return
    number = 0
    for line, value, problem in iter_rows(path):
        if problem is not None:
            yield None, FileRowProblem(line, "", problem, file=name)
            continue
        for item in _page_items(value) or [value]:
            number = max(number + 1, line)
            yield SourceRow(name, number, item), None


# ---------------------------------------------------------------------------------------------- importing


def import_bundle(
    store: Store,
    format: str,
    paths: Sequence[Path | str],
    converter: BundleConverter,
    *,
    project: str,
    options: ImportOptions | None = None,
    batch_size: int = 1000,
    progress: ProgressCallback | None = None,
) -> BundleReport:
    """Import the rows of ``paths`` with a bundle ``converter`` into ``project`` of ``store``."""
    if batch_size < 1:
        raise ConfigError("batch_size must be at least 1")
    options = options or ImportOptions()
    files = [Path(p) for p in paths]
    for file in files:
        if not file.is_file():
            raise ConfigError(f"cannot read {file}: no such file")
    report = BundleReport(format=format, path=", ".join(str(f) for f in files))
    rows: list[SourceRow] = []
    for file in files:
        for row, problem in read_rows(file):
            report.rows += 1
            if problem is not None:
                report.rejected.append(problem)
            elif row is not None:
                rows.append(row)
    _append(store, converter(rows, options), project, report, batch_size, progress)
    return report


def _validated(events: list[Event], project: str, store: Store) -> list[Event]:
    """The events normalized, or the ValidationError of the first invalid one."""
    return convert_row(lambda _value, _options: events, {}, ImportOptions(), project=project, store=store)


def _problem(source: SourceRow, field_: str, reason: str) -> FileRowProblem:
    return FileRowProblem(source.row, field_, reason, file=source.file)


def _append(
    store: Store,
    outcomes: list[RowOutcome],
    project: str,
    report: BundleReport,
    batch_size: int,
    progress: ProgressCallback | None,
) -> None:
    requests: set[str] = set()
    logged: set[str] = set()  # requests whose inference this import appends (rows may repeat one)
    sources: list[SourceRow] = []  # the batch's rows go by their index here, mapped back after
    batch = _Batch()
    for outcome in outcomes:
        if outcome.error is not None:
            report.rejected.append(_problem(outcome.source, outcome.error.field, outcome.error.reason))
            continue
        if outcome.skipped is not None:
            report.skipped.append(_problem(outcome.source, "", outcome.skipped))
            continue
        try:
            events = _validated(outcome.events, project, store)
        except ValidationError as exc:
            report.rejected.append(_problem(outcome.source, exc.field, exc.reason))
            continue
        fresh = [e for e in events if e["type"] != "inference" or e["request_id"] not in logged]
        logged.update(e["request_id"] for e in events if e["type"] == "inference")
        requests.update(e["request_id"] for e in events)
        sources.append(outcome.source)
        batch.add(len(sources) - 1, fresh)
        if batch.size >= batch_size:
            _flush_batch(store, batch, project, report, sources)
            batch = _Batch()
            report_progress(progress, "importing", report.rows, unit="rows")
    _flush_batch(store, batch, project, report, sources)
    report.requests = len(requests)
    report_progress(progress, "importing", report.rows, unit="rows")


def _flush_batch(
    store: Store, batch: _Batch, project: str, report: BundleReport, sources: list[SourceRow]
) -> None:
    rejected, conflicts = len(report.rejected), len(report.conflicts)
    _flush(store, batch, project, report)
    for problems, start in ((report.rejected, rejected), (report.conflicts, conflicts)):
        for i in range(start, len(problems)):
            p = problems[i]
            problems[i] = _problem(sources[p.row], p.field, p.reason)
