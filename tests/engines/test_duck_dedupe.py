"""The DuckDB engine deduplicates on a 64-bit hash of the texts, exactly: with the hash forced to
one value for every row (a collision, as one could be made), two different pairs are both kept
(the compile falls back to the pipeline and says why) and equal ones are still dropped once, on
the SQL path; either way the same bytes, counts and drops as the store's compile."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from preflog.engines import duck_sql as sql
from preflog.engines.dedupe import Seen
from preflog.engines.vectorized import COLLISION
from preflog.store import open_store
from tests import factories as f
from tests.compile.helpers import append_all
from tests.engines.test_duck_vectorized import PROJECT, compile_both

# trl takes the column-wise rows (engines.text_lines), openai-dpo the row by row ones (vectorized._pairs).
FORMATS = ("trl", "openai-dpo")


@pytest.fixture
def one_hash(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every final row's hash is 0: every row after the first repeats it."""
    for name in ("ROWS", "TEXT_ROWS"):
        query = getattr(sql, name)
        assert sql.TRIPLE_HASH in query
        monkeypatch.setattr(sql, name, query.replace(sql.TRIPLE_HASH, "0::UBIGINT"))


def _pair(prompt: str, outputs: tuple[str, str]) -> list[dict[str, Any]]:
    inference = f.inference(prompt=prompt, outputs=outputs)
    return [inference, f.preference(inference["request_id"], "c0", "c1")]


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.usefixtures("one_hash")
def test_different_pairs_with_one_hash_are_both_kept(tmp_path: Path, fmt: str) -> None:
    store = open_store(str(tmp_path / "events.db"))
    try:
        events = _pair("Capital of France?", ("Paris.", "Lyon."))
        events += _pair("Capital of France?", ("Paris.", "Nice."))  # one text differs
        events += _pair("Capital of France?", ("Paris.", "Lyon."))  # a duplicate of the first
        append_all(store, events, PROJECT)
        local, fast = compile_both(store, tmp_path, fmt, {})  # the same bytes, counts and drops
        assert fast.engine == f"duckdb (pipeline fallback: {COLLISION})"
        assert (local.counts_out["items"], local.drops["duplicate"]) == (2, 1)
    finally:
        store.close()


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.usefixtures("one_hash")
def test_equal_pairs_with_one_hash_are_dropped_on_the_sql_path(tmp_path: Path, fmt: str) -> None:
    store = open_store(str(tmp_path / "events.db"))
    try:
        events = [e for _ in range(3) for e in _pair("Capital of France?", ("Paris.", "Lyon."))]
        append_all(store, events, PROJECT)
        local, fast = compile_both(store, tmp_path, fmt, {})
        assert fast.engine == "duckdb (vectorized)"
        assert (local.counts_out["items"], local.drops["duplicate"]) == (1, 2)
    finally:
        store.close()


def test_each_duplicate_is_checked_against_the_first_row_of_its_hash() -> None:
    """Rows kept a batch at a time and a row at a time: each repeat is paired with its hash's first."""
    seen = Seen()
    assert seen.add_fresh([7, 8], pa.array([7, 8], pa.uint64()), pa.array([0, 1]))
    assert not seen.add_fresh([9, 7], pa.array([9, 7], pa.uint64()), pa.array([2, 3]))  # 7 again
    assert [seen.repeated(h, o) for h, o in [(9, 2), (7, 3), (5, 4), (5, 5), (8, 6)]] == [
        False, True, False, True, True,
    ]  # fmt: skip
    assert seen.repeats().to_pydict() == {"first": [0, 4, 1], "later": [3, 5, 6]}
