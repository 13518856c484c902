"""Process boundaries, for real: flush at interpreter exit (a subprocess), fork (parent and child
each deliver their own events once), and a light import."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from collections import Counter
from pathlib import Path

import pytest

import preflog
from tests.conftest import ROOT
from tests.sdk.conftest import PROJECT, stored, write_locked


def run_script(code: str, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        check=False,
    )


def test_events_are_flushed_at_interpreter_exit(db: str) -> None:
    # No flush, no close: the interval is long and the batch never fills, so only the exit hook
    # can deliver these events.
    result = run_script(
        """
        import sys, preflog
        client = preflog.Client(db=sys.argv[1], project=sys.argv[2], batch_size=100_000, flush_interval=3600)
        for i in range(1000):
            client.log_inference(f"question {i}", ["a", "b"], model="m")
        client.log_preference("r-1", chosen="c0", rejected="c1")
        print(client.stats().sent)
        """,
        db,
        PROJECT,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "0"  # nothing had been sent when the script ended
    events = stored(db)
    assert len(events) == 1001
    assert len({e.event_id for e in events}) == 1001


def test_exit_with_a_stuck_backend_does_not_hang(db: str) -> None:
    preflog.Client(db=db, project=PROJECT).close()  # create the file
    with write_locked(db):
        started = time.monotonic()
        result = run_script(
            """
            import sys, preflog
            client = preflog.Client(db=sys.argv[1], project="p", exit_timeout=0.5)
            client.log_inference("q", ["a"], model="m")
            """,
            db,
        )
        elapsed = time.monotonic() - started
    assert result.returncode == 0, result.stderr
    assert elapsed < 15  # exit_timeout, plus interpreter start-up; not the store's 30 s busy timeout


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_fork_child_and_parent_each_deliver_their_own_events_once(db: str, tmp_path: Path) -> None:
    result = run_script(
        """
        import os, sys, preflog
        client = preflog.Client(db=sys.argv[1], project=sys.argv[2], batch_size=100_000, flush_interval=3600)
        for i in range(50):
            client.log_inference(f"parent-before {i}", ["a", "b"], model="m")  # still queued at fork
        pid = os.fork()
        if pid == 0:
            for i in range(30):
                client.log_inference(f"child {i}", ["a", "b"], model="m")
            ok = client.flush(timeout=30)
            stats = client.stats()
            os._exit(0 if ok and stats.sent == 30 and stats.logged == 30 else 3)
        for i in range(20):
            client.log_inference(f"parent-after {i}", ["a", "b"], model="m")
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0, status
        assert client.flush(timeout=30)
        assert client.stats().sent == 70
        client.close()
        """,
        db,
        PROJECT,
    )
    assert result.returncode == 0, result.stderr
    prompts = Counter(str(e.event["prompt"]).split(" ")[0] for e in stored(db))
    assert prompts == {"parent-before": 50, "child": 30, "parent-after": 20}
    events = stored(db)
    assert len({e.event_id for e in events}) == len({e.request_id for e in events}) == 100


def test_import_and_construction_stay_light(db: str) -> None:
    result = run_script(
        """
        import sys, preflog
        client = preflog.Client(db=sys.argv[1], project="p")
        heavy = sorted(m for m in ("sqlite3", "preflog.store.sqlite", "numpy", "fastapi", "pydantic",
                                   "httpx", "psycopg", "pyarrow", "preflog.server", "confluent_kafka",
                                   "preflog.stream.producer") if m in sys.modules)
        client.log_inference("q", ["a"], model="m")
        client.close()
        print(",".join(heavy))
        """,
        db,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == ""


def test_a_client_for_the_service_loads_no_store_code(tmp_path: Path) -> None:
    # The SDK depends on the event contract and its transports only: no preflog.store module (nor
    # sqlite3) is loaded by a client that sends over HTTP, even after it tried to deliver.
    result = run_script(
        """
        import sys, preflog
        client = preflog.Client(url="http://127.0.0.1:9", project="p", spool_dir=sys.argv[1],
                                max_retries=0, replay_backoff=60)
        client.log_inference("q", ["a"], model="m")
        client.flush(timeout=10)
        spooled = client.stats().spooled
        client.close(timeout=5)
        loaded = sorted(m for m in sys.modules if m.startswith("preflog.store") or m == "sqlite3")
        print(spooled, ",".join(loaded))
        """,
        str(tmp_path / "spool"),
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["1"]  # delivered nowhere, kept on disk, and nothing else loaded


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_fork_parent_and_child_spool_their_own_events_once(tmp_path: Path) -> None:
    # The service is down (nothing listens on port 9): both processes keep what they log in the
    # same spool directory, each in its own segments; nothing of the parent's is spooled twice.
    spool = tmp_path / "spool"
    result = run_script(
        """
        import os, sys, preflog
        client = preflog.Client(url="http://127.0.0.1:9", project="p", spool_dir=sys.argv[1],
                                max_retries=0, replay_backoff=60, batch_size=10)
        for i in range(25):
            client.log_inference(f"parent {i}", ["a"], model="m")
        pid = os.fork()
        if pid == 0:
            for i in range(15):
                client.log_inference(f"child {i}", ["a"], model="m")
            ok = client.flush(timeout=30)
            os._exit(0 if ok and client.stats().spooled == 15 else 3)
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0, status
        assert client.flush(timeout=30) and client.stats().spooled == 25
        client.close(timeout=5)
        """,
        str(spool),
    )
    assert result.returncode == 0, result.stderr
    from preflog.sdk.spool import _batches

    prompts = Counter(
        str(e["prompt"]).split(" ")[0]
        for path in spool.glob("*.spool")
        for _, batch in _batches(path)
        for e in batch
    )
    assert prompts == {"parent": 25, "child": 15}


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_a_child_forked_while_the_spool_lock_is_held_can_still_spool(tmp_path: Path) -> None:
    # flock locks belong to the open file, which a fork duplicates: a child forked while another
    # thread of the parent held the spool's directory lock kept that lock held through its copy
    # of the descriptor, and its first save waited for itself forever.
    result = run_script(
        """
        import os, sys, threading
        from preflog.sdk.spool import DiskSpool
        spool = DiskSpool(sys.argv[1])
        held, release = threading.Event(), threading.Event()
        def writer():
            with spool._locked(exclusive=True):
                held.set()
                release.wait()
        thread = threading.Thread(target=writer)
        thread.start()
        held.wait()
        pid = os.fork()
        if pid == 0:
            spool.after_fork()
            done = threading.Event()
            threading.Thread(target=lambda: (spool.save([{"n": 1}], "p"), done.set()), daemon=True).start()
            os._exit(0 if done.wait(10) else 3)
        release.set()
        thread.join()
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0, status
        spool.save([{"n": 2}], "p")
        assert spool.pending() == 2, spool.pending()
        """,
        str(tmp_path / "spool"),
    )
    assert result.returncode == 0, result.stderr
