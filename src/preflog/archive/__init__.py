"""The Parquet archive: a columnar copy of a project's events, hive-partitioned by project and day
(``project=P/day=YYYY-MM-DD/part-<first>-<last>.parquet``), on a local path or ``s3://``.

* :func:`archive_events` brings it up to date with a store, incrementally from the watermark in
  ``_preflog/<project>/state.json``, and rewrites blanked the files an erasure reaches
  (:mod:`.writer`; crash semantics in docs/scaling.md).
* :class:`ArchiveStore` reads it back through the store's read interface, refusing an archive an
  erasure in the store has not reached (:mod:`.reader`).
* :mod:`.rows` holds the columns; :mod:`.target` the filesystems and the commit by rename.

pyarrow is imported here: ``import preflog`` never imports this package.
"""

from __future__ import annotations

from preflog.archive.reader import ArchiveStale, ArchiveStore, check_fresh
from preflog.archive.rows import SCHEMA
from preflog.archive.target import S3Options, open_target
from preflog.archive.writer import ArchiveReport, archive_events

__all__ = [
    "SCHEMA",
    "ArchiveReport",
    "ArchiveStale",
    "ArchiveStore",
    "S3Options",
    "archive_events",
    "check_fresh",
    "open_target",
]
