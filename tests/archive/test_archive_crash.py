"""An archive run killed mid-write (SIGKILL) and run again: the same files, byte for byte, as one
uninterrupted run, and no partial or temporary file left."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from preflog.archive import archive_events, open_target
from preflog.archive.target import part_files, temporaries
from preflog.store import Store
from tests.archive.conftest import PROJECT, day_events
from tests.compile.helpers import append_all

# Slows every commit so the kill lands mid-run: 0.05 s x ~40 files is a 2 s window.
_SLOW_ARCHIVER = """
import sys, time
from preflog.archive import chunks, target, writer
from preflog.store import open_store
real = target.commit_table
def slow(*args, **kwargs):
    real(*args, **kwargs)
    time.sleep(0.05)
chunks.commit_table = slow
store = open_store(sys.argv[1], create=False)
writer.archive_events(store, project=sys.argv[2], out=sys.argv[3], batch=10, workers=1)
"""


def _files(uri: str) -> dict[str, bytes]:
    place = open_target(uri, create=False)
    return {
        Path(p).relative_to(uri).as_posix(): Path(p).read_bytes() for _, _, p in part_files(place, PROJECT)
    }


def _kill_mid_run(db: str, uri: str) -> None:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(["src", os.environ.get("PYTHONPATH", "")]))
    child = subprocess.Popen([sys.executable, "-c", _SLOW_ARCHIVER, db, PROJECT, uri], env=env)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and len(list(Path(uri).rglob("part-*.parquet"))) < 5:
        assert child.poll() is None, "the archiver ended before it could be killed"
        time.sleep(0.01)
    child.send_signal(signal.SIGKILL)
    child.wait()


def test_a_killed_run_rerun_gives_the_files_of_an_uninterrupted_one(store: Store, tmp_path: Path) -> None:
    append_all(store, day_events(100, day=2) + day_events(100, day=3), PROJECT)
    db, crashed, clean = str(tmp_path / "events.db"), str(tmp_path / "crashed"), str(tmp_path / "clean")
    _kill_mid_run(db, crashed)
    assert not (Path(crashed) / "_preflog" / PROJECT / "state.json").exists()  # killed before the end
    left = _files(crashed)
    assert 5 <= len(left) < 40
    archive_events(store, project=PROJECT, out=crashed, batch=10)
    archive_events(store, project=PROJECT, out=clean, batch=10)
    assert _files(crashed) == _files(clean)
    assert not temporaries(open_target(crashed, create=False), PROJECT)
    assert not [p for p in Path(crashed).rglob("*") if p.is_file() and p.name.startswith(".")]
