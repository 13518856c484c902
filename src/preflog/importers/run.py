"""``import_file``: read a file of rows in an external format, turn each row into events with the
format's pure converter, and append them to a store in batches, answering an :class:`ImportReport`.

Files: JSONL (one JSON object per line), a JSON array (``.json``), Parquet (``.parquet``, needs
pyarrow), each optionally gzip-compressed (detected by its magic bytes). Row numbers are 1-based
line numbers for JSONL and 1-based row indexes otherwise.

Every row is checked whole before anything is appended: a row whose conversion or one of whose
events is invalid is rejected (with its row number, the field and the reason) and none of its
events are stored; the other rows are imported. Ids are deterministic, so importing the same file
again stores nothing and counts every event as a duplicate. When several rows describe the same
request (arena rows judged several times), its inference is appended once, from the first row.
"""

from __future__ import annotations

import gzip
import io
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from preflog.errors import ConfigError, ValidationError
from preflog.events import validate_event
from preflog.importers.arena import arena_events
from preflog.importers.base import Converter, Event, ImportOptions
from preflog.importers.hh_rlhf import hh_rlhf_events
from preflog.importers.llmfao import llmfao_rows
from preflog.importers.trl import trl_events
from preflog.importers.ultrafeedback import ultrafeedback_events
from preflog.progress import ProgressCallback, ProgressUpdate
from preflog.store.base import AppendResult, Store

#: The converter of each importable format, by the name ``preflog import`` takes.
IMPORTERS: Final[dict[str, Converter]] = {
    "arena": arena_events,
    "hh-rlhf": hh_rlhf_events,
    "llmfao": arena_events,  # its votes are read as arena rows (see READERS)
    "trl": trl_events,
    "ultrafeedback": ultrafeedback_events,
}
DEFAULT_BATCH: Final = 1000


@dataclass(frozen=True)
class RowProblem:
    """Why row ``row`` (1-based) was not imported, or which of its events conflicted."""

    row: int
    field: str
    reason: str

    def __str__(self) -> str:
        where = f"{self.field}: " if self.field else ""
        return f"row {self.row}: {where}{self.reason}"

    def to_dict(self) -> dict[str, Any]:
        return {"row": self.row, "field": self.field, "reason": self.reason}


@dataclass
class ImportReport:
    """Counts of one import. ``rows``: rows read; ``imported``: rows whose events are all stored or
    duplicates; ``stored``/``duplicates``: events; ``requests``: distinct requests the rows name;
    ``rejected``: rows not imported, with reasons; ``conflicts``: events whose id was stored before
    with other content (imported with other options, or an edited file) — nothing overwritten."""

    format: str
    path: str
    rows: int = 0
    imported: int = 0
    stored: int = 0
    duplicates: int = 0
    requests: int = 0
    rejected: list[RowProblem] = field(default_factory=list)
    conflicts: list[RowProblem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.rejected and not self.conflicts

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": self.format,
            "path": self.path,
            "rows": self.rows,
            "imported": self.imported,
            "stored": self.stored,
            "duplicates": self.duplicates,
            "requests": self.requests,
            "rejected": [p.to_dict() for p in self.rejected],
            "conflicts": [p.to_dict() for p in self.conflicts],
        }

    def summary(self) -> str:
        return (
            f"{self.rows:,} rows: {self.imported:,} imported, {len(self.rejected):,} rejected; "
            f"{self.stored:,} events stored, {self.duplicates:,} duplicates, {len(self.conflicts):,} "
            f"conflicts; {self.requests:,} requests"
        )


# ---------------------------------------------------------------------------------------------- reading

RowItem = tuple[int, Any, str | None]  # (row number, value, why it is not a row)


#: The formats not read from a file of rows (:func:`iter_rows`), and what reads them instead.
READERS: Final[dict[str, Callable[[Path], Iterator[RowItem]]]] = {"llmfao": llmfao_rows}


def _open_bytes(path: Path) -> io.BufferedReader:
    with path.open("rb") as probe:
        gzipped = probe.read(2) == b"\x1f\x8b"
    if gzipped:
        return io.BufferedReader(gzip.GzipFile(path, "rb"), buffer_size=1 << 16)
    return io.BufferedReader(io.FileIO(path, "rb"), buffer_size=1 << 16)


def _inner_suffix(path: Path) -> str:
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes and suffixes[-1] == ".gz":
        suffixes = suffixes[:-1]
    return suffixes[-1] if suffixes else ""


def _json_line(number: int, raw: bytes) -> RowItem:
    try:
        return number, json.loads(raw), None
    except UnicodeDecodeError as exc:
        return number, None, f"not UTF-8 ({exc.reason})"
    except json.JSONDecodeError as exc:
        return number, None, f"invalid JSON: {exc.msg} (column {exc.colno})"
    except RecursionError:
        return number, None, "invalid JSON: nested too deeply"


