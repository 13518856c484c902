"""Group commit (:mod:`preflog.store.group`) and the SQLite writers' queue (:mod:`.sqlite_lock`).

Concurrent appends share transactions, on both backends, yet each one is answered exactly as if
it had been written alone: its events get consecutive positions in its own order, a duplicate id
sent by two appends at once is stored once (the other is a duplicate or a conflict), and a
failed transaction fails every append in it with nothing stored. Two processes writing one SQLite
file take turns through the lock file instead of SQLite's sleep-and-poll busy handler.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import threading
from pathlib import Path
from typing import Any

import pytest

from preflog.errors import StoreError, StoreUnavailable
from preflog.store import Store, open_store
from preflog.store.base import AppendResult
from preflog.store.group import Append, GroupCommit
from preflog.store.sqlite import SQLiteStore
from preflog.store.sqlite_lock import WriterLock
from tests import factories as f

THREADS = 8
APPENDS = 12  # per thread
SIZE = 25  # events per append


def _hammer(store: Store, project: str, batches: list[list[list[dict[str, Any]]]]) -> list[list[Any]]:
    """Every thread appends its batches at once (a barrier lines them up); the answers by thread."""
    barrier = threading.Barrier(len(batches))
    answers: list[list[Any]] = [[] for _ in batches]

    def run(i: int) -> None:
        barrier.wait()
        for batch in batches[i]:
            answers[i].append(store.append(batch, project=project))

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(batches))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    return answers


def _group(store: Store) -> GroupCommit:
    group = store._group  # type: ignore[attr-defined]
    assert isinstance(group, GroupCommit)
    return group


def test_concurrent_appends_share_transactions_and_are_answered_as_if_alone(
    store: Store, project: str
) -> None:
    batches = [[[f.inference() for _ in range(SIZE)] for _ in range(APPENDS)] for _ in range(THREADS)]
    group = _group(store)
    answers = _hammer(store, project, batches)
    assert group.appends == THREADS * APPENDS
    assert group.groups < group.appends  # some appends did share a transaction
    positions = []
    for thread_batches, thread_answers in zip(batches, answers, strict=True):
        for batch, results in zip(thread_batches, thread_answers, strict=True):
            assert [r.status for r in results] == ["stored"] * SIZE
            assert [r.event_id for r in results] == [e["event_id"] for e in batch]
            mine = [r.position for r in results]
            assert mine == list(range(mine[0], mine[0] + SIZE))  # consecutive, in the batch's order
            positions.extend(mine)
    assert len(set(positions)) == THREADS * APPENDS * SIZE
    stored = store.read(project=project, limit=100_000)
    assert [e.position for e in stored] == sorted(positions)
    by_id = {e.event["event_id"]: e.position for e in stored}
    flat = zip(_flat(batches), _flat_positions(answers), strict=True)
    assert all(by_id[e["event_id"]] == p for e, p in flat)


def _flat(batches: list[list[list[dict[str, Any]]]]) -> list[dict[str, Any]]:
    return [e for thread in batches for batch in thread for e in batch]


def _flat_positions(answers: list[list[Any]]) -> list[int]:
    return [r.position for thread in answers for results in thread for r in results]


def test_one_event_sent_by_many_appends_at_once_is_stored_once(store: Store, project: str) -> None:
    shared = f.inference()
    changed = dict(shared, prompt="another prompt under the same id")
    batches = [
        [[f.inference(), dict(changed if i == THREADS - 1 else shared), f.inference()] for _ in range(1)]
        for i in range(THREADS)
    ]
    answers = _hammer(store, project, batches)
    statuses = [thread[0][1].status for thread in answers]
    copies = [e for e in store.read(project=project, limit=1000) if e.event["event_id"] == shared["event_id"]]
    assert len(copies) == 1
    assert statuses.count("stored") == 1
    if copies[0].event["prompt"] == shared["prompt"]:  # the unchanged copy won: the other is a conflict
        assert statuses[-1] == "conflict"
        assert sorted(statuses[:-1]) == sorted(["stored"] + ["duplicate"] * (THREADS - 2))
    else:
        assert statuses[-1] == "stored" and set(statuses[:-1]) == {"conflict"}
    assert all(thread[0][0].status == thread[0][2].status == "stored" for thread in answers)


def test_a_failed_group_fails_every_append_in_it_and_stores_nothing() -> None:
    written: list[list[str]] = []
    release = threading.Event()
    started = threading.Event()

    def write(group: list[Append]) -> None:
        if not started.is_set():  # the first group waits, so the others queue up behind it
            started.set()
            release.wait(10)
            written.append([job.project for job in group])
            return
        raise StoreUnavailable("the database went away")

    committer = GroupCommit(write)
    jobs = [Append("p", [], [None]) for _ in range(4)]
    errors: list[BaseException | None] = [None] * 4

    def run(i: int) -> None:
        try:
            committer.run(jobs[i])
        except StoreError as exc:
            errors[i] = exc

    first = threading.Thread(target=run, args=(0,))
    first.start()
    assert started.wait(10)
    rest = [threading.Thread(target=run, args=(i,)) for i in (1, 2, 3)]
    for t in rest:
        t.start()
    while len(committer._queue) < 3:  # all three queued behind the first
        threading.Event().wait(0.01)
    release.set()
    for t in [first, *rest]:
        t.join(10)
    assert written == [["p"]] and errors[0] is None
    assert committer.groups == 2  # the three waiting appends went together, and failed together
    assert all(isinstance(e, StoreUnavailable) and "went away" in str(e) for e in errors[1:])
    assert all(job.done for job in jobs)


def test_groups_keep_one_project_and_the_size_cap() -> None:
    groups: list[list[tuple[str, int]]] = []
    gate = threading.Event()

    def write(group: list[Append]) -> None:
        gate.wait(10)
        groups.append([(job.project, job.size) for job in group])

    committer = GroupCommit(write, max_events=5)

    def job(project: str, size: int) -> Append:
        return Append(project, [object()] * size, [None] * size)  # type: ignore[list-item]

    order = [("a", 1), ("a", 2), ("b", 1), ("a", 2), ("a", 1), ("a", 1), ("b", 3)]
    threads = [threading.Thread(target=committer.run, args=(job("a", 1),))]
    threads[0].start()
    while not committer._busy:
        threading.Event().wait(0.01)
    for project, size in order[1:]:
        t = threading.Thread(target=committer.run, args=(job(project, size),))
        t.start()
        threads.append(t)
        while len(committer._queue) < len(threads) - 1:  # queued in this order
            threading.Event().wait(0.01)
    gate.set()
    for t in threads:
        t.join(10)
    # a: 2 + 2 fit (4); the next a (1) fits too (5); the last a would pass 5 and waits, and so do
    # the appends of b, which go together in a group of their own.
    assert groups[0] == [("a", 1)]
    assert groups[1] == [("a", 2), ("a", 2), ("a", 1)]
    assert sorted(groups[2:]) == sorted([[("b", 1), ("b", 3)], [("a", 1)]])


def test_the_writer_lock_waits_for_another_process_and_times_out(tmp_path: Path) -> None:
    path = tmp_path / "events.db"
    ctx = mp.get_context("fork")
    holding, release = ctx.Event(), ctx.Event()

    def hold() -> None:
        lock = WriterLock(path, timeout_s=30)
        with lock.hold():
            holding.set()
            release.wait(30)

    child = ctx.Process(target=hold)
    child.start()
    assert holding.wait(30)
    impatient = WriterLock(path, timeout_s=0.2)
    with pytest.raises(StoreUnavailable, match="write lock"), impatient.hold():
        pass
    waiter_done = threading.Event()

    def wait_for_turn() -> None:
        with WriterLock(path, timeout_s=30).hold():
            waiter_done.set()

    waiter = threading.Thread(target=wait_for_turn)
    waiter.start()
    assert not waiter_done.wait(0.3)  # still held by the other process
    release.set()
    assert waiter_done.wait(30)  # granted as soon as it was released
    waiter.join(10)
    child.join(30)
    assert child.exitcode == 0


def test_two_processes_append_to_one_file_through_the_lock(tmp_path: Path) -> None:
    path = str(tmp_path / "events.db")
    SQLiteStore(path).close()
    ctx = mp.get_context("spawn")
    procs = [ctx.Process(target=_append_many, args=(path, i)) for i in range(2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
    assert [p.exitcode for p in procs] == [0, 0]
    store = open_store(path)
    events = store.read(project="two", limit=10_000)
    store.close()
    assert len(events) == 2 * 20 * 30
    assert Path(path + "-lock").exists()


def _append_many(path: str, seed: int) -> None:
    store = open_store(path)
    for _ in range(20):
        results: list[AppendResult] = store.append([f.inference() for _ in range(30)], project="two")
        assert all(r.status == "stored" for r in results), results
    store.close()
    os._exit(0)


def test_without_a_lock_file_writers_still_take_turns(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Where the sidecar cannot be created (a read-only directory, say), the thread lock and
    SQLite's own lock still serialize writers: appends from several threads all land."""
    real_open = os.open

    def refuse_lock_file(path: Any, *args: Any, **kwargs: Any) -> int:
        if str(path).endswith("-lock"):
            raise PermissionError(13, "Permission denied", str(path))
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr(os, "open", refuse_lock_file)
    store = SQLiteStore(tmp_path / "events.db")
    batches = [[[f.inference() for _ in range(10)] for _ in range(5)] for _ in range(4)]
    answers = _hammer(store, "nolock", batches)
    store.close()
    assert not (tmp_path / "events.db-lock").exists()
    assert all(r.status == "stored" for thread in answers for results in thread for r in results)
    reopened = open_store(str(tmp_path / "events.db"))
    assert len(reopened.read(project="nolock", limit=1000)) == 4 * 5 * 10
    reopened.close()
