"""A durable local spool: where the SDK keeps batches it could not deliver, to replay them later.

Layout: a directory of append-only segment files ``<pid>-<n>.spool``, one JSON line per batch
``{"project": ..., "events": [...]}``. Each ``save`` appends a line and fsyncs it, so a batch the
spool accepted survives a crash of the host. Replay claims a whole segment by renaming it (so two
processes sharing the directory never replay the same file), sends its batches in order, and
deletes it when all were delivered; a segment that fails half-way is put back and sent again
later — event ids make the repeats harmless duplicates. A torn last line (a crash mid-write) is
skipped. The total size is capped: a batch that would pass ``max_bytes`` is refused with
:class:`SpoolFull` and the client counts its events as dropped.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Final

from preflog.errors import PreflogError

DEFAULT_MAX_BYTES: Final = 256 * 1024 * 1024
_SEGMENT_BYTES: Final = 4 * 1024 * 1024
_SUFFIX: Final = ".spool"
_CLAIMED: Final = ".replaying"


class SpoolFull(PreflogError):
    """The spool is at its size cap; the batch was not kept."""


def default_spool_dir(url: str, project: str) -> Path:
    """``$PREFLOG_SPOOL_DIR`` or ``~/.cache/preflog/spool``, one folder per service and project."""
    import hashlib

    base = os.environ.get("PREFLOG_SPOOL_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "preflog", "spool"
    )
    digest = hashlib.sha256(f"{url}\n{project}".encode()).hexdigest()[:16]
    return Path(base) / digest


class DiskSpool:
    """Batches on disk in ``directory``, at most ``max_bytes`` in all. Thread-safe."""

    def __init__(self, directory: str | os.PathLike[str], *, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        self.directory = Path(directory)
        self.max_bytes = max_bytes
        self.dropped = 0  # events refused because the spool was full
        self._lock = threading.Lock()
        self._counter = 0
        self._segment: Path | None = None
        self._pid = os.getpid()
        self.directory.mkdir(parents=True, exist_ok=True)
        self._recover_claims()

    # ------------------------------------------------------------------------------------ writing

    def save(self, events: list[dict[str, Any]], project: str) -> None:
        line = (json.dumps({"project": project, "events": events}, ensure_ascii=False) + "\n").encode()
        with self._lock:
            if self.size() + len(line) > self.max_bytes:
                self.dropped += len(events)
                raise SpoolFull(f"spool {self.directory} is full ({self.max_bytes} bytes); batch dropped")
            path = self._current_segment(len(line))
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
            try:
                os.write(fd, line)
                os.fsync(fd)
            finally:
                os.close(fd)

    def _current_segment(self, incoming: int) -> Path:
        if self._pid != os.getpid():  # a forked child writes its own segments
            self._pid, self._segment, self._counter = os.getpid(), None, 0
        segment = self._segment
        if segment is None or not segment.exists() or segment.stat().st_size + incoming > _SEGMENT_BYTES:
            self._counter += 1
            segment = self.directory / f"{self._pid}-{self._counter:06d}-{os.urandom(4).hex()}{_SUFFIX}"
            self._segment = segment
        return segment

    # ------------------------------------------------------------------------------------ reading

    def size(self) -> int:
        total = 0
        for path in self.directory.iterdir():
            try:
                total += path.stat().st_size
            except FileNotFoundError:
                continue
        return total

    def pending(self) -> int:
        """How many events are waiting in the spool, counting those a replay has claimed and is
        sending now: they leave only once delivered (a failed replay puts them back)."""
        waiting = [p for p in self.directory.iterdir() if p.name.endswith(_SUFFIX) or _CLAIMED in p.name]
        return sum(len(events) for path in waiting for _, events in _batches(path))

    def _segments(self) -> list[Path]:
        return sorted(p for p in self.directory.iterdir() if p.name.endswith(_SUFFIX))

    def replay(self, send: Callable[[list[dict[str, Any]], str], object]) -> int:
        """Send every spooled batch with ``send(events, project)``, oldest first; return how many
        events were sent. Stops at the first failure (the segment stays for the next replay)."""
        sent = 0
        for path in self._segments():
            with self._lock:
                if path == self._segment:
                    self._segment = None  # start a new segment; this one is being replayed
            claimed = path.with_name(path.name + _CLAIMED + f"-{os.getpid()}")
            try:
                path.rename(claimed)
            except FileNotFoundError:
                continue  # another process claimed it
            try:
                for project, events in _batches(claimed):
                    send(events, project)
                    sent += len(events)
            except BaseException:
                claimed.rename(path)
                raise
            claimed.unlink()
        return sent

    def _recover_claims(self) -> None:
        """Segments claimed by a replay that died with its process go back in the queue."""
        for path in self.directory.iterdir():
            if _CLAIMED not in path.name:
                continue
            owner = path.name.rsplit("-", 1)[-1]
            if owner.isdigit() and not _alive(int(owner)):
                path.rename(path.with_name(path.name.split(_CLAIMED)[0]))


def _batches(path: Path) -> Iterator[tuple[str, list[dict[str, Any]]]]:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return
    for raw in data.splitlines():
        try:
            record = json.loads(raw)
            yield str(record["project"]), list(record["events"])
        except (ValueError, KeyError, TypeError):
            continue  # a torn last line from a crash mid-write


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
