"""The Spark engine: an archive whose scans and whose join of inferences to judgments Spark runs.

What runs where (docs/datasets.md, "Engines"):

* **on Spark** — reading the hive-partitioned Parquet files, the position window and type filters,
  the join of the inferences to the request ids their judgments name, and the position order. These
  are plain DataFrame operations (no Python UDF), so the same job runs unchanged on a cluster.
* **in the driver** — the one compile pipeline (:func:`preflog.compile.compile_dataset`): votes,
  aggregation, dedupe, sampling, splits, and preflog's own writers. Spark's JSON writer formats
  floats its own way (``1.0E-6``), so rows are never serialized by Spark: the bytes are those of
  every other engine.

An inference no judgment names (no preference, score or signal with its request id up to the
window's top) is never joined to anything, so Spark sends only its envelope — position, type,
event id, request id — not its texts: the pipeline counts it and moves on. Readers that need every
inference whole (none of compile's) pass ``judged_only=False``.

One SparkSession per process, started on first use (:func:`spark_session`; ~18 s here): the
session already active in the process (``spark-submit``, a notebook) when there is one, else local
mode on this machine. pyspark is imported only here, and only when the engine is used.
"""

from __future__ import annotations

import os
import shutil
import threading
import warnings
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Final

import pyarrow as pa
import pyarrow.compute as pc
from pyarrow import fs as pafs

from preflog.archive import ArchiveStore, S3Options
from preflog.archive.reader import table_rows
from preflog.archive.rows import event_of
from preflog.compile.judgments import JUDGMENT_EVENT_TYPES
from preflog.errors import ConfigError
from preflog.store.base import Store, StoredEvent

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame, SparkSession

JUDGING: Final = ("preference", "score", "signal")  # the events whose request id joins an inference
# The pipeline reads the judgment side one type at a time (iter_judgment_events: five scans merged);
# on Spark each scan is a job (~0.3 s of scheduling even on a tiny group), so the five are one job.
JUDGMENT_SIDE: Final = frozenset(JUDGMENT_EVENT_TYPES)
INSTALL_HINT: Final = "pip install 'preflog[spark]'"

# Local mode on one machine: the default 200 shuffle partitions are 200 tiny tasks per join and
# sort (each ~10 ms of scheduling); 4 keep both cores busy. A cluster's own session keeps its own.
LOCAL_CONF: Final = {
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",  # its progress bar would draw over the CLI's
    "spark.sql.shuffle.partitions": "4",
    # The driver collects each file group's ordered events as Arrow (one job; 2x faster than
    # toLocalIterator's rows: 1.6 s against 3.4 s per 100k inferences here). A group is one archive
    # chunk (~100k inferences, ~120 MB). At 1M + 1M a 1 GiB heap lost task results from the block
    # manager (TaskResultLost); 2 GiB, with rows made a slice at a time (archive.reader.table_rows),
    # ran in the time 4 GiB did, at a peak of 3,827 MB against 4,707 MB, the JVM included
    # (bench/compile_spark.py --n 1000000, session 9).
    "spark.driver.memory": "2g",
    "spark.driver.maxResultSize": "0",
    "spark.sql.session.timeZone": "UTC",
}

_session: SparkSession | None = None
_lock = threading.Lock()


def spark_session() -> SparkSession:
    """The process's SparkSession: the active one, else local mode started now (once)."""
    global _session
    with _lock:
        if _session is None:
            _session = _start()
        return _session


def _start() -> SparkSession:
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        raise ConfigError(f"engine: spark needs pyspark, which is not installed ({INSTALL_HINT})") from None
    active = SparkSession.getActiveSession()
    if active is not None:
        return active
    if java_binary() is None:
        raise ConfigError("engine: spark needs Java 17 and none was found (no JAVA_HOME, no java on PATH)")
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")  # the JVM binds loopback, not a guessed NIC
    builder = SparkSession.builder.appName("preflog")
    if "PYSPARK_GATEWAY_PORT" not in os.environ:  # not under spark-submit: local mode, every core
        builder = builder.master("local[*]")
    for key, value in LOCAL_CONF.items():
        builder = builder.config(key, value)
    try:
        session = builder.getOrCreate()
    except Exception as exc:  # pyspark raises bare runtime errors for a JVM that did not start
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ConfigError(f"engine: spark could not start: {first}") from None
    session.sparkContext.setLogLevel("ERROR")
    # pyspark 4.3 warns on every Arrow collect that pandas 3 is newer than it knows; preflog hands
    # Spark no pandas objects (toArrow only), so the warning says nothing about this engine.
    warnings.filterwarnings(
        "ignore", message="PySpark does not yet fully support pandas", category=FutureWarning
    )
    return session


