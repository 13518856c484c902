"""The writers' queue of a SQLite store: threads and processes take turns before ``BEGIN IMMEDIATE``.

SQLite serializes writers itself, but a writer that finds the database locked waits in SQLite's
busy handler, which sleeps and polls on a fixed schedule (1, 2, 5, 10, 15, 20, 25... ms). Under
steady load from several threads (a server's request threads) or processes (``--workers 2``),
writers then spend much of their time asleep while the database is free: measured with
``bench/load.py`` (one worker offered 10,000 events/s for 30 s), 8,200-9,300 events/s and a p99
of 243-360 ms without this queue, 9,996 events/s and 89 ms with it. Here a writer first takes

* a ``threading.Lock`` shared by the store's threads, which wakes the next thread the moment it is
  released, and
* an exclusive ``flock`` on a sidecar file ``<database>-lock`` for the other processes, polled at
  sub-millisecond intervals (``flock`` cannot time out on its own; a short poll keeps the store's
  busy timeout in force).

The sidecar holds no data; deleting it while no one writes is harmless. A store that cannot
create it (a read-only directory) goes on without it: SQLite's lock still keeps writes correct,
only slower under contention. A forked child opens its own descriptor (a ``flock`` belongs to the
open file, which parent and child would otherwise share).
"""

from __future__ import annotations

import fcntl
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Final

from preflog.errors import StoreUnavailable

_FIRST_WAIT_S: Final = 0.0002
_MAX_WAIT_S: Final = 0.002


class WriterLock:
    """Exclusive turns at writing ``path``, across the threads and processes that use this class."""

    def __init__(self, path: Path, *, timeout_s: float) -> None:
        self.lock_path = Path(f"{path}-lock")
        self._timeout_s = timeout_s
        self._pid = -1
        self._thread_lock = threading.Lock()
        self._fd: int | None = None

    def _ensure(self) -> None:
        """Per process: a fresh thread lock and our own descriptor of the sidecar."""
        if self._pid == os.getpid():
            return
        self._pid = os.getpid()
        self._thread_lock = threading.Lock()
        self._fd = None  # the parent's descriptor stays the parent's: not closed here
        try:
            self._fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        except OSError:
            self._fd = None  # read-only directory and the like: SQLite's lock alone

    @contextmanager
    def hold(self) -> Iterator[None]:
        self._ensure()
        if not self._thread_lock.acquire(timeout=self._timeout_s):
            raise StoreUnavailable(f"sqlite: no turn to write within {self._timeout_s:g} s (busy)")
        try:
            fd = self._fd
            if fd is not None:
                self._flock(fd)
            try:
                yield
            finally:
                if fd is not None:
                    with suppress(OSError):
                        fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            self._thread_lock.release()

    def _flock(self, fd: int) -> None:
        deadline = time.monotonic() + self._timeout_s
        wait = _FIRST_WAIT_S
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return
            except BlockingIOError:
                pass
            except OSError:
                return  # a file system without flock: SQLite's lock alone
            if time.monotonic() >= deadline:
                raise StoreUnavailable(
                    f"sqlite: another process held the write lock {self.lock_path} for {self._timeout_s:g} s"
                )
            time.sleep(wait)
            wait = min(wait * 2, _MAX_WAIT_S)

    def close(self) -> None:
        if self._pid == os.getpid() and self._fd is not None:
            with suppress(OSError):
                os.close(self._fd)
            self._fd = None


__all__ = ["WriterLock"]
