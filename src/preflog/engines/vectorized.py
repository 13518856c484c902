"""The DuckDB engine's vectorized compile: the join, the filters, the candidate lookup and the
aggregation of a compile run as SQL over the archive (:mod:`.duck_sql`), and only the final rows
— prompt, the two texts, ids — come back to Python, for the checks on texts, deduplication, the
split and preflog's own writers (:func:`preflog.compile.pipeline.write_files`). No event's JSON
is decoded at all: the SQL reads the archive's typed columns. A standard ``trl`` file skips even
the per-row Python: its checks are masks over a batch of columns and its JSON lines are made by
DuckDB (:mod:`.text_lines`, :mod:`.sql_lines`, :mod:`preflog.formats.columnar`).

It stands in for the pipeline exactly where the events and options allow; anywhere else
:func:`why_not` or the probe names the reason and the compile takes the pipeline, recorded in the
manifest (``engine: duckdb (pipeline fallback: <reason>)``). Same bytes either way
(tests/engines/test_same_bytes.py, tests/engines/test_duck_vectorized.py).
"""

from __future__ import annotations

import gc
import json
import logging
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, Final, overload

from preflog.compile.options import CompileOptions, time_bounds
from preflog.compile.pipeline import Compiled, CompileJob, Tally, splits_of, write_files
from preflog.compile.resolve import digest
from preflog.compile.sample import split_of
from preflog.engines import duck_sql as sql
from preflog.engines.buckets import final_batches
from preflog.engines.dedupe import HashCollision, Seen
from preflog.engines.text_lines import BeyondText, encoded_lines
from preflog.formats.base import json_line
from preflog.formats.encoded import Chunk
from preflog.records import Pair, Record, normalized_prompt

if TYPE_CHECKING:
    import duckdb

# Rows fetched from DuckDB at a time: 20,000 rows of ~1 KB are ~20 MB of Arrow buffers, and large
# enough that the per-batch cost (~1 ms) is lost in the per-row work.
BATCH: Final = 20_000
JUDGMENT_TYPES: Final = ("erasure", "preference", "retraction", "score", "signal")
log = logging.getLogger(__name__)
BEYOND_TEXT: Final = (
    "chat or system prompts, or replies beyond one text (tool calls, continuations, refusals)"
)
COLLISION: Final = "two different pairs with one 64-bit hash of their texts"


def why_not(job: CompileJob) -> str | None:
    """Why the options or the format of ``job`` need the pipeline (None: they are vectorized)."""
    o = job.options
    if job.spec.kind != "pairs":
        return "unpaired format"
    if o.group_by is not None:
        return "per-user groups"
    if o.implicit_pairs:
        return "implicit pairs"
    if o.max_per_prompt or o.max_per_user or o.balance_position or o.balance_length:
        return "caps and balancing"
    return None


def probe(conn: duckdb.DuckDBPyConnection) -> str | None:
    """Why the events need the pipeline, from their typed columns (None: nothing found)."""
    (row,) = conn.execute(sql.PROBE).fetchall()
    names = [d[0] for d in conn.description or []]
    return next((name for name, n in zip(names, row, strict=True) if n), None)


def compile_rows(conn: duckdb.DuckDBPyConnection, job: CompileJob) -> Compiled | str:
    """Run ``job`` on the view ``ev``; answer what was written, or why the pipeline must run."""
    stage = _Stages()
    reason = why_not(job) or probe(conn)
    if reason is not None:
        return reason
    opts = job.options
    since, until = time_bounds(opts)
    filters = {
        "has_sources": bool(opts.sources),
        "sources": list(opts.sources),
        "since": since,
        "until": until,
    }
    conn.execute(
        sql.JUDGMENTS, {**filters, "has_criteria": bool(opts.criteria), "criteria": list(opts.criteria)}
    )
    drops: Counter[str] = Counter(
        dict(conn.execute("SELECT reason, count(*) FROM j GROUP BY ALL").fetchall())
    )
    stage("probe and judgments")
    counts_in = _requests(conn, opts, drops)
    conn.execute(sql.VOTES)
    conn.execute(sql.DONE_WITH_JUDGMENTS)
    drops.update(dict(conn.execute("SELECT 'unknown_candidate', count(*) FROM v WHERE NOT known").fetchall()))
    conn.execute(sql.DECISIONS, {"rule": opts.aggregate, "min_agreement": opts.min_agreement})
    drops.update(dict(conn.execute("SELECT reason, count(*) FROM d GROUP BY ALL").fetchall()))
    drops.pop(None, None)  # type: ignore[call-overload]  # the rows kept
    conn.execute(sql.PAIRS)
    conn.execute(sql.DONE_WITH_VOTES)
    stage("requests, votes, decisions and the pairs in output order (no texts)")
    try:
        done = _write(conn, job, counts_in, drops)
    except BeyondText:  # the pipeline rewrites every file this attempt began (the same names)
        return BEYOND_TEXT
    except HashCollision:  # as above (engines.dedupe)
        return COLLISION
    stage("final rows: texts joined in SQL, checks, dedupe, the format's writer")
    return done


