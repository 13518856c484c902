"""``preflog archive`` from the command line: a summary line, JSON, and one-line errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from preflog.store import Store
from tests.archive.conftest import PROJECT


def preflog(*args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PYTHONPATH="src")
    return subprocess.run([sys.executable, "-m", "preflog", *args], capture_output=True, text=True, env=env)


def test_archive_writes_then_has_nothing_new(filled: Store, tmp_path: Path) -> None:
    db, out = str(tmp_path / "events.db"), str(tmp_path / "archive")
    first = preflog("archive", "--db", db, "--project", PROJECT, "--out", out)
    assert first.returncode == 0, first.stderr
    assert "archived 100 event(s)" in first.stdout and "2 file(s) written" in first.stdout
    again = preflog("archive", "--db", db, "--project", PROJECT, "--out", out, "--format", "json")
    report = json.loads(again.stdout)
    assert report["events"] == 0 and report["previous"] == report["watermark"] == 100


def test_archive_mistakes_are_one_line(filled: Store, tmp_path: Path) -> None:
    db = str(tmp_path / "events.db")
    bad_uri = preflog("archive", "--db", db, "--project", PROJECT, "--out", "ftp://host/x")
    assert bad_uri.returncode == 2 and "only local paths and s3://" in bad_uri.stderr
    assert len(bad_uri.stderr.strip().splitlines()) == 1
    no_project = preflog("archive", "--db", db, "--project", "nope", "--out", str(tmp_path / "a"))
    assert no_project.returncode == 2 and "project 'nope' has no events" in no_project.stderr


def test_archive_workers_option(filled: Store, tmp_path: Path) -> None:
    db = str(tmp_path / "events.db")
    zero = preflog(
        "archive", "--db", db, "--project", PROJECT, "--out", str(tmp_path / "a"), "--workers", "0"
    )
    assert zero.returncode == 2 and "workers: must be at least 1, got 0" in zero.stderr
    assert len(zero.stderr.strip().splitlines()) == 1
    one = preflog("archive", "--db", db, "--project", PROJECT, "--out", str(tmp_path / "b"), "--workers", "1")
    assert one.returncode == 0 and "archived 100 event(s)" in one.stdout, one.stderr
