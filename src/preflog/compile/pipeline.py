"""``compile_dataset``: events → a training dataset directory, deterministically.

The store is read twice, each time streaming in position order and never more than needed: first
the judgment side (small events: judgments, retractions, erasures), kept as compact votes per
request; then the inferences, each joined the moment it is read, its texts parked in an on-disk
spill. Deduplication, sampling and the split work on small drafts; the texts come back from the
spill only while the files are written, one record at a time.
"""

from __future__ import annotations

import gc
import shutil
from collections import Counter, defaultdict
from pathlib import Path
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
    drops: Counter[str] = Counter()
    spill = TextSpill()
    collecting = gc.isenabled()
    gc.disable()  # millions of long-lived small objects, no cycles: the cyclic GC only rescans them
    try:
        drafts, counts_in = _join(store, project, watermark, spec, opts, spill, drops, progress)
        drafts = deduplicate(drafts, drops)
        if previous is not None:
            fresh = [d for d in drafts if d.latest > previous]
            drops["compiled_before"] += len(drafts) - len(fresh)
            drafts = fresh
        drafts = sample(drafts, opts, drops)
        counts_out: dict[str, object] = {"items": len(drafts)}
        files = _write(out, spec, opts, drafts, spill, counts_out, progress)
    finally:
        spill.close()
        if collecting:
            gc.enable()
    manifest = Manifest(
        format=spec.name,
        kind=spec.kind,
        project=project,
        watermark=watermark,
        previous_watermark=previous,
        options=opts.to_dict(),
        counts_in=counts_in,
        counts_out=counts_out,
        drops={k: v for k, v in drops.items() if v},
        files=files,
        created_at=stamp,
    )
    (out / MANIFEST_NAME).write_text(manifest.dumps(), encoding="utf-8")
    (out / CARD_NAME).write_text(render_card(manifest), encoding="utf-8")
    return manifest


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


def _group_dir(user_id: str | None) -> str:
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
    _clear_previous(out)
    out.mkdir(parents=True, exist_ok=True)
    splits = ["train", "test"] if opts.test_fraction > 0 else ["train"]
    groups: dict[tuple[str, str], list[Draft]] = defaultdict(list)
    for draft in drafts:
        group = _group_dir(draft.user_id) if opts.group_by == "user" else ""
        groups[(group, split_of(draft.prompt_key, opts.test_fraction))].append(draft)
    if opts.group_by is None:
        for split in splits:
            groups.setdefault(("", split), [])
    files: list[DataFile] = []
    conversational = any(is_chat(d, spill) for d in drafts)
    tally = _Tally(progress, total=len(drafts))
    for (group, split), items in sorted(groups.items()):
        name = data_file_name(split, parquet=opts.parquet)
        relative = f"{group}/{name}" if group else name
        records = LazyRecords(items, spill, spec.kind, conversational=conversational, seen=tally.add)
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


class _Tally:
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
            self.by_source.update(record.sources)
            self.by_model[record.chosen_model] += 1
        else:
            self.by_source[record.source] += 1
            self.by_model[record.model] += 1


def _clear_previous(out: Path) -> None:
    """Remove the files a previous compile wrote here, so no stale split or user file remains."""
    manifest = out / MANIFEST_NAME
    if not manifest.is_file():
        return
    try:
        old = load_manifest(manifest)
    except ConfigError:
        return
    for f in old.files:
        (out / f.name).unlink(missing_ok=True)
    users = out / "users"
    if users.is_dir() and not any(users.rglob("*.*")):
        shutil.rmtree(users)
