"""``preflog spool status`` and ``preflog spool replay`` as a user meets them: counts, one-line
errors, nothing created by looking, and exit 1 while events are left."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import preflog
from preflog.cli import main
from preflog.sdk.client import spool_location
from preflog.sdk.spool import DiskSpool

DOWN = "http://127.0.0.1:9"  # nothing listens there


def spooled(spool: Path, n: int) -> None:
    client = preflog.Client(url=DOWN, project="p", spool_dir=spool, max_retries=0, replay_backoff=60)
    for i in range(n):
        client.log_inference(f"q {i}", ["a"], model="m")
    assert client.flush(timeout=30)
    client.close(timeout=5)


def test_status_counts_the_events_of_a_spool(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spooled(tmp_path / "spool", 7)
    assert main(["spool", "status", "--spool-dir", str(tmp_path / "spool"), "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out) == {"directory": str(tmp_path / "spool"), "pending": 7}


def test_status_finds_the_directory_a_client_for_the_service_uses(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("PREFLOG_SPOOL_DIR_EXACT", raising=False)
    monkeypatch.setenv("PREFLOG_SPOOL_DIR", str(tmp_path / "parent"))
    spooled(spool_location(DOWN, "p"), 3)
    assert main(["spool", "status", "--url", DOWN, "--project", "p"]) == 0
    assert capsys.readouterr().out.startswith("3 events in " + str(tmp_path / "parent"))


def test_looking_creates_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "nowhere"
    assert main(["spool", "status", "--spool-dir", str(missing)]) == 0
    assert main(["spool", "replay", "--url", DOWN, "--spool-dir", str(missing)]) == 0
    assert "nothing to replay" in capsys.readouterr().out
    assert not missing.exists()


def test_replay_without_a_url_is_one_clear_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("PREFLOG_URL", raising=False)
    assert main(["spool", "replay"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--url" in err and "PREFLOG_URL" in err


def test_replay_to_a_service_that_is_down_keeps_everything_and_exits_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spooled(tmp_path / "spool", 5)
    assert main(["spool", "replay", "--url", DOWN, "--spool-dir", str(tmp_path / "spool")]) == 1
    out, err = capsys.readouterr()
    assert "replayed 0 events" in out and "5 still in the spool" in out
    assert "the replay stopped" in err and "unreachable" in err
    assert DiskSpool(tmp_path / "spool").pending() == 5
