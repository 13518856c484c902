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

from preflog.engines import duck_sql as sql

if TYPE_CHECKING:
    import duckdb


class HashCollision(Exception):
    """Two different final pairs had one hash: the pipeline must run."""


class Seen:
    """The hashes of the kept rows so far, each with the ``ord`` of its first row, and the rows
    dropped as that row's duplicates (to check)."""

    def __init__(self) -> None:
        self.first: dict[int, int] = {}
        self.repeats: list[tuple[int, int]] = []

    def repeated(self, key: int, ord_: int) -> bool:
        """Whether a kept row ``ord_`` of hash ``key`` repeats an earlier one (then it is noted)."""
        first = self.first.setdefault(key, ord_)
        if first == ord_:
            return False
        self.repeats.append((first, ord_))
        return True

    def add_fresh(self, rows: dict[int, int]) -> bool:
        """Take ``rows`` (hash: ord, distinct hashes) at once if none was seen before, else nothing."""
        if not self.first.keys().isdisjoint(rows):
            return False
        self.first.update(rows)
        return True

    def verify(self, conn: duckdb.DuckDBPyConnection) -> None:
        """Raise :class:`HashCollision` if a row dropped as a duplicate has other texts than the
        first of its hash."""
        if not self.repeats:
            return
        first, later = zip(*self.repeats, strict=True)
        conn.register("repeats", pa.table({"first": list(first), "later": list(later)}))
        try:
            ((differing,),) = conn.execute(sql.VERIFY).fetchall()
        finally:
            conn.unregister("repeats")
        if differing:
            raise HashCollision(f"{differing} pair(s) of different texts with one 64-bit hash")


__all__ = ["HashCollision", "Seen"]
