"""Keep ``fork`` from happening while a thread of this process is inside SQLite.

SQLite guards its allocator and caches with process-wide mutexes. A fork copies them as they
are: if another thread held one at that instant, the child's first SQLite call waits forever.
Threads wrap their SQLite calls in :func:`inside_sqlite`; a fork waits (in an ``os.register_at_fork``
hook) until no thread is inside, and new calls wait until the fork is done. The SDK's background
worker and the store's checkpoint thread make this more than a theoretical concern.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

_cond = threading.Condition(threading.Lock())
_inside = 0  # threads inside SQLite now
_forking = False  # a fork is waiting: new calls hold back so it is not starved
_depth = threading.local()


@contextmanager
def inside_sqlite() -> Iterator[None]:
    """Mark the calling thread as inside SQLite for the duration (re-entrant)."""
    global _inside
    depth = getattr(_depth, "n", 0)
    if depth == 0:
        with _cond:
            while _forking:
                _cond.wait()
            _inside += 1
    _depth.n = depth + 1
    try:
        yield
    finally:
        _depth.n = depth
        if depth == 0:
            with _cond:
                _inside -= 1
                if _inside == 0:
                    _cond.notify_all()


def _before_fork() -> None:
    global _forking
    _cond.acquire()
    _forking = True
    # The forking thread may itself be inside SQLite (it calls fork from such a block): count it out.
    own = 1 if getattr(_depth, "n", 0) > 0 else 0
    deadline = time.monotonic() + 30  # a stuck call must not hang fork forever
    while _inside > own and time.monotonic() < deadline:
        _cond.wait(timeout=1)


def _after_fork_in_parent() -> None:
    global _forking
    _forking = False
    _cond.notify_all()
    _cond.release()


def _after_fork_in_child() -> None:
    global _cond, _inside, _depth, _forking
    _forking = False
    _cond = threading.Condition(threading.Lock())
    own = getattr(_depth, "n", 0)
    _depth = threading.local()
    _depth.n = own  # the forking thread is the only thread in the child
    _inside = 1 if own else 0


if hasattr(os, "register_at_fork"):
    os.register_at_fork(
        before=_before_fork, after_in_parent=_after_fork_in_parent, after_in_child=_after_fork_in_child
    )