def java_binary() -> str | None:
    """The java Spark would launch: ``$JAVA_HOME/bin/java`` when JAVA_HOME is set, else PATH's."""
    home = os.environ.get("JAVA_HOME")
    if home:
        candidate = Path(home) / "bin" / "java"
        return str(candidate) if os.access(candidate, os.X_OK) else None
    return shutil.which("java")


class SparkArchiveStore(ArchiveStore):
    """An :class:`ArchiveStore` whose reads Spark runs (local archives: see docs/scaling.md)."""

    engine = "spark"  # what a compile's manifest records (preflog.compile.pipeline.engine_label)

    def __init__(
        self,
        uri: str,
        *,
        project: str,
        s3: S3Options | None = None,
        store: Store | None = None,
        session: SparkSession | None = None,
        judged_only: bool = True,
    ):
        super().__init__(uri, project=project, s3=s3, store=store)
        if not isinstance(self.target.fs, pafs.LocalFileSystem):
            raise ConfigError(
                f"from_archive: the spark engine reads local archives here, not {uri!r}: on a cluster, "
                "s3a:// needs hadoop-aws (docs/scaling.md); use --engine duckdb or local for s3://"
            )
        self.spark = session or spark_session()
        self.judged_only = judged_only
        self._sides: dict[tuple[object, ...], tuple[pa.Table, set[str]]] = {}  # see _judgment_side

    def iter_events(
        self,
        *,
        project: str,
        after: int = 0,
        types: Iterable[str] | None = None,
        batch: int = 5000,
        until_position: int | None = None,
    ) -> Iterator[StoredEvent]:
        wanted = list(types) if types is not None else None
        if wanted != ["inference"] or not self.judged_only:
            yield from super().iter_events(
                project=project, after=after, types=wanted, batch=batch, until_position=until_position
            )
            return
        self._check(project)
        top = self.watermark if until_position is None else min(until_position, self.watermark)
        yield from self._joined_inferences(after, top)

    def _scan(self, paths: list[str], after: int, top: int, types: list[str] | None) -> pa.Table:
        if types is not None and len(types) == 1 and types[0] in JUDGMENT_SIDE:
            return self._judgment_side(paths, after, top, types[0])
        frame = self._frame(paths, after, top, types).select("position", "type", "erased", "event")
        return frame.orderBy("position").toArrow()

    def _judgment_side(self, paths: list[str], after: int, top: int, kind: str) -> pa.Table:
        """One type of a group's judgment side, from one Spark job for all five types, kept until
        each type has been served once (the five merged readers reach a group at different times).
        Keyed by the files' sizes and times too, so a group an erasure rewrote is scanned again."""
        key = (tuple(paths), after, top, tuple(_stamp(p) for p in paths))
        if key not in self._sides or kind not in self._sides[key][1]:
            self._sides[key] = (self._scan(paths, after, top, sorted(JUDGMENT_SIDE)), set(JUDGMENT_SIDE))
        table, unserved = self._sides[key]
        unserved.discard(kind)
        if not unserved:
            del self._sides[key]
        return table.filter(pc.equal(table["type"], kind))

    def _joined_inferences(self, after: int, top: int) -> Iterator[StoredEvent]:
        """Inferences in (after, top], each whole when a judgment up to ``top`` names its request
        (joined on Spark), else its envelope only; group by group, in position order."""
        from pyspark.sql import functions as F

        every = [path for _, _, paths in self._groups for path in paths]
        judged = (
            self._frame(every, 0, top, list(JUDGING))
            .where(F.col("request_id").isNotNull())
            .select("request_id", F.lit(True).alias("judged"))
            .distinct()
        )
        for first, last, paths in self._groups:
            if last <= after or first > top:
                continue
            inferences = self._frame(paths, after, top, ["inference"])
            joined = inferences.join(judged, on="request_id", how="left").select(
                "position",
                "event_id",
                "request_id",
                "erased",
                F.when(F.col("judged"), F.col("event")).alias("event"),
            )
            yield from _events(joined.orderBy("position").toArrow())

    def _frame(self, paths: list[str], after: int, top: int, types: list[str] | None) -> DataFrame:
        from pyspark.sql import functions as F

        keep: Column = (F.col("position") > after) & (F.col("position") <= top)
        if types is not None:
            keep = keep & F.col("type").isin(types)
        return self.spark.read.parquet(*paths).where(keep)


def _stamp(path: str) -> tuple[int, int]:
    info = os.stat(path)
    return info.st_size, info.st_mtime_ns


def _events(table: pa.Table) -> Iterator[StoredEvent]:
    names = ("position", "event_id", "request_id", "erased", "event")
    for position, event_id, request_id, erased, body in table_rows(table, names):
        if body is not None:
            yield event_of(position, body, erased)
        else:  # unjudged: what the pipeline reads of it (it pops the request id, finds none, counts)
            envelope = {"type": "inference", "event_id": event_id, "request_id": request_id}
            yield StoredEvent(int(position), envelope, bool(erased))
