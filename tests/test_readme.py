"""The README's commands and examples run as written."""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

from preflog.store import open_store
from tests import factories as f

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()
PREFLOG = str(Path(sys.executable).with_name("preflog"))


def blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", README, flags=re.S)


def test_readme_starts_with_exactly_the_two_setup_commands() -> None:
    first = blocks("bash")[0]
    commands = [line.split("#")[0].strip() for line in first.splitlines() if line.strip()]
    assert commands == ["make run", "make test"]
    assert README.index("make run") < README.index("## ")
    makefile = (ROOT / "Makefile").read_text()
    assert re.search(r"^run:", makefile, flags=re.M) and re.search(r"^test:", makefile, flags=re.M)


def test_sdk_example_runs_as_written(tmp_path: Path) -> None:
    (example,) = blocks("python")
    done = subprocess.run(
        [sys.executable, "-c", example], cwd=tmp_path, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "4"
    store = open_store(str(tmp_path / "feedback.db"))
    stats = store.stats(project="chatbot")
    assert stats.by_type == {"inference": 1, "preference": 1, "score": 1, "signal": 1}
    assert stats.by_model == {"atlas-7b": 1, "borealis-13b": 1}


def test_cli_examples_run_as_written(tmp_path: Path) -> None:
    subprocess.run([sys.executable, "-c", blocks("python")[0]], cwd=tmp_path, check=True, timeout=120)
    request_id = open_store(str(tmp_path / "feedback.db")).read(project="chatbot")[0].request_id
    assert request_id is not None
    shutil.copytree(ROOT / "examples", tmp_path / "examples")
    events = [f.inference(), f.inference()]
    (tmp_path / "events.ndjson").write_text("".join(json.dumps(e) + "\n" for e in events))
    env = {**os.environ, "PATH": f"{Path(PREFLOG).parent}{os.pathsep}{os.environ['PATH']}"}
    ran = 0
    for line in blocks("bash")[1].splitlines():
        command = line.split("  #")[0].strip()
        if not command or " serve" in command or command.startswith("source "):
            continue  # serve runs until stopped: the server tests start it for real
        argv = shlex.split(command.replace("REQUEST_ID", request_id))
        done = subprocess.run(argv, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, f"{command}: {done.stderr}"
        assert done.stdout.strip(), f"{command} printed nothing"
        ran += 1
    assert ran >= 9
    assert any((tmp_path / "charts").iterdir())


def test_the_sample_events_file_logs_cleanly(tmp_path: Path) -> None:
    """examples/events.ndjson, which the README logs: every line stored, then every line a duplicate."""
    sample = ROOT / "examples" / "events.ndjson"
    lines = sample.read_text(encoding="utf-8").splitlines()
    argv = [PREFLOG, "--db", str(tmp_path / "s.db"), "--project", "chatbot", "log", str(sample)]
    first = subprocess.run(argv, capture_output=True, text=True, timeout=120)
    assert first.returncode == 0, first.stdout
    assert (
        first.stdout.splitlines()[-1]
        == f"{len(lines)} lines: {len(lines)} stored, 0 duplicate, 0 conflict, 0 rejected"
    )
    again = subprocess.run(argv, capture_output=True, text=True, timeout=120)
    assert again.stdout.splitlines()[-1].startswith(f"{len(lines)} lines: 0 stored, {len(lines)} duplicate")
    types = {json.loads(line)["type"] for line in lines}
    assert {"inference", "preference", "score", "signal"} <= types
    shown = re.search(r"show ([0-9a-f-]{36})", README)
    assert shown and shown.group(1) in sample.read_text()  # the README shows a request of the sample
