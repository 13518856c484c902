"""``leaderboard`` and ``report`` read the archive (``--from-archive``, ``--engine duckdb``) and answer
what they answer from the store."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from preflog.archive import archive_events
from preflog.store import open_store
from tests import factories as f
from tests.compile.helpers import append_all


def test_leaderboard_and_report_from_the_archive_match_the_store(tmp_path: Path) -> None:
    db, archive = str(tmp_path / "events.db"), str(tmp_path / "archive")
    store = open_store(db)
    for i in range(20):
        inf = f.inference(prompt=f"q{i}?", models=("alpha", "beta"))
        append_all(
            store, [inf, f.preference(inf["request_id"], *(("c0", "c1") if i % 3 else ("c1", "c0")))], "p"
        )
    archive_events(store, project="p", out=archive)
    store.close()
    env = dict(os.environ, PYTHONPATH="src")
    for command in ("leaderboard", "report"):
        answers = set()
        for extra in ([], ["--from-archive", archive], ["--engine", "duckdb", "--from-archive", archive]):
            run = [sys.executable, "-m", "preflog", command, "--db", db, "--project", "p", "--format", "json"]
            done = subprocess.run(run + extra, capture_output=True, text=True, env=env)
            assert done.returncode == 0, done.stderr
            answers.add(done.stdout)
        assert len(answers) == 1 and "alpha" in answers.pop()
