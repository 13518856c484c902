"""The installed ``preflog`` console script, in a real subprocess, on a real SQLite file."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from preflog.events import SCHEMA_VERSION
from tests import factories as f
from tests.conftest import ROOT

pytestmark = pytest.mark.usefixtures("needs_store")

SCRIPT = Path(sys.executable).parent / "preflog"
if not SCRIPT.exists():
    SCRIPT = ROOT / ".venv" / "bin" / "preflog"


def preflog(
    *argv: str, stdin: str | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(SCRIPT), *argv],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **(env or {})},
        check=False,
    )


def test_console_script_logs_stdin_and_shows_and_counts(tmp_path: Path) -> None:
    inf = f.inference()
    good = json.dumps(inf) + "\n" + json.dumps(f.preference(inf["request_id"])) + "\n"
    env = {"PREFLOG_DB": str(tmp_path / "sub.db"), "PREFLOG_PROJECT": "subproc"}
    first = preflog("log", "-", stdin=good + "{not json}\n", env=env)
    assert first.returncode == 1, first.stderr
    assert first.stdout.splitlines()[2].startswith("line 3: rejected  invalid JSON")
    assert first.stdout.splitlines()[-1] == "3 lines: 2 stored, 0 duplicate, 0 conflict, 1 rejected"
    again = preflog("log", "-", stdin=good, env=env)
    assert again.returncode == 0, again.stderr
    assert again.stdout.splitlines()[-1] == "2 lines: 0 stored, 2 duplicate, 0 conflict, 0 rejected"
    shown = preflog("show", inf["request_id"], env=env)
    assert shown.returncode == 0 and json.loads(shown.stdout)["inference"]["event_id"] == inf["event_id"]
    stats = preflog(
        "--db", f"sqlite:///{tmp_path / 'sub.db'}", "--project", "subproc", "stats", "--format", "json"
    )
    assert json.loads(stats.stdout)["by_type"]["preference"] == 1
    missing = preflog("show", "nope", env=env)
    assert missing.returncode == 2 and "no request 'nope'" in missing.stderr


def test_console_script_schema_and_demo(tmp_path: Path) -> None:
    schema = preflog("schema")
    assert schema.returncode == 0
    assert json.loads(schema.stdout)["$id"] == f"urn:preflog:event:v{SCHEMA_VERSION}"
    demo = preflog("--db", str(tmp_path / "demo.db"), "demo", "--requests", "40")
    assert demo.returncode == 0, demo.stderr
    assert "demo project 'default' (seed 7, 40 requests)" in demo.stdout
    assert demo.stderr == ""  # no progress when stderr is not a terminal
