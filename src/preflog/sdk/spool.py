"""A durable local spool: where the SDK keeps batches it could not deliver, to replay them later.

Layout: a directory of append-only segment files ``<time>-<pid>-<random>.spool``, one JSON line per
batch ``{"project": ..., "events": [...]}``. Each :meth:`DiskSpool.save` appends a line and fsyncs
it, so a batch the spool accepted survives a crash of the host.

Replay (:meth:`DiskSpool.replay`) claims a whole segment by renaming it (two processes sharing the
directory never replay the same file), hands its batches to a ``deliver`` function in order, and
deletes it only once every batch was answered; what ``deliver`` keeps (events it could not get
answered) and the batches after a failure are written to a new segment first. A replay that dies
with its process leaves its claim, which the next spool on the directory puts back: at worst some
events are sent twice, and the service answers ``duplicate``. A claim of this very process that
none of its replays is working on (a put-back that failed) is put back the same way. A torn last
line (a crash mid-write) is skipped. Every change of the directory's names (a new segment, a
claim, a put-back) and every append happens under an exclusive ``flock`` of
``<directory>/.lock``, and counting takes it shared,
so that several processes (and threads) sharing a spool see it whole: a directory listing taken
while a file is renamed may otherwise miss it.

The total size is capped: a batch that would pass ``max_bytes`` is refused with :class:`SpoolFull`
and the client counts its events as dropped.

>>> default_spool_dir("http://127.0.0.1:8000", "demo", parent="/tmp/spools").parent
PosixPath('/tmp/spools')
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any, Final

from preflog.errors import PreflogError

try:
    import fcntl
except ImportError:  # pragma: no cover - not on Windows: one process per spool directory there
    fcntl = None  # type: ignore[assignment]

__all__ = ["DEFAULT_MAX_BYTES", "DiskSpool", "SpoolFull", "default_spool_dir", "user_cache_dir"]

DEFAULT_MAX_BYTES: Final = 256 * 1024 * 1024
_SEGMENT_BYTES: Final = 4 * 1024 * 1024  # a replay claims a segment whole: keep each one short
_SUFFIX: Final = ".spool"
_CLAIMED: Final = ".replaying"
_TEMP: Final = ".writing"
_LOCK: Final = ".lock"

# Held while a directory-lock descriptor is opened or closed, and by os.fork (below): a child sees
# every such descriptor in its spool's ``_lock_fds`` and closes its copies (DiskSpool.after_fork).
_FORK_GUARD: Final = threading.Lock()
# The claims and put-back files this process's replays are working on now, by name (unique: time,
# pid and random bits), whichever DiskSpool object (several may share a directory, spelt apart).
# A claim that carries this process's id but is not here was left by a replay of this process
# that ended without putting it back: recover() puts it back at once instead of waiting for the
# process to die (it never would, for a client closed and replaced in a long-lived process).
_WORKING: Final[set[str]] = set()


def _forget_work() -> None:
    _WORKING.clear()  # a forked child replays nothing yet; its parent's claims carry its parent's id
    _FORK_GUARD.release()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(
        before=_FORK_GUARD.acquire,
        after_in_parent=_FORK_GUARD.release,
        after_in_child=_forget_work,
    )

Batch = tuple[str, list[dict[str, Any]]]
Deliver = Callable[[list[dict[str, Any]], str], list[dict[str, Any]]]


class SpoolFull(PreflogError):
    """The spool is at its size cap; the batch was not kept."""


def user_cache_dir() -> Path:
    """The platform's per-user cache directory: ``$XDG_CACHE_HOME``, else ``~/.cache``."""
    return Path(os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"))


def default_spool_dir(url: str, project: str, parent: str | os.PathLike[str] | None = None) -> Path:
    """One directory per service and project under ``parent`` (default
    ``<user cache>/preflog/spool``), so that the next client for the same service and project —
    whatever its key — finds what an earlier one left."""
    base = Path(parent) if parent else user_cache_dir() / "preflog" / "spool"
    digest = hashlib.sha256(f"{url.rstrip('/')}\n{project}".encode()).hexdigest()[:16]
    return base / digest


class DiskSpool:
    """Batches on disk in ``directory``, at most ``max_bytes`` in all. Thread-safe, and safe to
    share between processes. Reads no environment."""

    def __init__(self, directory: str | os.PathLike[str], *, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        self.directory = Path(directory)
        self.max_bytes = max_bytes
        self.dropped = 0  # events refused because the spool was full
        self._lock = threading.Lock()
        self._segment: Path | None = None
        self._counts: dict[str, tuple[int, int, int]] = {}  # file name -> (size, mtime_ns, events)
        self._lock_fds: set[int] = set()  # descriptors of .lock open now (held or being taken)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.recover()

    def __repr__(self) -> str:
        return f"DiskSpool({str(self.directory)!r})"

    def after_fork(self) -> None:
        """In a forked child: a fresh lock (the parent's may have been held at the fork) and
        segments of its own. The child's copies of the directory-lock descriptors that parent
        threads had open at the fork are closed: a ``flock`` belongs to the open file, so such a
        copy would hold the parent's lock for as long as the child lives, and the child's first
        save would wait for itself."""
        self._lock = threading.Lock()
        self._segment = None
        for fd in list(self._lock_fds):
            with suppress(OSError):
                os.close(fd)
        self._lock_fds = set()

    # ------------------------------------------------------------------------------------ writing

    def save(self, events: list[dict[str, Any]], project: str) -> None:
        """Append one batch durably (written and fsynced before this returns)."""
        line = (json.dumps({"project": project, "events": events}, ensure_ascii=False) + "\n").encode()
        with self._lock, self._locked(exclusive=True):
            if self._size() + len(line) > self.max_bytes:
                self.dropped += len(events)
                raise SpoolFull(f"spool {self.directory} is full ({self.max_bytes} bytes); batch dropped")
            path = self._current_segment(len(line))
            new = not path.exists()
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
            try:
                view = memoryview(line)
                while view:
                    view = view[os.write(fd, view) :]
                os.fsync(fd)
            finally:
                os.close(fd)
            if new:
                _sync_dir(self.directory)  # the new segment's name must survive a crash too

    @contextmanager
    def _locked(self, *, exclusive: bool) -> Iterator[None]:
        """The directory lock, across processes (see the module's docstring)."""
        if fcntl is None:
            yield
            return
        fds = self._lock_fds
        with _FORK_GUARD:  # a fork waits: the child never holds an untracked copy of this fd
            fd = os.open(self.directory / _LOCK, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
            fds.add(fd)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
            yield
        finally:
            with _FORK_GUARD:
                os.close(fd)  # also releases the lock
                fds.discard(fd)

    def _current_segment(self, incoming: int) -> Path:
        segment = self._segment
        if segment is not None and segment.name.split("-")[1] != str(os.getpid()):
            segment = None  # a forked child writes its own segments
        try:
            fits = segment is not None and segment.stat().st_size + incoming <= _SEGMENT_BYTES
        except FileNotFoundError:
            fits = False
        if segment is None or not fits:
            segment = self._new_name(_SUFFIX)
            self._segment = segment
        return segment

    def _new_name(self, suffix: str) -> Path:
        # Names sort by creation time, so a replay sends the oldest batches first.
        return self.directory / f"{time.time_ns():020d}-{os.getpid()}-{os.urandom(4).hex()}{suffix}"

    # ------------------------------------------------------------------------------------ reading

    def size(self) -> int:
        """Bytes on disk, segments being replayed included."""
        with self._locked(exclusive=False):
            return self._size()

    def _size(self) -> int:
        total = 0
        for path in self.directory.iterdir():
            try:
                total += path.stat().st_size
            except FileNotFoundError:
                continue
        return total

    def pending(self) -> int:
        """How many events are waiting in the spool, counting those a replay has claimed and is
        sending now: they leave only once answered. Each file is read once per change.

        Listed and read under the lock, where a claim or a put-back renames: read after the
        listing, a segment claimed in between was gone under its listed name and the spool read
        as empty with every event waiting (a caller waiting for ``pending() == 0`` stopped early)."""
        try:
            with self._locked(exclusive=False):
                return self._pending()
        except FileNotFoundError:  # the directory was removed: nothing waits (stats() never raises)
            self._counts = {}
            return 0

    def _pending(self) -> int:
        seen: dict[str, tuple[int, int, int]] = {}
        for path in list(self.directory.iterdir()):
            if not _waiting(path.name):  # not .lock, .writing
                continue
            try:
                st = path.stat()
            except FileNotFoundError:
                continue
            known = self._counts.get(path.name)
            if known is not None and known[:2] == (st.st_size, st.st_mtime_ns):
                seen[path.name] = known
            else:
                seen[path.name] = (st.st_size, st.st_mtime_ns, sum(len(e) for _, e in _batches(path)))
        self._counts = seen
        return sum(count for _, _, count in seen.values())

    def has_pending(self) -> bool:
        """Whether any event waits, claimed or not: the names alone, listed under the lock (where
        a claim or a put-back renames), without reading the files as :meth:`pending` does."""
        try:
            with self._locked(exclusive=False):
                return any(_waiting(path.name) for path in self.directory.iterdir())
        except FileNotFoundError:  # the directory was removed (a cache cleaned): nothing waits
            return False

    def _segments(self) -> list[Path]:
        with self._locked(exclusive=False):
            return sorted(p for p in self.directory.iterdir() if p.name.endswith(_SUFFIX))

    # ------------------------------------------------------------------------------------ replay

    def replay(self, deliver: Deliver) -> None:
        """Hand every spooled batch to ``deliver(events, project)``, oldest first. ``deliver``
        returns the events it could not get answered (kept for a later replay) or raises, which
        stops the replay: that batch and the rest of its segment stay in the spool."""
        self.recover()
        for path in self._segments():
            claimed = self._claim(path)
            if claimed is not None:
                self._replay_segment(claimed, deliver)

    def _claim(self, path: Path) -> Path | None:
        with self._lock:
            if path == self._segment:
                self._segment = None  # this process writes on in a new segment
        claimed = path.with_name(f"{path.name}{_CLAIMED}-{os.getpid()}")
        with self._locked(exclusive=True):  # no writer is in the middle of a line of it
            try:
                path.rename(claimed)
            except FileNotFoundError:
                return None  # another process claimed it first
            _WORKING.add(claimed.name)  # under the lock: recover() never sees it unregistered
        return claimed

    def _replay_segment(self, claimed: Path, deliver: Deliver) -> None:
        try:
            batches = list(_batches(claimed))
            keep: list[Batch] = []
            done = 0
            try:
                for project, events in batches:
                    kept = deliver(events, project)
                    done += 1
                    if kept:
                        keep.append((project, kept))
            except BaseException:
                self._put_back(claimed, keep + batches[done:])
                raise
            self._put_back(claimed, keep)
        finally:
            _WORKING.discard(claimed.name)  # put back, or left for recover() to put back whole

    def _put_back(self, claimed: Path, batches: list[Batch]) -> None:
        """Write what is left of a claimed segment to a new segment, then delete the claim."""
        temp = self._new_name(_TEMP)
        _WORKING.add(temp.name)
        try:
            self._write_back(claimed, temp, batches)
        finally:
            _WORKING.discard(temp.name)

    def _write_back(self, claimed: Path, temp: Path, batches: list[Batch]) -> None:
        try:
            if batches:
                with open(temp, "wb") as fh:
                    for project, events in batches:
                        record = {"project": project, "events": events}
                        fh.write((json.dumps(record, ensure_ascii=False) + "\n").encode())
                    fh.flush()
                    os.fsync(fh.fileno())
        except OSError:  # e.g. the disk is full: keep the whole claimed segment instead
            temp.unlink(missing_ok=True)
            with self._locked(exclusive=True):
                claimed.rename(self._new_name(_SUFFIX))
            return
        with self._locked(exclusive=True):
            if batches:
                temp.rename(self._new_name(_SUFFIX))
            claimed.unlink()
        _sync_dir(self.directory)

    def recover(self) -> None:
        """Put back segments claimed by replays that died with their process, and remove their
        half-written files."""
        with self._locked(exclusive=True):
            self._recover()

    def _recover(self) -> None:
        for path in self.directory.iterdir():
            if _CLAIMED in path.name:
                owner = path.name.rsplit("-", 1)[-1]
                if owner.isdigit() and _abandoned(path, int(owner)):
                    try:
                        path.rename(path.with_name(path.name.split(_CLAIMED)[0]))
                    except FileNotFoundError:
                        continue  # another process put it back first
            elif path.name.endswith(_TEMP):
                parts = path.name.split("-")
                if len(parts) > 2 and parts[1].isdigit() and _abandoned(path, int(parts[1])):
                    path.unlink(missing_ok=True)  # its claim still holds every batch


def _batches(path: Path) -> Iterator[Batch]:
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


def _sync_dir(directory: Path) -> None:
    """Make renames and deletions in ``directory`` durable (a crash must not bring a claim back
    after its events were answered, nor lose a new segment's name)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _waiting(name: str) -> bool:
    """A segment, or a claim of one: where spooled events wait (not .lock, not a .writing file)."""
    return name.endswith(_SUFFIX) or _CLAIMED in name


def _abandoned(path: Path, owner: int) -> bool:
    """Whether the claim or put-back file ``path`` of process ``owner`` is no replay's work now:
    its process died, or it is this process's and none of its replays holds it."""
    if owner == os.getpid():
        return path.name not in _WORKING
    return not _alive(owner)


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
