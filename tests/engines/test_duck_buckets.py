"""The DuckDB engine's final rows a bucket at a time (preflog.engines.buckets) with their JSON
lines made by DuckDB (preflog.engines.sql_lines): DuckDB's lines are json_line's bytes for any
Unicode wherever they are not flagged rare; buckets follow the output order, narrow position
ranges apart and overlapping ones as one; a compile split into many buckets writes the pipeline's
bytes, counts and drops; an abandoned or failing iteration leaves the connection usable."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import duckdb
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from preflog.engines import buckets
from preflog.engines.buckets import Bucket, final_batches, plan
from preflog.engines.sql_lines import line_sql, rare_sql
from preflog.formats.base import json_line
from preflog.store import open_store
from tests import factories as f
from tests.compile.helpers import append_all
from tests.engines.test_duck_text_lines import KEYS, TEXT, text_projects
from tests.engines.test_duck_vectorized import (
    PAIR_FORMATS,
    VECTORIZED_OPTIONS,
    _plain_pair,
    compile_both,
    projects,
)


@given(rows=st.lists(st.tuples(TEXT, TEXT, TEXT), min_size=1, max_size=30))
@settings(max_examples=300, deadline=None)
def test_duckdbs_lines_are_json_lines_bytes_unless_flagged(rows: list[tuple[str, str, str]]) -> None:
    conn = duckdb.connect()
    try:
        conn.execute("CREATE TABLE t (i INT, a VARCHAR, b VARCHAR, c VARCHAR)")
        conn.executemany("INSERT INTO t VALUES (?, ?, ?, ?)", [(i, *r) for i, r in enumerate(rows)])
        line = line_sql(KEYS, ("a", "b", "c"))
        got = conn.execute(
            f"SELECT line, {rare_sql('line')} FROM (SELECT i, {line} AS line FROM t) ORDER BY i"
        ).fetchall()
    finally:
        conn.close()
    for (text, rare), row in zip(got, rows, strict=True):
        expected = json_line(dict(zip(KEYS, row, strict=True)))
        assert rare or text.encode() == expected
        # a control character without a short form is always flagged, never written by DuckDB
        if any(ch < " " and ch not in "\b\t\n\f\r" for ch in "".join(row)):
            assert rare


def test_a_text_spelling_an_escape_is_flagged_and_keys_are_json() -> None:
    conn = duckdb.connect()
    line = line_sql(("pro'mpt", "é"), ("?", "?"))
    _, rare = conn.execute(
        f"SELECT line, {rare_sql('line')} FROM (SELECT {line} AS line)", ["a\\u000Bb", "x\x0by"]
    ).fetchone() or ("", False)
    assert rare  # json_line writes this row (DuckDB's \u000B differs in case)
    plain, flagged = conn.execute(
        f"SELECT line, {rare_sql('line')} FROM (SELECT {line} AS line)", ['"q"\n', "\\"]
    ).fetchone() or ("", True)
    assert not flagged and plain.encode() == json_line({"pro'mpt": '"q"\n', "é": "\\"})


def _fa(positions: list[int]) -> duckdb.DuckDBPyConnection:
    conn = duckdb.connect()
    conn.execute("CREATE TEMP TABLE fa (ord BIGINT, inf_pos BIGINT)")
    if positions:
        conn.executemany("INSERT INTO fa VALUES (?, ?)", list(enumerate(positions)))
    return conn


def test_buckets_follow_the_output_order_and_overlapping_ones_are_read_as_one() -> None:
    assert plan(_fa([1, 3, 5, 7, 9, 11]), 2) == [Bucket(0, 1, 1, 3), Bucket(2, 3, 5, 7), Bucket(4, 5, 9, 11)]
    assert plan(_fa([11, 9, 7, 5, 3, 1]), 4) == [Bucket(0, 3, 5, 11), Bucket(4, 5, 1, 3)]
    # each bucket would scan nearly the whole archive: one query reads it once
    assert plan(_fa([1, 100, 2, 99, 3, 98]), 2) == [Bucket(0, 5, 1, 100)]
    assert plan(_fa([]), 2) == []


def test_an_abandoned_or_failing_iteration_leaves_the_connection_usable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(buckets, "BUCKET_ROWS", 10)
    conn = _fa(list(range(1, 101)))
    query = "SELECT ord FROM fa WHERE ord BETWEEN {first} AND {last} AND inf_pos BETWEEN {low} AND {high}"
    query += " ORDER BY ord"
    batches = final_batches(conn, query, 3)
    assert next(batches).column("ord").to_pylist() == [0, 1, 2]
    batches.close()  # the producer stops; the connection is the caller's again
    everything = [o for b in final_batches(conn, query, 7) for o in b.column("ord").to_pylist()]
    assert everything == list(range(100))
    with pytest.raises(duckdb.BinderException):
        list(final_batches(conn, "SELECT nothing FROM fa WHERE ord < {first} + {last} + {low} + {high}", 3))
    assert conn.execute("SELECT count(*) FROM fa").fetchone() == (100,)


@given(events=projects(), fmt=st.sampled_from(PAIR_FORMATS), options=st.sampled_from(VECTORIZED_OPTIONS))
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_many_small_buckets_write_what_the_pipeline_writes(
    events: list[dict[str, Any]], fmt: str, options: dict[str, Any]
) -> None:
    _compile_in_buckets(events + _plain_pair(), fmt, options)


@given(events=text_projects(), options=st.sampled_from([{}, {"drop_empty": True}, {"test_fraction": 0.5}]))
@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_arbitrary_texts_in_small_buckets_write_the_pipelines_bytes(
    events: list[dict[str, Any]], options: dict[str, Any]
) -> None:
    _compile_in_buckets(events, "trl", options)


def test_pairs_in_time_order_are_read_in_several_buckets_with_the_same_bytes() -> None:
    events: list[dict[str, Any]] = []
    for minute in range(7):
        inference = f.inference(occurred_at=f"2026-11-26T10:0{minute}:00Z", prompt=f"Question {minute}?")
        events += [inference, f.preference(inference["request_id"], "c0", "c1")]
    for fmt in ("trl", "openai-dpo"):
        assert _compile_in_buckets(events, fmt, {"test_fraction": 0.4}) == [4]  # 7 pairs, 2 a bucket


def _compile_in_buckets(events: list[dict[str, Any]], fmt: str, options: dict[str, Any]) -> list[int]:
    """Compile ``events`` with two pairs a bucket; answer how many buckets each query read."""
    planned: list[int] = []

    def spy(conn: duckdb.DuckDBPyConnection, rows: int) -> list[Bucket]:
        found = plan(conn, rows)
        planned.append(len(found))
        return found

    with tempfile.TemporaryDirectory() as tmp, pytest.MonkeyPatch.context() as patch:
        patch.setattr(buckets, "BUCKET_ROWS", 2)
        patch.setattr(buckets, "plan", spy)
        root = Path(tmp)
        store = open_store(str(root / "events.db"))
        try:
            append_all(store, events, "p")
            _, fast = compile_both(store, root, fmt, options)  # bytes, counts and drops
            assert fast.engine == "duckdb (vectorized)"
        finally:
            store.close()
    return sorted(set(planned))
