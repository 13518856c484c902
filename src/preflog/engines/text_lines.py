"""The DuckDB engine's final rows a batch at a time, for a standard file of plain-text pairs
(``trl``): the item checks, deduplication, the split and the incremental cut as masks over Arrow
columns, then the kept rows' JSON lines written column-wise (:func:`preflog.formats.columnar.
text_lines`). The same drops, counts and bytes as the row-by-row path in :mod:`.vectorized`
(``_pairs``), which it replaces only there; tests/engines/test_duck_text_lines.py checks both.

Exact where Python decides: a text is blank when ``str.strip`` leaves nothing, which Unicode's
whitespace decides; a text holding a printable ASCII character (``!`` to ``~``) is never blank, and
only the others (empty texts, texts of spaces or of other scripts only) are asked to Python.
Deduplication keeps the first of each digest (duck_sql.ROWS ``texts``) in output order, and the
split digests each normalized prompt, in Python as the pipeline does.
"""

from __future__ import annotations

from collections import Counter, deque
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.compute as pc

from preflog.compile.pipeline import CompileJob, Tally
from preflog.compile.resolve import digest
from preflog.compile.sample import split_of
from preflog.engines import duck_sql as sql
from preflog.formats.columnar import text_lines
from preflog.records import normalized_prompt

if TYPE_CHECKING:
    import duckdb

TEXTS = ("prompt", "chosen", "rejected")
AHEAD = 2  # batches of lines in the making at once: ~20 MB each at 20,000 rows of ~1 KB


class BeyondText(Exception):
    """A final row's inference is not ``text_only`` (preflog.archive.rows): the pipeline must run."""


def encoded_lines(
    conn: duckdb.DuckDBPyConnection,
    job: CompileJob,
    split: str | None,
    tally: Tally,
    drops: Counter[str],
    keys: Sequence[str],
    batch_rows: int,
) -> Iterator[tuple[bytes, int]]:
    """The JSON lines of the file's kept rows ``{keys: (prompt, chosen, rejected)}``, a batch at a
    time, each with its row count; every drop counted in ``drops``, every row in ``tally``."""
    reader = conn.sql(sql.TEXT_ROWS).to_arrow_reader(batch_rows)
    assert reader is not None
    seen: set[Any] = set()
    # The decisions run here in order (deduplication needs the earlier rows); the escaping and
    # joining of each batch's kept texts, Arrow kernels that release the GIL, run on a second
    # thread while the next batch is fetched and decided, so both cores work (DuckDB is done
    # with its sort by the first batch). Lines are written in batch order.
    pending: deque[tuple[Future[list[bytes]], int]] = deque()
    with ThreadPoolExecutor(max_workers=AHEAD, thread_name_prefix="preflog-lines") as pool:
        for batch in reader:
            if pc.any(batch.column("beyond_text")).as_py():
                raise BeyondText(batch.column("request_id")[0].as_py())
            kept = batch.filter(_keep(batch, job, split, drops, seen))
            if not kept.num_rows:
                continue
            _tally(tally, kept)
            columns = [kept.column(name) for name in TEXTS]
            pending.append((pool.submit(text_lines, keys, columns), kept.num_rows))
            if len(pending) > AHEAD:
                lines, rows = pending.popleft()
                yield b"".join(lines.result()), rows
        while pending:
            lines, rows = pending.popleft()
            yield b"".join(lines.result()), rows


def _keep(
    batch: pa.RecordBatch, job: CompileJob, split: str | None, drops: Counter[str], seen: set[Any]
) -> pa.BooleanArray:
    """Which rows of ``batch`` are written, in the pipeline's order of decisions: the split, the
    checks of ``_Request._check`` (first reason wins), deduplication, the incremental cut."""
    opts = job.options
    left = _Left(batch.num_rows, drops)
    if split is not None:
        fraction = opts.test_fraction
        prompts = batch.column("prompt").to_pylist()
        left.keep(
            pa.array([split_of(digest(normalized_prompt(p, None)), fraction) == split for p in prompts])
        )
    prompt, chosen, rejected = (batch.column(name) for name in TEXTS)
    left.drop(_blank(prompt), "missing_prompt")
    if opts.drop_empty:
        left.drop(pc.or_(_blank(chosen), _blank(rejected)), "empty_output")
    left.drop(pc.equal(chosen, rejected), "identical_outputs")
    if opts.models:
        models = pa.array(sorted(opts.models), pa.string())
        known = pc.or_(
            pc.is_in(batch.column("chosen_model"), models), pc.is_in(batch.column("rejected_model"), models)
        )
        left.drop(pc.invert(known), "filtered_model")
    left.drop(_duplicates(batch.column("texts"), left.mask, seen), "duplicate")
    if job.previous is not None:
        left.drop(pc.less_equal(batch.column("latest"), job.previous), "compiled_before")
    return left.mask


class _Left:
    """The rows still kept, and the drops counted as each reason removes some."""

    def __init__(self, rows: int, drops: Counter[str]) -> None:
        self.mask = pa.array([True] * rows)
        self.drops = drops

    def keep(self, wanted: pa.BooleanArray) -> None:
        self.mask = pc.and_(self.mask, wanted)

    def drop(self, hit: pa.BooleanArray, reason: str) -> None:
        hit = pc.and_(self.mask, hit)
        count = pc.sum(hit).as_py() or 0
        if count:
            self.drops[reason] += count
            self.mask = pc.and_not(self.mask, hit)


def _blank(texts: pa.Array) -> pa.BooleanArray:
    """``not text.strip()`` for each text, exactly (see the module docstring)."""
    undecided = pc.indices_nonzero(pc.invert(pc.match_substring_regex(texts, "[!-~]"))).to_pylist()
    flags = [False] * len(texts)
    for index, text in zip(undecided, texts.take(pa.array(undecided, pa.int64())).to_pylist(), strict=True):
        flags[index] = not text.strip()
    return pa.array(flags, pa.bool_())


def _duplicates(texts: pa.Array, kept: pa.BooleanArray, seen: set[Any]) -> pa.BooleanArray:
    """The kept rows whose digest an earlier kept row (of this batch or an earlier one) had."""
    flags = [False] * len(texts)
    indices = pc.indices_nonzero(kept).to_pylist()
    for index, value in zip(indices, texts.take(pa.array(indices, pa.int64())).to_pylist(), strict=True):
        if value in seen:
            flags[index] = True
        else:
            seen.add(value)
    return pa.array(flags, pa.bool_())


def _tally(tally: Tally, kept: pa.RecordBatch) -> None:
    sources = _counts(pc.list_flatten(kept.column("sources")))
    tally.add_counts(kept.num_rows, sources, _counts(kept.column("chosen_model")))


def _counts(values: pa.Array) -> dict[str, int]:
    counted = pc.value_counts(values)
    return dict(zip(counted.field("values").to_pylist(), counted.field("counts").to_pylist(), strict=True))


__all__ = ["BeyondText", "encoded_lines"]
