"""The DuckDB engine's final rows a batch at a time, for a standard file of plain-text pairs
(``trl``): the item checks, deduplication, the split and the incremental cut as masks over Arrow
columns, the kept rows' JSON lines made by DuckDB (:mod:`.sql_lines`) and written as they come, a
row holding a rare control character by json_line (:func:`preflog.formats.columnar.spliced`).
The same drops, counts and bytes as the row-by-row path in :mod:`.vectorized`
(``_pairs``), which it replaces only there; tests/engines/test_duck_text_lines.py checks both.

Exact where Python decides: a text is blank when ``str.strip`` leaves nothing, which Unicode's
whitespace decides; a text holding a printable ASCII character (``!`` to ``~``) is never blank, and
only the others (empty texts, texts of spaces or of other scripts only) are asked to Python.
Deduplication keeps the first of each triple of texts in output order (on DuckDB's hash of them,
exact where it repeats: :mod:`.dedupe`), and the split digests each normalized prompt, in Python
as the pipeline does.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING

import pyarrow as pa
import pyarrow.compute as pc

from preflog.compile.pipeline import CompileJob, Tally
from preflog.compile.resolve import digest
from preflog.compile.sample import split_of
from preflog.engines import duck_sql as sql
from preflog.engines.buckets import final_batches
from preflog.engines.dedupe import Seen
from preflog.engines.sql_lines import line_sql, rare_sql
from preflog.formats.columnar import spliced
from preflog.formats.encoded import Chunk
from preflog.records import normalized_prompt

if TYPE_CHECKING:
    import duckdb

TEXTS = ("prompt", "chosen", "rejected")


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
) -> Iterator[tuple[Chunk, int]]:
    """The JSON lines of the file's kept rows ``{keys: (prompt, chosen, rejected)}``, a batch at a
    time, each with its row count; every drop counted in ``drops``, every row in ``tally``.

    DuckDB makes each row's line (:mod:`.sql_lines`) on its own threads, a bucket ahead
    (:func:`.buckets.final_batches`); here the decisions run in order (deduplication needs the
    earlier rows) and the kept lines' bytes are written as they are, a rare row's by json_line."""
    fields = {
        "line": line_sql(keys, TEXTS),
        "rare": rare_sql("line"),
        "all_prompts": "true" if split is not None else "false",
    }
    seen = Seen()
    for batch in final_batches(conn, sql.TEXT_ROWS, batch_rows, **fields):
        if pc.any(batch.column("beyond_text")).as_py():
            raise BeyondText(batch.column("request_id")[0].as_py())
        mask = _keep(batch, job, split, drops, seen)
        kept = batch if pc.all(mask).as_py() else batch.filter(mask)
        if not kept.num_rows:
            continue
        _tally(tally, kept)
        yield _lines(kept, keys), kept.num_rows
    seen.verify(conn)


def _lines(kept: pa.RecordBatch, keys: Sequence[str]) -> Chunk:
    lines = kept.column("line")
    if lines.type != pa.string() and lines.type != pa.large_string():
        lines = lines.cast(pa.large_string())  # a string view: one buffer of whole lines
    rare = pc.indices_nonzero(kept.column("rare")).to_pylist()
    texts = [kept.column(f"{name}_text") for name in TEXTS]
    pieces = spliced(lines, rare, keys, texts)
    return pieces[0] if len(pieces) == 1 else b"".join(pieces)


def _keep(
    batch: pa.RecordBatch, job: CompileJob, split: str | None, drops: Counter[str], seen: Seen
) -> pa.BooleanArray:
    """Which rows of ``batch`` are written, in the pipeline's order of decisions: the split, the
    checks of ``_Request._check`` (first reason wins), deduplication, the incremental cut."""
    opts = job.options
    left = _Left(batch.num_rows, drops)
    if split is not None:
        fraction = opts.test_fraction
        prompts = batch.column("prompt_text").to_pylist()
        left.keep(
            pa.array([split_of(digest(normalized_prompt(p, None)), fraction) == split for p in prompts])
        )
    left.drop(_blank(batch, "prompt"), "missing_prompt")
    if opts.drop_empty:
        left.drop(pc.or_(_blank(batch, "chosen"), _blank(batch, "rejected")), "empty_output")
    left.drop(batch.column("identical"), "identical_outputs")
    if opts.models:
        models = pa.array(sorted(opts.models), pa.string())
        known = pc.or_(
            pc.is_in(batch.column("chosen_model"), models), pc.is_in(batch.column("rejected_model"), models)
        )
        left.drop(pc.invert(known), "filtered_model")
    left.drop(_duplicates(batch, left.mask, seen), "duplicate")
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


def _blank(batch: pa.RecordBatch, name: str) -> pa.BooleanArray:
    """``not text.strip()`` for each text ``name``, exactly (see the module docstring): a text
    with a printable ASCII character is not blank; Python asks the others (their text is there)."""
    undecided = pc.indices_nonzero(pc.invert(batch.column(f"{name}_printable"))).to_pylist()
    flags = [False] * batch.num_rows
    texts = batch.column(f"{name}_text").take(pa.array(undecided, pa.int64())).to_pylist()
    for index, text in zip(undecided, texts, strict=True):
        flags[index] = not text.strip()
    return pa.array(flags, pa.bool_())


def _duplicates(batch: pa.RecordBatch, kept: pa.BooleanArray, seen: Seen) -> pa.BooleanArray:
    """The kept rows whose texts' hash an earlier kept row (of this batch or an earlier one) had."""
    hashes, ords = batch.column("texts").filter(kept), batch.column("ord").filter(kept)
    keys = hashes.to_pylist()
    none = pa.array([False] * batch.num_rows, pa.bool_())
    if seen.add_fresh(keys, hashes, ords):  # the common batch: no loop in Python
        return none
    hits = [seen.repeated(h, o) for h, o in zip(keys, ords.to_pylist(), strict=True)]
    return pc.replace_with_mask(none, kept, pa.array(hits, pa.bool_()))


def _tally(tally: Tally, kept: pa.RecordBatch) -> None:
    sources = _counts(pc.list_flatten(kept.column("sources")))
    tally.add_counts(kept.num_rows, sources, _counts(kept.column("chosen_model")))


def _counts(values: pa.Array) -> dict[str, int]:
    counted = pc.value_counts(values)
    return dict(zip(counted.field("values").to_pylist(), counted.field("counts").to_pylist(), strict=True))


__all__ = ["BeyondText", "encoded_lines"]