class _Stages:
    """Logs how long each stage of a vectorized compile took (bench/compile_engines.py prints them)."""

    def __init__(self) -> None:
        self.started = time.perf_counter()

    def __call__(self, name: str) -> None:
        now = time.perf_counter()
        log.info("duckdb stage: %s %.2f s", name, now - self.started)
        self.started = now


def _requests(
    conn: duckdb.DuckDBPyConnection, opts: CompileOptions, drops: Counter[str]
) -> dict[str, object]:
    conn.execute(sql.REQUESTS, {"has_users": bool(opts.users), "users": list(opts.users)})
    (row,) = conn.execute(sql.REQUEST_COUNTS).fetchall()
    judged, joined, orphans, filtered = (int(x) for x in row)
    drops["orphan"] += orphans
    drops["filtered_user"] += filtered
    read = dict(conn.execute(sql.READ_COUNTS).fetchall())
    events: dict[str, int] = {t: int(read[t]) for t in JUDGMENT_TYPES if read.get(t)}
    events["inference"] = int(read.get("inference", 0))
    return {
        "events": events,
        "requests_judged": judged,
        "requests_joined": joined,
        "orphan_requests": judged - joined,
    }


def _count(conn: duckdb.DuckDBPyConnection, query: str) -> int:
    rows = conn.execute(query).fetchall()
    return int(rows[0][0]) if rows else 0


def _write(
    conn: duckdb.DuckDBPyConnection, job: CompileJob, counts_in: dict[str, object], drops: Counter[str]
) -> Compiled:
    opts = job.options
    tally = Tally(job.progress)
    splits = splits_of(opts)
    files = {("", split): FinalRows(conn, job, split if len(splits) > 1 else None, tally) for split in splits}
    counts_out: dict[str, object] = {"items": 0}
    collecting = gc.isenabled()
    gc.disable()  # as in the pipeline: a million rows of short-lived objects, no cycles
    try:
        written = write_files(job.out, job.spec, opts, files, counts_out, tally)
    finally:
        if collecting:
            gc.enable()
    for rows in files.values():
        drops.update(rows.drops)
    counts_out["items"] = sum(f.rows for f in written if f.name.endswith((".jsonl", ".parquet")))
    return Compiled(counts_in, counts_out, drops, written)


class FinalRows(Sequence[Record]):
    """The pairs of one output file, streamed from DuckDB in output order each time a writer
    iterates (a writer may look twice: each look is a fresh query, nothing is held). ``split``
    keeps the rows of one split (None: all). The item checks, deduplication and the incremental
    cut happen here, as in the pipeline, and their drops are counted once per file."""

    def __init__(self, conn: duckdb.DuckDBPyConnection, job: CompileJob, split: str | None, tally: Tally):
        self.conn = conn
        self.job = job
        self.split = split
        self.tally = tally
        self.drops: Counter[str] = Counter()
        self.conversational = False  # text prompts, no system prompt, text replies (the probe)
        self._length: int | None = None

    def __iter__(self) -> Iterator[Record]:
        drops: Counter[str] = Counter()
        count = 0
        for pair in _pairs(self.conn, self.job, self.split, drops):
            count += 1
            self.tally.add(pair)
            yield pair
        self.drops, self._length = drops, count

    def text_lines(self, keys: Sequence[str]) -> Iterator[tuple[Chunk, int]]:
        """The JSON lines of the rows ``{keys: (prompt, chosen, rejected)}`` of this file, in chunks
        with their row counts (a standard ``trl`` file: preflog.formats.trl.write_preference);
        column-wise (:mod:`.text_lines`) unless the format refuses prompts of its own."""
        if self.job.spec.refuses is not None:
            for pair in self:
                assert isinstance(pair, Pair)  # a pair format's rows (why_not)
                yield json_line(dict(zip(keys, (pair.prompt, pair.chosen, pair.rejected), strict=True))), 1
            return
        drops: Counter[str] = Counter()
        count = 0
        for chunk, rows in encoded_lines(self.conn, self.job, self.split, self.tally, drops, keys, BATCH):
            count += rows
            yield chunk, rows
        self.drops, self._length = drops, count

    def __len__(self) -> int:
        if self._length is None:
            self._length = sum(1 for _ in _pairs(self.conn, self.job, self.split, Counter()))
        return self._length

    @overload
    def __getitem__(self, index: int) -> Record: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[Record]: ...
    def __getitem__(self, index: int | slice) -> Record | Sequence[Record]:
        rows = list(_pairs(self.conn, self.job, self.split, Counter()))
        return rows[index]


