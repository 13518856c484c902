"""The DuckDB engine's final rows in output order, a run of ``ord`` (a bucket) at a time.

The final rows carry their texts (1.1 GB at 1M pairs of ~500-byte replies); sorting them all at
once spilled past DuckDB's memory limit and took 19 s of a 1M + 1M compile. Their order is known
before the texts are read (table ``fa``'s ``ord``, :data:`preflog.engines.duck_sql.PAIRS`), so
each bucket of :data:`BUCKET_ROWS` pairs is joined to its texts and sorted on its own, in memory.
Inferences are mostly archived in the order they are compiled in (times, then time-ordered
request ids), so a bucket's inferences lie in a narrow range of positions and its scan skips the
archive's other row groups; where the ranges overlap (:data:`OVERLAP`), one sorted query reads
everything once, as before.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, Final, NamedTuple

from preflog.engines import duck_sql as sql

if TYPE_CHECKING:
    import duckdb
    import pyarrow as pa

# Pairs per bucket: ~150 MB of texts at the bench's ~1.1 KB a pair, well inside memory_limit (1 GB)
# with the temporary tables beside it.
BUCKET_ROWS: Final = 131_072
# Buckets read apart only while their position ranges add up to at most this many times the whole
# range (each range is scanned once per bucket it overlaps).
OVERLAP: Final = 2
# Batches fetched ahead of the caller: ~8 of 20,000 rows (~180 MB), more than a bucket's, so DuckDB
# is already sorting the next bucket while the caller works on this one.
AHEAD: Final = 8


class Bucket(NamedTuple):
    """Pairs ``first`` to ``last`` of the output order, whose inferences are at ``low``..``high``."""

    first: int
    last: int
    low: int
    high: int


def plan(conn: duckdb.DuckDBPyConnection, rows: int) -> list[Bucket]:
    """The buckets of table ``fa``, in output order (one bucket when their ranges overlap)."""
    found = [
        Bucket(*(int(x) for x in row[1:])) for row in conn.execute(sql.BUCKETS, {"rows": rows}).fetchall()
    ]
    if len(found) < 2:
        return found
    low, high = min(b.low for b in found), max(b.high for b in found)
    if sum(b.high - b.low + 1 for b in found) > OVERLAP * (high - low + 1):
        return [Bucket(found[0].first, found[-1].last, low, high)]
    return found


def final_batches(
    conn: duckdb.DuckDBPyConnection, query: str, batch_rows: int, **fields: str
) -> Iterator[pa.RecordBatch]:
    """The batches of ``query`` (:data:`~preflog.engines.duck_sql.ROWS` or ``TEXT_ROWS``, its
    other ``fields`` filled in) for every bucket, in output order. DuckDB runs them on a second
    thread (it releases the GIL), a bucket ahead of the caller's work on the batches; ``conn`` is
    the caller's again once the iteration ends or is abandoned."""
    buckets = plan(conn, BUCKET_ROWS)
    ahead: queue.Queue[pa.RecordBatch | BaseException | None] = queue.Queue(AHEAD)
    stop = threading.Event()

    def produce() -> None:
        try:
            for bucket in buckets:
                reader = conn.sql(query.format(**bucket._asdict(), **fields)).to_arrow_reader(batch_rows)
                assert reader is not None
                for batch in reader:
                    if not _put(ahead, batch, stop):
                        return
            _put(ahead, None, stop)
        except BaseException as exc:  # raised again in the caller's thread
            _put(ahead, exc, stop)

    worker = threading.Thread(target=produce, name="preflog-duckdb-rows", daemon=True)
    worker.start()
    try:
        while (item := ahead.get()) is not None:
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        worker.join()


def _put(ahead: queue.Queue[Any], item: object, stop: threading.Event) -> bool:
    """Put ``item`` once there is room; False if the caller stopped listening first."""
    while not stop.is_set():
        try:
            ahead.put(item, timeout=0.1)
            return True
        except queue.Full:
            continue
    return False


__all__ = ["BUCKET_ROWS", "Bucket", "final_batches", "plan"]
