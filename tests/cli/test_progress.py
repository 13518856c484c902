"""Progress on a terminal (issue #12, item 13): ``log``, ``import``, ``compile`` draw counts and a
rate on stderr when it is a terminal (a real pseudo-terminal here), and print only the summary
in a pipe or under CI. The library side is one callback shape, :mod:`preflog.progress`."""

from __future__ import annotations

import fcntl
import json
import os
import pty
import struct
import subprocess
import sys
import termios
from pathlib import Path

import pytest

from preflog.compile import compile_dataset
from preflog.demo import load_demo
from preflog.progress import ProgressUpdate
from preflog.store import open_store
from tests import factories as f

pytestmark = pytest.mark.usefixtures("needs_store")

PREFLOG = [sys.executable, "-m", "preflog"]


def on_terminal(argv: list[str], env: dict[str, str] | None = None) -> tuple[int, str, str]:
    """Run the CLI with stderr on a pseudo-terminal; answer (exit code, stdout, what the terminal got)."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))  # 120 columns
    # preflog.verify sets TQDM_DISABLE in its process (the trainers' bars); a verify test earlier in
    # the session must not silence this terminal
    environment = {k: v for k, v in os.environ.items() if k != "CI" and not k.startswith("TQDM_")} | (
        env or {}
    )
    process = subprocess.Popen([*PREFLOG, *argv], stdout=subprocess.PIPE, stderr=slave, env=environment)
    os.close(slave)
    screen = bytearray()
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:  # EIO: the child closed the terminal
            break
        if not chunk:
            break
        screen += chunk
    os.close(master)
    out = process.stdout.read().decode() if process.stdout else ""
    return process.wait(timeout=120), out, screen.decode(errors="replace")


@pytest.fixture
def big_log(tmp_path: Path) -> Path:
    path = tmp_path / "many.ndjson"
    path.write_text("".join(json.dumps(f.inference()) + "\n" for _ in range(3000)))
    return path


def test_log_draws_counts_and_rate_on_a_terminal(big_log: Path, tmp_path: Path) -> None:
    code, out, screen = on_terminal(
        ["--db", str(tmp_path / "t.db"), "log", str(big_log), "-q", "--batch-size", "200"]
    )
    assert code == 0, screen
    assert out.strip() == "3000 lines: 3000 stored, 0 duplicate, 0 conflict, 0 rejected"
    assert "log · logging: 3,000 events" in screen and "events/s" in screen


def test_only_the_summary_in_a_pipe_or_under_ci(big_log: Path, tmp_path: Path) -> None:
    argv = ["--db", str(tmp_path / "p.db"), "log", str(big_log), "-q"]
    piped = subprocess.run([*PREFLOG, *argv], capture_output=True, text=True, timeout=120)
    assert piped.returncode == 0 and piped.stderr == ""
    code, _, screen = on_terminal([*argv], env={"CI": "true"})
    assert code == 0 and "logging" not in screen and screen.strip() == ""


def test_compile_and_import_draw_their_stages(tmp_path: Path) -> None:
    db = str(tmp_path / "c.db")
    with open_store(db) as store:
        load_demo(store, "demo", requests=120)
    code, _, screen = on_terminal(
        ["--db", db, "--project", "demo", "compile", "-f", "trl", "--out", str(tmp_path / "o")]
    )
    assert code == 0, screen
    for stage in ("reading judgments: ", "joining inferences: ", "writing: "):
        assert f"compile · {stage}" in screen
    rows = tmp_path / "rows.jsonl"
    rows.write_text(
        "".join(json.dumps({"prompt": f"q{n}", "chosen": "yes", "rejected": "no"}) + "\n" for n in range(50))
    )
    code, _, screen = on_terminal(["--db", db, "import", "trl", str(rows)])
    assert code == 0, screen
    assert "import · importing: 50 rows" in screen


def test_compile_reports_each_stage_to_a_library_callback(tmp_path: Path) -> None:
    updates: list[ProgressUpdate] = []
    with open_store(str(tmp_path / "l.db")) as store:
        load_demo(store, "demo", requests=120, progress=updates.append)
        assert updates[-1] == ProgressUpdate("appending", updates[-1].total or 0, updates[-1].total, "events")
        updates.clear()
        manifest = compile_dataset(store, project="demo", out_dir=tmp_path / "o", progress=updates.append)
    stages = list(dict.fromkeys(u.stage for u in updates))
    assert stages == ["reading judgments", "joining inferences", "writing"]
    last = {u.stage: u for u in updates}
    items = manifest.counts_out["items"]
    assert last["writing"].done == last["writing"].total == items
    events = manifest.counts_in["events"]
    assert isinstance(events, dict) and last["joining inferences"].done == events["inference"]
    for stage in stages:  # a running total: never goes back
        done = [u.done for u in updates if u.stage == stage]
        assert done == sorted(done)
