"""The archive built by several processes: the same files, byte for byte, as one process (and as a
whole chunk built at once, the code before pieces), and a worker or the parent killed mid-run
leaves nothing a rerun does not replace with the same bytes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections import defaultdict
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from preflog.archive import S3Options, archive_events, open_target
from preflog.archive import chunks as chunks_module
from preflog.archive.chunks import part_name
from preflog.archive.rows import SCHEMA, Stamps, table_of_values, values_of
from preflog.archive.target import part_files, read_state, temporaries
from preflog.archive.workers import chunk_ends
from preflog.errors import StoreError
from preflog.store import Store
from tests import factories as f
from tests.archive.conftest import PROJECT, day_events
from tests.archive.test_archive import file_bytes
from tests.compile.helpers import append_all

Target = tuple[str, "S3Options | None"]
OTHER = "other"


def _fill(store: Store, days: int, per_day: int) -> None:
    """Events of PROJECT over ``days`` days, interleaved with another project's, so that a chunk
    of N events of PROJECT spans more than N positions."""
    for day in range(2, 2 + days):
        append_all(store, day_events(per_day, day=day, user=f"u{day % 3}"), PROJECT)
        append_all(store, day_events(per_day // 3, day=day, tag="o"), OTHER)


def _whole_chunks(store: Store, batch: int) -> dict[str, pa.Table]:
    """The tables as the code before pieces and workers built them: each chunk of ``batch`` events
    materialized, split by day, one table each."""
    events = list(store.scan_texts(project=PROJECT, after=0, until_position=store.last_position(), batch=999))
    out: dict[str, pa.Table] = {}
    for start in range(0, len(events), batch):
        stamps, by_day = Stamps(), defaultdict(list)
        for item, text in events[start : start + batch]:
            by_day[stamps.day_of(item)].append(values_of(item, stamps, text))
        for day, rows in by_day.items():
            out[part_name(PROJECT, day, rows[0][0], rows[-1][0])] = table_of_values(rows)
    return out


def test_pieces_hold_the_rows_of_a_whole_chunk(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _fill(store, days=3, per_day=40)
    monkeypatch.setattr(chunks_module, "PIECE", 7)  # many pieces per chunk and per day
    uri = str(tmp_path / "archive")
    archive_events(store, project=PROJECT, out=uri, batch=50, workers=1)
    expected = _whole_chunks(store, batch=50)
    place = open_target(uri, create=False)
    written = {path.removeprefix(place.root + "/"): path for _, _, path in part_files(place, PROJECT)}
    assert sorted(written) == sorted(expected) and len(written) >= 6
    for name, path in written.items():
        table = pq.read_table(path, schema=SCHEMA, partitioning=None)
        assert table.equals(expected[name]), name


def test_workers_write_the_files_of_one_process(store: Store, target: Target, tmp_path: Path) -> None:
    uri, s3 = target
    _fill(store, days=4, per_day=60)
    one = str(tmp_path / "one")
    first_many = archive_events(store, project=PROJECT, out=uri, s3=s3, batch=40, workers=3)
    first_one = archive_events(store, project=PROJECT, out=one, batch=40, workers=1)
    assert first_many.files_written == first_one.files_written and len(first_one.files_written) > 6
    assert first_many.events == first_one.events == 480
    # more events, among them an erasure of a user: incremental, and the earlier files rewritten
    append_all(store, [*day_events(90, day=9, user="u1"), f.erasure(user_id="u2")], PROJECT)
    second_many = archive_events(store, project=PROJECT, out=uri, s3=s3, batch=40, workers=2)
    second_one = archive_events(store, project=PROJECT, out=one, batch=40, workers=1)
    assert second_many.to_dict() | {"uri": ""} == second_one.to_dict() | {"uri": ""}
    assert second_one.files_rewritten and second_one.previous == first_one.watermark
    assert file_bytes(uri, s3) == file_bytes(one, None)
    place = open_target(uri, s3=s3, create=False)
    assert read_state(place, PROJECT) == read_state(open_target(one), PROJECT)
    assert not temporaries(place, PROJECT)


def _worker_pids(parent: int) -> list[int]:
    """The archive workers among ``parent``'s children (in a whole-suite run the test process has
    other children too — a broker, a JVM, a browser — which must never be the one killed)."""
    found = []
    for children in Path(f"/proc/{parent}/task").glob("*/children"):
        for pid in (int(p) for p in children.read_text().split()):
            try:
                command = Path(f"/proc/{pid}/cmdline").read_bytes()
            except OSError:  # it has just ended
                continue
            if b"preflog.archive.worker_main" in command:
                found.append(pid)
    return found


def _wait_for_parts(uri: str, count: int, still_running: threading.Thread | subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 120
    while len(list(Path(uri).rglob("part-*.parquet"))) < count:
        alive = still_running.is_alive() if isinstance(still_running, threading.Thread) else None
        if isinstance(still_running, subprocess.Popen):
            alive = still_running.poll() is None
        assert alive, "the run ended before it could be killed"
        assert time.monotonic() < deadline
        time.sleep(0.005)


def test_a_killed_worker_fails_the_run_and_the_rerun_gives_the_same_files(
    store: Store, tmp_path: Path
) -> None:
    _fill(store, days=5, per_day=300)
    uri, clean = str(tmp_path / "archive"), str(tmp_path / "clean")
    failure: list[BaseException] = []

    def run() -> None:
        try:
            archive_events(store, project=PROJECT, out=uri, batch=20, workers=2)
        except BaseException as exc:  # the assertion below needs it
            failure.append(exc)

    runner = threading.Thread(target=run)
    runner.start()
    _wait_for_parts(uri, 2, runner)
    workers = [pid for pid in _worker_pids(os.getpid()) if pid != os.getpid()]
    assert workers
    os.kill(workers[0], signal.SIGKILL)
    runner.join(60)
    assert len(failure) == 1 and isinstance(failure[0], StoreError)
    assert "run preflog archive again" in str(failure[0])
    place = open_target(uri, create=False)
    assert not read_state(place, PROJECT)  # the watermark never moved
    assert not [p for p in _worker_pids(os.getpid()) if p in workers]  # every worker ended
    archive_events(store, project=PROJECT, out=uri, batch=20, workers=2)
    archive_events(store, project=PROJECT, out=clean, batch=20, workers=1)
    assert file_bytes(uri, None) == file_bytes(clean, None)
    assert not temporaries(place, PROJECT)
    assert not [p for p in Path(uri).rglob("*") if p.is_file() and p.name.startswith(".")]


_ARCHIVER = """
import sys
from preflog.archive import archive_events
from preflog.store import open_store
store = open_store(sys.argv[1], create=False)
archive_events(store, project=sys.argv[2], out=sys.argv[3], batch=20, workers=2)
"""


def test_a_killed_parent_takes_its_workers_with_it(store: Store, tmp_path: Path) -> None:
    _fill(store, days=5, per_day=300)
    db, uri, clean = str(tmp_path / "events.db"), str(tmp_path / "archive"), str(tmp_path / "clean")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(["src", os.environ.get("PYTHONPATH", "")]))
    parent = subprocess.Popen([sys.executable, "-c", _ARCHIVER, db, PROJECT, uri], env=env)
    _wait_for_parts(uri, 2, parent)
    workers = _worker_pids(parent.pid)
    assert workers
    parent.send_signal(signal.SIGKILL)
    parent.wait()
    deadline = time.monotonic() + 10
    while any(Path(f"/proc/{pid}").exists() and _running(pid) for pid in workers):
        assert time.monotonic() < deadline, "a worker outlived its parent"
        time.sleep(0.05)
    assert not (Path(uri) / "_preflog" / PROJECT / "state.json").exists()
    archive_events(store, project=PROJECT, out=uri, batch=20, workers=2)
    archive_events(store, project=PROJECT, out=clean, batch=20, workers=1)
    assert file_bytes(uri, None) == file_bytes(clean, None)
    assert not temporaries(open_target(uri, create=False), PROJECT)
    assert [path for _, _, path in part_files(open_target(uri), PROJECT)]


def _running(pid: int) -> bool:
    """Whether ``pid`` is alive and not a zombie (an orphan's zombie is reaped by init, later)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.mark.postgres
def test_workers_read_postgresql_too(tmp_path: Path) -> None:
    from tests.store.conftest import BACKENDS

    store = BACKENDS["postgres"](tmp_path)
    try:
        _fill(store, days=3, per_day=50)
        many, one = str(tmp_path / "many"), str(tmp_path / "one")
        report = archive_events(store, project=PROJECT, out=many, batch=30, workers=2)
        archive_events(store, project=PROJECT, out=one, batch=30, workers=1)
        assert report.events == 300 and len(report.files_written) >= 5
        assert file_bytes(many, None) == file_bytes(one, None)
    finally:
        store.close()


@pytest.mark.parametrize("interleaved", [False, True])
@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_chunk_ends_are_every_batch_th_event(tmp_path: Path, backend: str, interleaved: bool) -> None:
    """The bounds the workers get: the position of every ``batch``-th event of the project after
    ``after``, then the last, whether the project holds every position of the range (counted, then
    computed) or shares it with another project (ranked)."""
    from tests.store.conftest import BACKENDS

    store = BACKENDS[backend](tmp_path)
    try:
        _check_chunk_ends(store, interleaved)
    finally:
        store.close()


def _check_chunk_ends(store: Store, interleaved: bool) -> None:
    if interleaved:
        _fill(store, days=2, per_day=30)
    else:
        append_all(store, day_events(30, day=2) + day_events(30, day=3), PROJECT)
    until = store.last_position()
    positions = [e.position for e in store.scan(project=PROJECT, after=0, until_position=until, batch=999)]
    assert (positions[-1] - positions[0] + 1 == len(positions)) is not interleaved
    for after, batch in [(0, 7), (0, 120), (5, 10), (0, 1), (until - 3, 7)]:
        mine = [p for p in positions if p > after]
        expected = mine[batch - 1 :: batch]
        if not expected or expected[-1] != until:
            expected.append(until)
        assert chunk_ends(store, project=PROJECT, after=after, until=until, batch=batch) == expected
