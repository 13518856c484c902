"""``compile_dataset``: events → a training dataset directory, deterministically.

The store is read twice, each time streaming in position order and never more than needed: first
the judgment side (small events: judgments, retractions, erasures), kept as compact votes per
request; then the inferences, each joined the moment it is read, its texts parked in an on-disk
spill. Deduplication, sampling and the split work on small drafts; the texts come back from the
spill only while the files are written, one record at a time.
"""

from __future__ import annotations

import gc
import logging
import shutil
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Protocol, runtime_checkable
from urllib.parse import quote

from preflog.compile.implicit import rule_signals
from preflog.compile.judgments import JudgmentFilter, collect_judgments, iter_judgment_events, to_pending
from preflog.compile.manifest import (
    CARD_NAME,
    MANIFEST_NAME,
    Manifest,
    created_at,
    load_manifest,
    render_card,
)
from preflog.compile.options import CompileOptions, time_bounds
from preflog.compile.resolve import JoinContext, join_request, judgment_count
from preflog.compile.sample import deduplicate, sample, split_of
from preflog.compile.spill import Draft, LazyRecords, TextSpill, is_chat
from preflog.errors import ConfigError
from preflog.formats import get_format
from preflog.formats.base import DataFile, FormatSpec, data_file_name, sha256_file, write_rows_file
from preflog.progress import ProgressCallback, counting, report
from preflog.records import TOOL_CALLS, Pair, Record
from preflog.store.base import Store

NO_USER = "_no_user"
log = logging.getLogger(__name__)


def compile_dataset(
    store: Store,
    *,
    project: str,
    out_dir: Path | str,
    format: str = "trl",
    options: CompileOptions | None = None,
    since_manifest: Path | str | None = None,
    force: bool = False,
    progress: ProgressCallback | None = None,
) -> Manifest:
    """Compile ``project``'s events into ``out_dir`` in ``format``; answer the manifest written.

    ``since_manifest`` (a previous ``manifest.json`` or its directory) makes the compile
    incremental: only items whose join became possible or changed after that manifest's
    watermark are written — a new judgment, a judgment that arrived late for an old inference,
    an old orphan judgment whose inference has now arrived, or a late retraction.

    ``out_dir`` must be empty, new, or an earlier compile's (it holds ``manifest.json``): other
    files are never overwritten unless ``force``. ``progress`` gets the stages as they advance
    (:mod:`preflog.progress`).
    """
    opts = options or CompileOptions()
    spec = get_format(format)
    out = Path(out_dir)
    previous = None
    if since_manifest is not None:
        before = load_manifest(since_manifest)
        if before.project != project:
            raise ConfigError(
                f"since_manifest: that manifest is for project {before.project!r}, not {project!r}"
            )
        previous = before.watermark
    stamp = created_at()  # first: a bad SOURCE_DATE_EPOCH fails before any work
    watermark = store.last_position(project=project)
    _prepare_out_dir(out, force=force)
    job = CompileJob(project, out, spec, opts, watermark, previous, progress)
    outcome = store.compile_vectorized(job) if isinstance(store, Vectorized) else None
    engine = engine_label(store, outcome)
    if isinstance(store, Vectorized):
        log.info("compile %s: engine %s", project, engine)
    done = outcome if isinstance(outcome, Compiled) else _pipeline(store, job)
    manifest = Manifest(
        format=spec.name,
        kind=spec.kind,
        project=project,
        watermark=watermark,
        previous_watermark=previous,
        options=opts.to_dict(),
        counts_in=done.counts_in,
        counts_out=done.counts_out,
        drops={k: v for k, v in done.drops.items() if v},
        files=done.files,
        created_at=stamp,
        engine=engine,
    )
    (out / MANIFEST_NAME).write_text(manifest.dumps(), encoding="utf-8")
    (out / CARD_NAME).write_text(render_card(manifest), encoding="utf-8")
    return manifest


def engine_label(store: Store, outcome: Compiled | str | None) -> str:
    """The manifest's ``engine``: the event source's ``engine`` name (``local`` for a store or an
    archive read by pyarrow, ``spark``), and for an engine with a path of its own (DuckDB's SQL
    path), which one this compile took. A manifest from before the field has none; readers
    (incremental compiles, ``preflog verify``) never need it."""
    name = str(getattr(store, "engine", "local"))
    if not isinstance(store, Vectorized):
        return name
    if isinstance(outcome, Compiled):
        return f"{name} (vectorized)"
    return f"{name} (pipeline fallback: {outcome})"


@dataclass(frozen=True)
class CompileJob:
    """One compile as an engine's own path sees it (:class:`Vectorized`)."""

    project: str
    out: Path
    spec: FormatSpec
    options: CompileOptions
    watermark: int
    previous: int | None  # the since_manifest watermark (incremental), else None
    progress: ProgressCallback | None = None


@dataclass
class Compiled:
    """What a compile wrote and counted, for its manifest."""

    counts_in: dict[str, object]
    counts_out: dict[str, object]
    drops: Counter[str]
    files: list[DataFile]


