"""The DuckDB engine's column-wise final rows for standard ``trl`` files: the columnar JSON lines
are exactly the row writer's bytes for any Unicode; whole compiles of arbitrary texts (Unicode
whitespace, control characters, emoji, line separators) write what the store's compile writes,
with the same drops and counts; and the batch tally reports as the per-record one."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from preflog.compile.pipeline import Tally
from preflog.engines.sql_lines import line_sql, rare_sql
from preflog.formats.base import EncodedRows, json_line
from preflog.formats.columnar import spliced
from preflog.formats.trl import write_preference
from preflog.progress import ProgressUpdate
from preflog.records import Pair
from preflog.store import open_store
from tests import factories as f
from tests.compile.helpers import append_all
from tests.engines.test_duck_vectorized import PROJECT, compile_both

KEYS = ("prompt", "chosen", "rejected")
# Every code point but the surrogates (Arrow strings are UTF-8, which cannot hold one), and the
# characters JSON escapes or that look alike, drawn often.
ANY = st.text(st.characters(exclude_categories=["Cs"]), max_size=20)
TRICKY = st.text(
    st.sampled_from(
        [
            '"',
            "\\",
            "\n",
            "\r",
            "\t",
            "\b",
            "\f",
            "\x00",
            "\x1f",
            "\x7f",
            "\u2028",
            "\u2029",
            "😀",
            "é",
            "\u3000",
            "\x1c",
            "\x85",
            "\ufeff",
            "/",
            "a",
            " ",
        ]
    ),
    max_size=12,
)
TEXT = ANY | TRICKY


@given(rows=st.lists(st.tuples(TEXT, TEXT, TEXT), max_size=30), start=st.integers(0, 3))
@settings(max_examples=300, deadline=None)
def test_the_columnar_lines_are_the_row_writers_bytes(rows: list[tuple[str, str, str]], start: int) -> None:
    """DuckDB's lines of the rows, spliced with json_line for the rows it flags (what a trl file's
    bytes are made of), from an offset into the arrays as a filtered batch has."""
    conn = duckdb.connect()
    try:
        conn.execute("CREATE TABLE t (i INT, a VARCHAR, b VARCHAR, c VARCHAR)")
        if rows:
            conn.executemany("INSERT INTO t VALUES (?, ?, ?, ?)", [(i, *r) for i, r in enumerate(rows)])
        line = line_sql(KEYS, ("a", "b", "c"))
        query = f"SELECT {line} AS line, {rare_sql('line')} AS rare, a, b, c FROM t ORDER BY i"
        got = conn.execute(query).to_arrow_table()
    finally:
        conn.close()
    got = got.slice(min(start, len(rows)))
    lines = got.column("line").combine_chunks().cast(pa.large_string())
    rare = pc.indices_nonzero(got.column("rare").combine_chunks()).to_pylist()
    texts = [got.column(name).combine_chunks() for name in ("a", "b", "c")]
    expected = b"".join(json_line(dict(zip(KEYS, r, strict=True))) for r in rows[start:])
    assert b"".join(spliced(lines, rare, KEYS, texts)) == expected


def test_a_lone_surrogate_never_reaches_the_columnar_writer() -> None:
    """Arrow refuses one, as the row writer does (UTF-8 cannot hold it): neither writes a byte."""
    with pytest.raises(UnicodeEncodeError):
        pa.array(["\ud800 lone"], pa.string())
    with pytest.raises(UnicodeEncodeError):
        json_line({"prompt": "\ud800"})


def test_write_preference_uses_the_lines_a_sequence_offers_only_for_standard_files() -> None:
    pairs = [Pair("2+2?", None, "4", "5", "r", "a", "b", "m1", "m2")]

    class Offering(list[Pair]):
        conversational = False

        def text_lines(self, keys: tuple[str, ...]) -> Any:
            return iter([(b"LINES", 1)])

    rows = write_preference(Offering(pairs))
    assert isinstance(rows, EncodedRows) and list(rows.chunks()) == [(b"LINES", 1)]
    assert list(write_preference(Offering(pairs))) == [{"prompt": "2+2?", "chosen": "4", "rejected": "5"}]
    chat = Offering([Pair([{"role": "user", "content": "Hi"}], None, "4", "5", "r", "a", "b", "m", "m")])
    chat.conversational = True
    assert not isinstance(write_preference(chat), EncodedRows)


def test_the_batch_tally_counts_and_reports_as_each_record_would() -> None:
    one: list[ProgressUpdate] = []
    many: list[ProgressUpdate] = []
    per_record, batched = Tally(one.append, total=2500), Tally(many.append, total=2500)
    sources = [("human",), ("ai_judge", "human"), ("end_user",)]
    for i in range(2500):
        pair = Pair("p", None, "c", "r", "q", "a", "b", f"m{i % 3}", "m", sources=sources[i % 3])
        per_record.add(pair)
    for start in range(0, 2500, 700):  # batches across the thousands
        size = min(700, 2500 - start)
        by_source: dict[str, int] = {}
        by_model: dict[str, int] = {}
        for i in range(start, start + size):
            for s in sources[i % 3]:
                by_source[s] = by_source.get(s, 0) + 1
            by_model[f"m{i % 3}"] = by_model.get(f"m{i % 3}", 0) + 1
        batched.add_counts(size, by_source, by_model)
    assert (batched.written, batched.by_source, batched.by_model) == (
        per_record.written,
        per_record.by_source,
        per_record.by_model,
    )
    assert many == one and [u.done for u in one] == [1000, 2000, 2500]


# The store refuses a blank prompt and NUL characters; anything else goes.
STORED = st.text(st.characters(exclude_categories=["Cs"], exclude_characters="\x00"), max_size=10) | st.text(
    st.sampled_from(
        ['"', "\\", "\n", "\t", "\b", "\x1f", "\u2028", "😀", "\u3000", "\x1c", "\x85", " ", "a"]
    ),
    max_size=6,
)


@st.composite
def text_projects(draw: st.DrawFn) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    for _ in range(draw(st.integers(1, 6))):
        prompt = draw(STORED.filter(str.strip))
        outputs = tuple(draw(STORED) for _ in range(draw(st.integers(2, 3))))
        inference = f.inference(outputs=outputs, prompt=prompt)
        events.append(inference)
        for _ in range(draw(st.integers(1, 2))):
            chosen, rejected = draw(st.permutations([f"c{i}" for i in range(len(outputs))]))[:2]
            events.append(f.preference(inference["request_id"], chosen, rejected))
    return events


@given(
    events=text_projects(),
    options=st.sampled_from([{}, {"drop_empty": True}, {"test_fraction": 0.5}, {"models": ("model-b",)}]),
)
@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_compiles_of_arbitrary_texts_write_the_pipelines_bytes(
    events: list[dict[str, Any]], options: dict[str, Any]
) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        store = open_store(str(root / "events.db"))
        try:
            append_all(store, events, PROJECT)
            _, fast = compile_both(store, root, "trl", options)  # bytes, counts and drops
            assert fast.engine == "duckdb (vectorized)"
        finally:
            store.close()