def _pairs(
    conn: duckdb.DuckDBPyConnection, job: CompileJob, split: str | None, drops: Counter[str]
) -> Iterator[Pair]:
    """The final pairs in output order: ``_Request._check``'s checks, then deduplication, then
    the incremental cut, as in the pipeline (every reason counted in ``drops``); deduplication on
    DuckDB's hash of the texts, checked where it repeats (:mod:`.dedupe`)."""
    opts = job.options
    check = _checker(opts, job.spec.refuses)
    previous = job.previous
    last: tuple[str, ...] = ()
    seen = Seen()
    for batch in final_batches(conn, sql.ROWS, BATCH):
        columns = batch.to_pydict()
        for row in zip(*columns.values(), strict=True):
            key = (row[19], row[3], row[4], row[5])  # Draft.key: inference time, request, winner, loser
            if key < last:  # never (ROWS orders by it): a guard, as the bytes depend on it
                raise RuntimeError(f"duckdb engine: the final rows came back out of order at {key}")
            last = key
            if row[21]:
                raise BeyondText(row[3])
            prompt, chosen, rejected = row[0], row[1], row[2]
            if (
                split is not None
                and split_of(digest(normalized_prompt(prompt, None)), opts.test_fraction) != split
            ):
                continue
            reason = check(prompt, chosen, rejected, row[6], row[7])
            if reason is not None:
                drops[reason] += 1
                continue
            if seen.repeated(row[20], row[22]):  # the hash of the texts, the row's ord (duck_sql.ROWS)
                drops["duplicate"] += 1
                continue
            if previous is not None and row[17] <= previous:
                drops["compiled_before"] += 1
                continue
            yield _pair(row)
    seen.verify(conn)


def _checker(
    opts: CompileOptions, refuses: Callable[[Any, str | None], str | None] | None
) -> Callable[[str, str, str, str, str], str | None]:
    models = frozenset(opts.models)
    drop_empty = opts.drop_empty

    def check(prompt: str, chosen: str, rejected: str, chosen_model: str, rejected_model: str) -> str | None:
        if not prompt.strip():
            return "missing_prompt"
        if drop_empty and (not chosen.strip() or not rejected.strip()):
            return "empty_output"
        if chosen == rejected:
            return "identical_outputs"
        if models and chosen_model not in models and rejected_model not in models:
            return "filtered_model"
        return refuses(prompt, None) if refuses is not None else None

    return check


def _pair(row: tuple[Any, ...]) -> Pair:
    """One final row as the pipeline's Pair (``_Request.pair_draft``'s fields, in order)."""
    (prompt, chosen, rejected, request_id, winner, loser, chosen_model, rejected_model, k, last_strength,
     strengths, sources, criterion, n, user_id, last_occurred, ids, _, chosen_first) = row[:19]  # fmt: skip
    if k == 1:
        margin = json.loads(last_strength) if last_strength is not None else None
    else:
        margins = [json.loads(s) for s in strengths or ()]
        margin = sum(margins) / len(margins) if margins else None
    return Pair(
        prompt,
        None,
        chosen,
        rejected,
        request_id,
        winner,
        loser,
        chosen_model,
        rejected_model,
        round(margin, 6) if margin is not None else None,
        tuple(sources),
        criterion,
        1.0 if k == n else round(k / n, 6),  # round(1.0, 6) is 1.0; the common case skips it
        n,
        user_id,
        last_occurred,
        chosen_first,
        tuple(ids),
    )
