"""WAL checkpoints on a thread of their own, so that ``append`` never waits for one.

In WAL mode every commit only appends frames to ``file.db-wal``; a *checkpoint* copies them back
into the database file and syncs it (two ``fsync`` calls). SQLite runs one inline, inside the
``COMMIT`` that pushes the WAL past ``wal_autocheckpoint`` pages, so with the default of 1,000
pages (4 MiB, a few batches of 1 KB events) an append pays for a checkpoint every few calls: on a
slow disk that is most of its time. Instead, the store counts what it wrote and, every
``every_bytes``, wakes this thread, which runs a ``PASSIVE`` checkpoint on its own connection
(passive: it never blocks a writer or a reader, it copies what it can). The inline checkpoint
stays on, at a higher threshold (:data:`INLINE_CHECKPOINT_PAGES`), as a bound on the WAL should
this thread fall behind.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from pathlib import Path
from typing import Final

from preflog.store.forksafe import inside_sqlite

DEFAULT_EVERY_BYTES: Final = 4 * 1024 * 1024  # about the default inline threshold, 1,000 pages
INLINE_CHECKPOINT_PAGES: Final = 16_000  # 64 MiB of 4 KiB pages: the backstop, rarely reached


class Checkpointer:
    """Wakes a daemon thread to checkpoint the WAL of ``path`` after every ``every_bytes`` written.

    Started on first use and again in a forked child (threads do not survive ``fork``). A failed
    checkpoint is left to the next one, or to the inline backstop: it loses nothing."""

    def __init__(
        self, path: Path, *, every_bytes: int = DEFAULT_EVERY_BYTES, timeout_s: float = 30.0
    ) -> None:
        self.path = path
        self.every_bytes = every_bytes
        self.runs = 0  # checkpoints completed, for tests and curiosity
        self._timeout_s = timeout_s
        self._written = 0
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stopped = False
        self._thread: threading.Thread | None = None
        self._pid = 0

    def wrote(self, nbytes: int) -> None:
        """Count ``nbytes`` committed; wake the thread once enough have piled up."""
        if self._pid and self._pid != os.getpid():
            self._lock = threading.Lock()  # in a forked child: another thread may have held it
        with self._lock:
            self._written += nbytes
            if self._written < self.every_bytes or self._stopped:
                return
            self._written = 0
            self._ensure_thread()
        self._wake.set()

    def _ensure_thread(self) -> None:
        if self._thread is not None and self._thread.is_alive() and self._pid == os.getpid():
            return
        self._wake = threading.Event()  # a fresh one: the parent's may be set or mid-wait after fork
        self._pid = os.getpid()
        self._thread = threading.Thread(target=self._run, name="preflog-sqlite-checkpoint", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            with inside_sqlite():  # a fork waits for it: see preflog.store.forksafe
                conn = sqlite3.connect(self.path, timeout=self._timeout_s, isolation_level=None)
        except sqlite3.Error:
            return  # the inline backstop still bounds the WAL
        wake = self._wake
        try:
            while True:
                wake.wait()
                wake.clear()
                if self._stopped:
                    return
                self._checkpoint(conn)
        finally:
            with inside_sqlite():  # a fork waits for it: see preflog.store.forksafe
                conn.close()

    def _checkpoint(self, conn: sqlite3.Connection) -> None:
        try:
            with inside_sqlite():  # a fork waits for it: see preflog.store.forksafe
                conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
        except sqlite3.Error:
            return  # busy or failing: the next wake-up, or the inline backstop, tries again
        self.runs += 1

    def stop(self, timeout_s: float = 10.0) -> None:
        """Stop the thread, letting a checkpoint in progress finish."""
        with self._lock:
            self._stopped = True
            thread = self._thread if self._pid == os.getpid() else None
        self._wake.set()
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout_s)


__all__ = ["DEFAULT_EVERY_BYTES", "INLINE_CHECKPOINT_PAGES", "Checkpointer"]