@runtime_checkable
class Vectorized(Protocol):
    """An event source that runs whole compiles itself where it can (the DuckDB engine's SQL
    path, :mod:`preflog.engines.vectorized`): it answers what it wrote, or why this compile takes
    the pipeline instead (recorded in the manifest's ``engine``). Same bytes either way."""

    engine: str

    def compile_vectorized(self, job: CompileJob) -> Compiled | str: ...


def _pipeline(store: Store, job: CompileJob) -> Compiled:
    """The one pipeline: join, deduplicate, the incremental cut, sample, write."""
    drops: Counter[str] = Counter()
    spill = TextSpill()
    collecting = gc.isenabled()
    gc.disable()  # millions of long-lived small objects, no cycles: the cyclic GC only rescans them
    try:
        drafts, counts_in = _join(
            store, job.project, job.watermark, job.spec, job.options, spill, drops, job.progress
        )
        drafts = deduplicate(drafts, drops)
        if job.previous is not None:
            fresh = [d for d in drafts if d.latest > job.previous]
            drops["compiled_before"] += len(drafts) - len(fresh)
            drafts = fresh
        drafts = sample(drafts, job.options, drops)
        counts_out: dict[str, object] = {"items": len(drafts)}
        files = _write(job.out, job.spec, job.options, drafts, spill, counts_out, job.progress)
    finally:
        spill.close()
        if collecting:
            gc.enable()
    return Compiled(counts_in, counts_out, drops, files)


def _prepare_out_dir(out: Path, *, force: bool) -> None:
    """Make ``out``, refusing (before any work) a file, a directory that cannot be made, and one
    holding someone's files: only an earlier compile's directory (with its manifest) is reused."""
    if out.exists() and not out.is_dir():
        raise ConfigError(f"out_dir: {str(out)!r} is a file, not a directory")
    if not force and out.is_dir() and not (out / MANIFEST_NAME).is_file() and any(out.iterdir()):
        raise ConfigError(
            f"out_dir: {str(out)!r} is not empty and holds no {MANIFEST_NAME} of an earlier compile; "
            "nothing was written (`force` writes into it anyway)"
        )
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"out_dir: cannot create {str(out)!r}: {exc.strerror}") from exc


def _join(
    store: Store,
    project: str,
    watermark: int,
    spec: FormatSpec,
    opts: CompileOptions,
    spill: TextSpill,
    drops: Counter[str],
    progress: ProgressCallback | None = None,
) -> tuple[list[Draft], dict[str, object]]:
    since, until = time_bounds(opts)
    keep = rule_signals(opts.implicit_pairs, opts.implicit_accept) if spec.kind == "pairs" else frozenset()
    flt = JudgmentFilter(frozenset(opts.sources), frozenset(opts.criteria), since, until, keep)
    judged = iter_judgment_events(store, project=project, until_position=watermark)
    judgments = collect_judgments(counting(judged, progress, "reading judgments", unit="events"), flt)
    drops.update(judgments.drops)
    # Parquet gives a column one struct type: messages whose keys differ from row to row, and the
    # arguments of different tools, would come back padded with nulls — not the calls logged.
    carries = spec.carries - {TOOL_CALLS} if opts.parquet else spec.carries
    ctx = JoinContext(
        opts, spec.kind, judgments.retracted, judgments.erased_requests, spill, drops, carries, spec.refuses
    )
    pending = judgments.pending
    drafts: list[Draft] = []
    inferences = joined = 0
    read = store.iter_events(project=project, types=["inference"], until_position=watermark)
    for item in counting(read, progress, "joining inferences", unit="inferences"):
        inferences += 1
        waiting = pending.pop(str(item.event["request_id"]), None)
        if waiting is not None:
            joined += 1
            drafts.extend(join_request(item.event, item.erased, item.position, waiting, ctx))
    for waiting in pending.values():
        drops["orphan"] += judgment_count(to_pending(waiting))
    events = dict(sorted(judgments.read.items()))
    events["inference"] = inferences
    counts_in = {
        "events": events,
        "requests_judged": joined + len(pending),
        "requests_joined": joined,
        "orphan_requests": len(pending),
    }
    return drafts, counts_in


def group_dir(user_id: str | None) -> str:
    return "users/" + (quote(user_id, safe="") if user_id else NO_USER)


def _write(
    out: Path,
    spec: FormatSpec,
    opts: CompileOptions,
    drafts: list[Draft],
    spill: TextSpill,
    counts: dict[str, object],
    progress: ProgressCallback | None = None,
) -> list[DataFile]:
    """Write the data files (and the format's side files); fill ``counts`` as records go by."""
    groups: dict[tuple[str, str], list[Draft]] = defaultdict(list)
    for draft in drafts:
        group = group_dir(draft.user_id) if opts.group_by == "user" else ""
        groups[(group, split_of(draft.prompt_key, opts.test_fraction))].append(draft)
    if opts.group_by is None:
        for split in splits_of(opts):
            groups.setdefault(("", split), [])
    conversational = any(is_chat(d, spill) for d in drafts)
    tally = Tally(progress, total=len(drafts))
    files = {
        key: LazyRecords(items, spill, spec.kind, conversational=conversational, seen=tally.add)
        for key, items in groups.items()
    }
    return write_files(out, spec, opts, files, counts, tally)


