"""Fork while another thread is inside SQLite: the child must not inherit a held SQLite mutex and
hang on its first call (preflog.store.forksafe makes the fork wait for the call to finish)."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

from preflog.store.sqlite import SQLiteStore
from tests import factories as f


def _wait(pid: int, timeout_s: float) -> int | None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status)
        time.sleep(0.01)
    os.kill(pid, 9)
    os.waitpid(pid, 0)
    return None


def test_children_forked_during_busy_sqlite_threads_never_hang(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "busy.db")
    stop = threading.Event()

    def hammer() -> None:
        while not stop.is_set():
            store.append([f.inference() for _ in range(20)], project="p")
            store.read(project="p", limit=50)

    threads = [threading.Thread(target=hammer) for _ in range(2)]
    for t in threads:
        t.start()
    outcomes = []
    try:
        for i in range(25):
            time.sleep(0.01)
            pid = os.fork()
            if pid == 0:  # the child: its own file, its first SQLite calls
                try:
                    child = SQLiteStore(tmp_path / f"child{i}.db")
                    ok = child.append([f.inference()], project="c")[0].status == "stored"
                    os._exit(0 if ok else 1)
                except BaseException:
                    os._exit(2)
            outcomes.append(_wait(pid, 20))
            if outcomes[-1] != 0:
                break  # one hung or failed child proves the point; don't wait on more
    finally:
        stop.set()
        for t in threads:
            t.join()
    assert outcomes == [0] * 25, f"children that hung (None) or failed: {outcomes}"
    assert len(store.read(project="p", limit=10)) == 10
