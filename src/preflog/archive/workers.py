"""Several processes over one archive run: each writes whole chunks (position ranges), so the files
are the ones a single process writes, and the parent alone moves the watermark, after every chunk
is committed.

Why processes: building a chunk is Python work (decoding, typed columns, the ``event`` text) held
by one interpreter lock; at 1M + 1M events it was ~20 µs an event in one thread while the
machine's other cores sat idle. Why ``python -m preflog.archive.workers`` and not
:mod:`multiprocessing`: a forked child would inherit the parent's threads' locks (an S3 client's,
a Kafka consumer's) mid-use, and a spawned one runs the parent's main module again (``python -m
preflog`` would start the command a second time). A worker opens its own store and filesystem
(~1 s of imports, while the parent finds the chunks' bounds) and talks JSON lines: the parent
sends its settings, then one ``[after, last]`` range at a time; the worker answers each with what
it wrote. Credentials go through the pipe, never the command line.

Crash semantics are the single process's: a chunk's files are committed by moves, the watermark is
written by the parent only after the last chunk, so a run that dies anywhere (a worker killed, the
parent killed) leaves parts after the watermark that the rerun removes and writes again. A worker
whose parent dies exits within :data:`_ORPHAN_CHECK_S`, so it cannot write beside the rerun.
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import asdict
from itertools import islice
from pathlib import Path
from typing import IO, Any, Final

from preflog.archive.chunks import PAGE, Chunk, ChunkResult, Erased
from preflog.archive.target import S3Options, Target, open_target
from preflog.errors import ConfigError, PreflogError, StoreError
from preflog.store.base import Store

_ORPHAN_CHECK_S: Final = 0.2


def reopen_url(store: Store) -> str | None:
    """A URL a worker process can open ``store`` again with, or None (then one process archives)."""
    from preflog.store.sql import SQLStore

    if not isinstance(store, SQLStore):
        return None
    path = getattr(store, "path", None)
    if path is not None:
        return str(path)  # SQLite: the file
    url = getattr(store, "url", None)
    return url if isinstance(url, str) and url.startswith(("postgresql://", "postgres://")) else None


def chunk_ends(store: Store, *, project: str, after: int, until: int, batch: int) -> list[int]:
    """The last position of each chunk of ``batch`` events in ``after < position <= until``: the
    bounds a single process's run gives its chunks. One query: SQLite reads the positions from the
    (project, type, position) index, smaller than the table (1.3 s at 1M + 1M; walking the table's
    rows for the same answer took 4.9 s)."""
    from preflog.store.sql import SQLStore
    from preflog.store.sqlite import SQLiteStore

    assert isinstance(store, SQLStore)
    source = "events INDEXED BY events_type" if isinstance(store, SQLiteStore) else "events"
    where = "project = ? AND position > ? AND position <= ?"
    with store.connection("archive") as tx:
        row = tx.one(f"SELECT COUNT(*) FROM {source} WHERE {where}", (project, after, until))
        if row is not None and int(row[0]) == until - after:
            # Every position of the range is this project's (positions are unique integers), so
            # the n-th event is at after + n: the answer below without ranking 2M rows (the count
            # took 0.25 s of CPU at 1M + 1M, the ranking 2.0 s, the workers waiting on it).
            ends = list(range(after + batch, until + 1, batch))
        else:
            sql = (
                "SELECT position FROM (SELECT position, row_number() OVER (ORDER BY position) AS n "
                f"FROM {source} WHERE {where}) AS ranked "
                "WHERE n / ? * ? = n ORDER BY position"  # n a multiple of batch (no % on PostgreSQL's driver)
            )
            ends = [int(row[0]) for row in tx.all(sql, (project, after, until, batch, batch))]
    if not ends or ends[-1] != until:
        ends.append(until)
    return ends


class Workers:
    """``count`` worker processes for one run (a context manager: they end with the block).
    They start at once, so their imports overlap the parent's query for the chunks' bounds."""

    def __init__(self, url: str, target: Target, s3: S3Options | None, *, project: str, count: int) -> None:
        settings = {"store": url, "uri": target.uri, "s3": asdict(s3) if s3 else None, "project": project}
        self._pool = [_Worker(settings) for _ in range(count)]
        self._failed = False

    def __enter__(self) -> Workers:
        return self

    def __exit__(self, *exc: object) -> None:
        for worker in self._pool:
            worker.stop(kill=self._failed or exc[0] is not None)

    def run(self, ranges: list[tuple[int, int]]) -> Iterator[ChunkResult]:
        """Write each ``(after, last)`` range as one chunk; the results in range order. A worker
        that fails or dies stops the run with its error (nothing is committed past the
        watermark: run the archive again)."""
        todo: queue.SimpleQueue[tuple[int, tuple[int, int]] | None] = queue.SimpleQueue()
        for index, bounds in enumerate(ranges):
            todo.put((index, bounds))
        for _ in self._pool:
            todo.put(None)
        done: queue.SimpleQueue[tuple[int, ChunkResult | Exception]] = queue.SimpleQueue()
        threads = [threading.Thread(target=w.serve, args=(todo, done), daemon=True) for w in self._pool]
        for thread in threads:
            thread.start()
        try:
            yield from _in_order(done, len(ranges))
        except BaseException:
            self._failed = True
            for worker in self._pool:
                worker.stop(kill=True)  # the others must not go on writing
            raise
        finally:
            for thread in threads:
                thread.join()


def _in_order(
    done: queue.SimpleQueue[tuple[int, ChunkResult | Exception]], count: int
) -> Iterator[ChunkResult]:
    waiting: dict[int, ChunkResult] = {}
    for expected in range(count):
        while expected not in waiting:
            index, result = done.get()
            if isinstance(result, Exception):
                raise result
            waiting[index] = result
        yield waiting.pop(expected)


class _Worker:
    """One worker process, fed one range at a time by :meth:`serve` (a thread of the parent)."""

    def __init__(self, settings: dict[str, Any]) -> None:
        package_root = str(Path(__file__).resolve().parents[2])  # where this preflog is imported from
        env = dict(os.environ, PYTHONPATH=os.pathsep.join([package_root, os.environ.get("PYTHONPATH", "")]))
        # Arrow's allocator (mimalloc) keeps what a chunk freed for the next one instead of giving
        # it back to the system: the next chunk's columns then need no fresh, zeroed pages
        # (22,000 page faults and 0.75 s of system time a chunk of 200,000 events; 3,000 and 0.3 s).
        env.setdefault("MIMALLOC_PURGE_DELAY", "-1")
        # pyarrow imports numpy, whose OpenBLAS starts a thread a core that spins at start-up; a
        # worker does no linear algebra (128M instructions of its ~1.3G import, cachegrind)
        env.setdefault("OPENBLAS_NUM_THREADS", "1")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "preflog.archive.worker_main"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=env,
            text=True,
        )
        self._send(settings)

    def serve(
        self,
        todo: queue.SimpleQueue[tuple[int, tuple[int, int]] | None],
        done: queue.SimpleQueue[tuple[int, ChunkResult | Exception]],
    ) -> None:
        while (task := todo.get()) is not None:
            index, bounds = task
            try:
                self._send(list(bounds))
                done.put((index, _result(self._receive())))
            except Exception as exc:  # its error, or its death: the run stops with it
                done.put((index, exc))
                return

    def stop(self, *, kill: bool) -> None:
        """End the process: its input closed (it ends after its last answer), or killed."""
        if kill and self.proc.poll() is None:
            self.proc.kill()
        for stream in (self.proc.stdin, self.proc.stdout):
            if stream is not None and not stream.closed:
                with contextlib.suppress(OSError):  # a killed worker's pipe
                    stream.close()
        self.proc.wait()

    def _send(self, message: Any) -> None:
        assert self.proc.stdin is not None
        try:
            self.proc.stdin.write(json.dumps(message) + "\n")
            self.proc.stdin.flush()
        except (BrokenPipeError, OSError) as exc:
            raise self._died() from exc

    def _receive(self) -> dict[str, Any]:
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            raise self._died()
        answer: dict[str, Any] = json.loads(line)
        return answer

    def _died(self) -> StoreError:
        code = self.proc.wait()
        return StoreError(
            f"archive: worker process {self.proc.pid} ended (exit code {code}); nothing past the "
            "watermark was committed: run preflog archive again (--workers 1 runs it in one process)"
        )


def _result(answer: dict[str, Any]) -> ChunkResult:
    if "error" in answer:
        kind, message = answer["kind"], answer["error"]
        if kind == "OSError":  # object storage down, a full disk: as a single process raises it
            raise OSError(message)
        raise (ConfigError if kind == "ConfigError" else StoreError)(message)
    erased = Erased(set(answer["requests"]), set(answer["users"]))
    return ChunkResult(answer["files"], int(answer["events"]), erased)


# ------------------------------------------------------------------------------ the worker's side


def work(lines: IO[str], out: IO[str]) -> None:
    """A worker's loop (``python -m preflog.archive.worker_main``): settings, then ranges."""
    import gc

    from preflog.store import open_store

    gc.disable()  # as in the parent's run (writer._collector_paused): events hold no cycles
    threading.Thread(target=_exit_when_orphaned, args=(os.getppid(),), daemon=True).start()
    settings = json.loads(lines.readline())
    s3 = S3Options(**settings["s3"]) if settings["s3"] else None
    store = open_store(settings["store"], create=False)
    target = open_target(settings["uri"], s3=s3)
    for line in lines:
        after, last = json.loads(line)
        try:
            result = write_range(store, target, settings["project"], after, last)
        except (PreflogError, OSError) as exc:
            kind = "OSError" if isinstance(exc, OSError) else type(exc).__name__
            answer: dict[str, Any] = {"error": f"{exc}", "kind": kind}
        else:
            answer = {"files": result.files, "events": result.events}
            answer |= {"requests": sorted(result.erased.requests), "users": sorted(result.erased.users)}
        out.write(json.dumps(answer) + "\n")
        out.flush()
    store.close()


def write_range(store: Store, target: Target, project: str, after: int, last: int) -> ChunkResult:
    """The events with ``after < position <= last`` written as one chunk."""
    chunk = Chunk(target, project)
    events = store.scan_texts(project=project, after=after, until_position=last, batch=PAGE)
    # lists of a page cut by islice: the range is one chunk, so no count of where one ends
    # (pieces' Python loop, ~0.1 µs an event); Chunk.add's rows do not depend on the cuts
    while piece := list(islice(events, PAGE)):
        chunk.add(piece)
    return chunk.commit()


def _exit_when_orphaned(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(_ORPHAN_CHECK_S)
    os._exit(1)  # the run is over; its rerun must not meet this process's writes