def splits_of(opts: CompileOptions) -> list[str]:
    return ["train", "test"] if opts.test_fraction > 0 else ["train"]


def write_files(
    out: Path,
    spec: FormatSpec,
    opts: CompileOptions,
    groups: Mapping[tuple[str, str], Sequence[Record]],
    counts: dict[str, object],
    tally: Tally,
) -> list[DataFile]:
    """Write one data file per (group, split) with the format's writer, then its side files; fill
    ``counts``. ``groups`` are the records of each file in output order (each sequence reports its
    records to ``tally`` as the writer reads them); the DuckDB engine's SQL path writes through here."""
    _clear_previous(out)
    out.mkdir(parents=True, exist_ok=True)
    files: list[DataFile] = []
    for (group, split), records in sorted(groups.items()):
        name = data_file_name(split, parquet=opts.parquet)
        relative = f"{group}/{name}" if group else name
        info = write_rows_file(out / relative, spec.write_rows(records), parquet=opts.parquet)
        files.append(DataFile(relative, info.rows, info.bytes, info.sha256))
    by_split: Counter[str] = Counter()
    for f in files:
        by_split[Path(f.name).stem] += f.rows
    if spec.extra_files is not None:  # side files (e.g. dataset_info.json) are listed and hashed too
        for name, text in sorted(spec.extra_files(list(files)).items()):
            path = out / name
            path.write_text(text, encoding="utf-8")
            files.append(DataFile(name, 0, path.stat().st_size, sha256_file(path)))
    counts["by_split"] = dict(sorted(by_split.items()))
    counts["by_source"] = dict(sorted(tally.by_source.items()))
    counts["by_model"] = dict(sorted(tally.by_model.items()))
    if opts.group_by == "user":
        counts["groups"] = len({Path(f.name).parent.as_posix() for f in files})
    return files


class Tally:
    """Counts by judge kind and by model (of the chosen or only output) of the records written;
    ``progress`` hears of every thousandth."""

    def __init__(self, progress: ProgressCallback | None = None, total: int | None = None) -> None:
        self.by_source: Counter[str] = Counter()
        self.by_model: Counter[str] = Counter()
        self.written = 0
        self.progress = progress
        self.total = total

    def add(self, record: Record) -> None:
        self.written += 1
        if self.progress is not None and (self.written % 1000 == 0 or self.written == self.total):
            report(self.progress, "writing", self.written, self.total, unit="items")
        if isinstance(record, Pair):
            for source in record.sources:  # Counter.update's own checks cost ~1.8 µs a record
                self.by_source[source] += 1
            self.by_model[record.chosen_model] += 1
        else:
            self.by_source[record.source] += 1
            self.by_model[record.model] += 1

    def add_counts(self, written: int, by_source: Mapping[str, int], by_model: Mapping[str, int]) -> None:
        """``written`` records at once, with their counts (the DuckDB engine's columnar rows): the
        same counts and progress reports as :meth:`add` of each."""
        if self.progress is not None:
            marks = set(range((self.written // 1000 + 1) * 1000, self.written + written + 1, 1000))
            if self.total is not None and self.written < self.total <= self.written + written:
                marks.add(self.total)
            for done in sorted(marks):
                report(self.progress, "writing", done, self.total, unit="items")
        self.written += written
        self.by_source.update(by_source)
        self.by_model.update(by_model)


def _inside(out: Path, root: Path, name: str) -> Path | None:
    """``out / name`` when that names a file inside ``out`` (no absolute path, no ``..``, no
    directory that leads elsewhere through a link), else None: a manifest is a file anyone can
    edit, and compile must never delete outside its own directory because one says so.

    >>> [_inside(Path("d"), Path("d").resolve(), n) for n in ("../x", "/etc/x", "users/u1/train.jsonl")]
    [None, None, PosixPath('d/users/u1/train.jsonl')]
    """
    relative = PurePosixPath(name)
    if not name or relative.is_absolute() or ".." in relative.parts or "\\" in name:
        return None
    path = out / relative
    try:
        if not path.parent.resolve().is_relative_to(root):
            return None
    except OSError:
        return None
    return path


def _clear_previous(out: Path) -> None:
    """Remove the files a previous compile wrote here, so no stale split or user file remains."""
    manifest = out / MANIFEST_NAME
    if not manifest.is_file():
        return
    try:
        old = load_manifest(manifest)
    except ConfigError:
        return
    root = out.resolve()
    for f in old.files:
        path = _inside(out, root, f.name)
        if path is None:
            log.warning("compile: the manifest in %s lists %r, outside it: left alone", out, f.name)
            continue
        path.unlink(missing_ok=True)
    users = out / "users"
    if users.is_dir() and not any(users.rglob("*.*")):
        shutil.rmtree(users)
