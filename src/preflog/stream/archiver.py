"""``preflog consume --archive URI``: the consumer keeps the Parquet archive up to date too.

The archive is written from the store, by :func:`preflog.archive.archive_events` (incremental from
the archive's watermark), so it can never be ahead of the store: it holds at most what the store
had committed when the run began. A run comes after a committed batch (or an empty poll), at most once every
``interval`` seconds (default 300: at 10,000 inferences/s that is ~6M events, files of ~1.9 GB
before zstd, and 288 runs a day, not one small file per 2,000-event batch), and once more when the
consumer stops. One member of a group archives: the one holding partition 0 of the topic at that
moment, so two members never write the same archive (which :mod:`preflog.archive` does not
support); every project of the store is brought up to date, whichever partition its events are
on. An archive that fails (object storage down) is logged and counted, and tried again at the
next interval: the stream is never held back by the archive.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Final

from preflog.errors import PreflogError

if TYPE_CHECKING:
    from preflog.archive import S3Options
    from preflog.store.base import Store

logger = logging.getLogger("preflog")

ARCHIVE_EVERY_S: Final = 300.0
ARCHIVING_PARTITION: Final = 0


@dataclass
class ArchiveCounts:
    runs: int = 0
    events: int = 0
    files: int = 0
    errors: int = 0
    last_error: str | None = None
    watermarks: dict[str, int] = field(default_factory=dict)

    def line(self) -> str:
        failed = f"; {self.errors} failed, last: {self.last_error}" if self.errors else ""
        return f"archived {self.events} events in {self.files} files over {self.runs} runs{failed}"


class StreamArchiver:
    """Archives every project of ``store`` to ``out`` after commits, every ``interval`` s."""

    def __init__(
        self,
        store: Store,
        *,
        out: str,
        s3: S3Options | None = None,
        interval: float = ARCHIVE_EVERY_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.store, self.out, self.s3, self.interval = store, out, s3, interval
        self.counts = ArchiveCounts()
        self._clock = clock
        self._last: float | None = None

    def tick(self, partitions: set[int], *, final: bool = False) -> None:
        """Called by the consumer after each commit and each empty poll (``final``: when it stops)
        with the partitions it holds; archives when this member is the group's archiver and the
        interval has passed (or ``final``)."""
        if ARCHIVING_PARTITION not in partitions:
            return
        now = self._clock()
        if final or self._last is None or now - self._last >= self.interval:
            self._last = now
            self.run()

    def run(self) -> None:
        from preflog.archive import archive_events  # pyarrow: only for a consumer given --archive

        self.counts.runs += 1
        for project in self.store.projects():
            try:
                report = archive_events(self.store, project=project, out=self.out, s3=self.s3)
            except (PreflogError, OSError) as exc:  # object storage down, a full disk: next time
                self.counts.errors += 1
                self.counts.last_error = f"{project}: {type(exc).__name__}: {exc}"
                logger.warning("preflog consume: archive of %s failed: %s", project, exc)
                continue
            self.counts.events += report.events
            self.counts.files += len(report.files_written)
            self.counts.watermarks[project] = report.watermark
