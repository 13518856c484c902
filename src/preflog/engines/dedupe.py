"""Deduplication of the DuckDB engine's final rows on a 64-bit hash, exact where a hash repeats.

The pipeline drops a pair whose (prompt, chosen, rejected) an earlier kept pair had: it compares
a blake2b digest of the NUL-joined texts (:func:`preflog.compile.resolve.digest`), and no text
holds a NUL (:mod:`preflog.events.checker` refuses one), so it tells exactly the triples apart.
Here DuckDB hashes each final row's texts (``hash(prompt, chosen, rejected)``, duck_sql.FINAL's
``texts``; hashing 1M rows of ~1.1 KB and counting the distinct ones took 0.9 s of CPU against
3.4 s with the md5 digest it replaced, whose collisions can be crafted), and the first kept row
of each hash is remembered by its ``ord``. A later kept
row with that hash is dropped as a duplicate, and the pair (first, later) is checked once the
file's rows are through: one query (:data:`~preflog.engines.duck_sql.VERIFY`) compares their
texts. If any two differ (a collision: ~3e-8 at 1M distinct pairs, or made on purpose, as
DuckDB's hash is no cryptographic one), :class:`HashCollision` sends the compile to the pipeline,
which keeps both; every file this attempt began is written again.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pyarrow as pa
import pyarrow.compute as pc

from preflog.engines import duck_sql as sql

if TYPE_CHECKING:
    import duckdb


class HashCollision(Exception):
    """Two different final pairs had one hash: the pipeline must run."""


class Seen:
    """The hashes of the kept rows so far; the ``ord`` of the first row of each, looked up only
    for the rows dropped as its duplicates (to check). A set of the hashes and the kept rows'
    Arrow columns: 0.42–0.53 s for 1M hashes in batches of 20,000 against 0.75–0.79 s for a
    dict of hash to ord."""

    def __init__(self) -> None:
        self.hashes: set[int] = set()
        self._kept: list[tuple[pa.Array, pa.Array]] = []  # hashes and ords kept a batch at a time
        self._one_by_one: list[tuple[int, int]] = []  # (hash, ord) kept a row at a time
        self._repeats: list[tuple[int, int]] = []  # (hash, ord) dropped as duplicates

    def repeated(self, key: int, ord_: int) -> bool:
        """Whether a kept row ``ord_`` of hash ``key`` repeats an earlier one (then it is noted)."""
        if key in self.hashes:
            self._repeats.append((key, ord_))
            return True
        self.hashes.add(key)
        self._one_by_one.append((key, ord_))
        return False

    def add_fresh(self, keys: list[int], hashes: pa.Array, ords: pa.Array) -> bool:
        """Take the kept rows ``keys`` (= ``hashes``, with their ``ords``) at once if no hash repeats
        among them or an earlier one, else nothing."""
        fresh = set(keys)
        if len(fresh) != len(keys) or not self.hashes.isdisjoint(fresh):
            return False
        self.hashes |= fresh
        self._kept.append((hashes, ords))
        return True

    def verify(self, conn: duckdb.DuckDBPyConnection) -> None:
        """Raise :class:`HashCollision` if a row dropped as a duplicate has other texts than the
        first of its hash."""
        if not self._repeats:
            return
        conn.register("repeats", self.repeats())
        try:
            ((differing,),) = conn.execute(sql.VERIFY).fetchall()
        finally:
            conn.unregister("repeats")
        if differing:
            raise HashCollision(f"{differing} pair(s) of different texts with one 64-bit hash")

    def repeats(self) -> pa.Table:
        """The table ``repeats``: each duplicate's ``later`` ord and the ``first`` of its hash."""
        hashes = [h for h, _ in self._kept] + [pa.array([h for h, _ in self._one_by_one], pa.uint64())]
        ords = [o for _, o in self._kept] + [pa.array([o for _, o in self._one_by_one], pa.int64())]
        known = pa.chunked_array(hashes, pa.uint64()).combine_chunks()  # distinct: each kept first
        repeated = pa.array([h for h, _ in self._repeats], pa.uint64())
        first = pa.chunked_array(ords, pa.int64()).take(pc.index_in(repeated, value_set=known))
        return pa.table({"first": first, "later": pa.array([o for _, o in self._repeats], pa.int64())})


__all__ = ["HashCollision", "Seen"]
