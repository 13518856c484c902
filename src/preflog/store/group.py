"""Group commit: appends that arrive while another is being written share the next transaction.

A server runs each request's append on its own thread, and a store can only write one at a time
(SQLite's write lock; PostgreSQL's append lock, held until the commit's WAL flush). With one
transaction per append, every batch pays a whole commit: SQLite rewrites the same index pages
into its WAL, PostgreSQL waits for a disk flush with the lock held, and the next batch waits for
both. Here the thread that finds the store free becomes the *leader*: it takes every append
queued so far (up to ``max_events`` events, first come first served, one project per group) and
writes them in one transaction, one after the other, exactly as separate transactions would
have (each sees the rows of the ones before it, so a duplicate id across two batches is still a
``duplicate`` or a ``conflict``, and an erasure still blanks what follows it). The others sleep
until their append is done. A lone append is written at once, with no added wait.

What changes is only failure: if the transaction fails, every append in it fails with the same
error, and none of their events is stored (all or nothing, as before, per batch). No caller has
been told its events were stored, so a retry is safe.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

from preflog.store.base import AppendResult
from preflog.store.common import PendingEvent

DEFAULT_MAX_EVENTS: Final = 5_000


@dataclass(eq=False)
class Append:
    """One caller's append, prepared (validated, encoded) and waiting to be written."""

    project: str
    pending: list[PendingEvent]
    results: list[AppendResult | None]
    done: bool = False
    error: BaseException | None = None

    @property
    def size(self) -> int:
        return len(self.pending)


class GroupCommit:
    """Runs ``write(group)`` for groups of queued appends, one group at a time."""

    def __init__(
        self, write: Callable[[list[Append]], None], *, max_events: int = DEFAULT_MAX_EVENTS
    ) -> None:
        self._write = write
        self.max_events = max_events
        self.groups = 0  # transactions written, for tests and curiosity
        self.appends = 0  # appends written in them
        self._pid = -1
        self._reset()

    def _reset(self) -> None:
        """Per process: a forked child starts with its own lock and an empty queue (the parent's
        waiting threads do not exist in the child)."""
        self._pid = os.getpid()
        self._cond = threading.Condition(threading.Lock())
        self._queue: list[Append] = []
        self._busy = False

    def run(self, job: Append) -> None:
        """Write ``job`` (alone or with others); return once it is committed, or raise the error
        that failed its transaction."""
        if self._pid != os.getpid():
            self._reset()
        cond = self._cond
        with cond:
            self._queue.append(job)
        while True:
            with cond:
                while not job.done and self._busy:
                    cond.wait()
                if job.done:
                    break
                group = self._take()
                self._busy = True
            try:
                self._write(group)
            except BaseException as exc:
                for member in group:
                    member.error = exc
            finally:
                with cond:
                    for member in group:
                        member.done = True
                    self.groups += 1
                    self.appends += len(group)
                    self._busy = False
                    cond.notify_all()
        if job.error is not None:
            raise job.error

    def _take(self) -> list[Append]:
        """The group to write next: the oldest append, and those after it of the same project in
        their order, until one would take the total past ``max_events`` (the oldest goes even if
        larger). Appends of other projects keep their places for the next group."""
        head = self._queue[0]
        group, rest, total, full = [head], [], head.size, False
        for job in self._queue[1:]:
            if job.project == head.project and not full and total + job.size <= self.max_events:
                group.append(job)
                total += job.size
            else:
                full = full or job.project == head.project
                rest.append(job)
        self._queue = rest
        return group


__all__ = ["DEFAULT_MAX_EVENTS", "Append", "GroupCommit"]