def iter_rows(path: Path) -> Iterator[RowItem]:
    """``(row number, value, problem)`` for every row of ``path``; ``problem`` when not JSON."""
    suffix = _inner_suffix(path)
    if suffix == ".parquet":
        yield from _parquet_rows(path)
        return
    with _open_bytes(path) as buffered:
        if suffix == ".json" and buffered.peek(64).lstrip()[:1] == b"[":
            try:
                values = json.load(buffered)
            except (UnicodeDecodeError, json.JSONDecodeError) as exc:
                raise ConfigError(f"{path}: not a JSON array ({exc})") from exc
            yield from ((i, value, None) for i, value in enumerate(values, start=1))
            return
        for number, raw in enumerate(buffered, start=1):
            if raw.strip():
                yield _json_line(number, raw)


def _parquet_rows(path: Path) -> Iterator[RowItem]:
    try:
        import pyarrow.parquet as pq
    except ImportError as exc:
        raise ConfigError(f"Parquet input needs pyarrow: pip install 'preflog[compile]' ({exc})") from exc
    number = 0
    for batch in pq.ParquetFile(path).iter_batches(batch_size=4096):
        for value in batch.to_pylist():
            number += 1
            yield number, value, None


# ---------------------------------------------------------------------------------------------- converting


def convert_row(
    converter: Converter, value: Any, options: ImportOptions, *, project: str, store: Store
) -> list[Event]:
    """The validated, normalized events of one row; ValidationError names the first problem."""
    if not isinstance(value, dict):
        raise ValidationError("a row must be a JSON object")
    events = converter(value, options)
    out = []
    for event in events:
        try:
            out.append(validate_event(event, limits=store.limits, project=project))
        except ValidationError as exc:
            first = exc.errors[0]
            raise ValidationError(f"{first.reason} (in its {event['type']} event)", path=first.path) from None
    return out


@dataclass
class _Batch:
    rows: list[tuple[int, list[Event]]] = field(default_factory=list)
    size: int = 0

    def add(self, row: int, events: list[Event]) -> None:
        self.rows.append((row, events))
        self.size += len(events)


def _flush(store: Store, batch: _Batch, project: str, report: ImportReport) -> None:
    events = [event for _, row_events in batch.rows for event in row_events]
    answers: Iterator[AppendResult] = iter(
        store.append(events, project=project, validated=True) if events else []
    )
    for row, row_events in batch.rows:
        ok = True
        for event in row_events:
            answer = next(answers)
            if answer.status == "stored":
                report.stored += 1
            elif answer.status == "duplicate":
                report.duplicates += 1
            else:
                ok = False
                problem = f"{answer.status}: {event['type']} event {event['event_id']}"
                if answer.reason:
                    problem += f": {answer.reason}"
                target = report.conflicts if answer.status == "conflict" else report.rejected
                target.append(RowProblem(row, answer.field or "", problem))
        report.imported += ok


def import_file(
    store: Store,
    format: str,
    path: Path | str,
    *,
    project: str,
    options: ImportOptions | None = None,
    batch_size: int = DEFAULT_BATCH,
    progress: ProgressCallback | None = None,
) -> ImportReport:
    """Import the rows of ``path`` (in ``format``: see :data:`IMPORTERS`) into ``project`` of
    ``store``; answer what was read, stored, a duplicate, rejected (with row numbers and reasons)
    or in conflict. ``progress`` hears the rows read after every batch appended
    (:mod:`preflog.progress`)."""
    converter = IMPORTERS.get(format)
    if converter is None:
        raise ConfigError(f"unknown import format {format!r}; choose one of: {', '.join(sorted(IMPORTERS))}")
    if batch_size < 1:
        raise ConfigError("batch_size must be at least 1")
    options = options or ImportOptions()
    file = Path(path)
    reader = READERS.get(format, iter_rows)
    if not (file.is_file() or (reader is not iter_rows and file.is_dir())):
        raise ConfigError(f"cannot read {file}: no such file")
    report = ImportReport(format=format, path=str(file))
    requests: set[str] = set()
    batch = _Batch()
    for number, value, problem in reader(file):
        report.rows += 1
        if problem is not None:
            report.rejected.append(RowProblem(number, "", problem))
            continue
        try:
            events = convert_row(converter, value, options, project=project, store=store)
        except ValidationError as exc:
            report.rejected.append(RowProblem(number, exc.field, exc.reason))
            continue
        fresh = [e for e in events if e["type"] != "inference" or e["request_id"] not in requests]
        requests.update(e["request_id"] for e in events)
        batch.add(number, fresh)
        if batch.size >= batch_size:
            _flush(store, batch, project, report)
            batch = _Batch()
            if progress is not None:
                progress(ProgressUpdate("importing", report.rows, None, "rows"))
    _flush(store, batch, project, report)
    report.requests = len(requests)
    if progress is not None:
        progress(ProgressUpdate("importing", report.rows, None, "rows"))
    return report
