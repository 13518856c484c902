"""The leaderboard / ab / report commands, in process and end to end, on real SQLite files."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from typing import Any

import pytest

from preflog.cli import main
from preflog.store.sqlite import SQLiteStore
from tests import factories as f
from tests.conftest import require


def _events() -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    for k in range(30):
        inf = f.inference(
            models=("alpha", "beta"), outputs=("# Plan\n- one\n- **two**", "ok"), user_id=f"u{k % 3}"
        )
        chosen, rejected = ("c0", "c1") if k % 3 else ("c1", "c0")
        events += [inf, f.preference(inf["request_id"], chosen, rejected, criterion="helpfulness")]
    inf = f.inference(models=("beta", "gamma"))
    events += [inf, f.preference(inf["request_id"], "c1", "c0"), f.preference(inf["request_id"], "c0", "c1")]
    return events


@pytest.fixture
def stub_store(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> SQLiteStore:
    """A real SQLite file with the events, named by PREFLOG_DB so every command opens it."""
    store = SQLiteStore(tmp_path / "cli.db")
    store.append(_events(), project="default")
    monkeypatch.setenv("PREFLOG_DB", str(tmp_path / "cli.db"))
    monkeypatch.setenv("PREFLOG_PROJECT", "default")
    return store


def test_leaderboard_formats(stub_store: SQLiteStore, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["leaderboard", "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert [r["model"] for r in data["rows"]] == ["alpha", "beta", "gamma"]
    assert set(data["rows"][0]) == {"model", "rating", "ci_low", "ci_high", "rank", "battles"}
    assert main(["leaderboard", "--format", "csv", "--anchor", "beta=1200"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "rank,model,rating,ci_low,ci_high,battles" and ",beta,1200.0," in lines[2]
    assert main(["leaderboard", "--ci", "bootstrap", "--rounds", "20", "--seed", "3", "--style-control"]) == 0
    out = capsys.readouterr().out
    assert "style length" in out and "20 rounds, seed 3" in out
    assert main(["leaderboard", "--method", "elo", "--criterion", "helpfulness"]) == 0
    assert "gamma" not in capsys.readouterr().out
    assert main(["leaderboard", "--matrix", "winrate", "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["kind"] == "winrate"
    assert main(["leaderboard", "--anchor", "nonsense"]) == 2


def test_ab_and_report(stub_store: SQLiteStore, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert main(["ab", "alpha", "beta", "--segment", "user", "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["overall"]["wins_a"] == 20 and len(data["segments"]) == 3
    assert main(["ab", "alpha", "nobody"]) == 2
    assert main(["report", "--plot", str(tmp_path / "charts")]) == 0
    out = capsys.readouterr().out
    assert "Position bias" in out and "Krippendorff" in out
    assert sorted(p.name for p in (tmp_path / "charts").iterdir()) == [
        "latency.png",
        "length_bias.png",
        "position_bias.png",
        "volume.png",
    ]


def test_end_to_end_on_sqlite(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    require(importlib.util.find_spec("preflog.store.sqlite") is not None, "the SQLite store is not built yet")
    from preflog.store import open_store

    db = tmp_path / "preflog.db"
    with open_store(str(db)) as store:
        results = store.append(_events(), project="demo")
        assert all(r.status == "stored" for r in results)
    argv = ["--db", str(db), "--project", "demo"]
    assert main([*argv, "leaderboard", "--format", "json"]) == 0
    rows = json.loads(capsys.readouterr().out)["rows"]
    assert [r["model"] for r in rows] == ["alpha", "beta", "gamma"]
    assert sum(r["battles"] for r in rows) == 2 * 32
    assert main([*argv, "ab", "alpha", "beta"]) == 0
    assert "alpha vs beta" in capsys.readouterr().out
    assert main([*argv, "report", "--format", "json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["volume"]["judgments"] == 32


def test_style_control_on_too_few_battles_is_a_clear_error(tmp_path: Path) -> None:
    from preflog import analytics
    from preflog.errors import ValidationError

    store = SQLiteStore(tmp_path / "few.db")
    inf = f.inference(models=("alpha", "beta"), outputs=("same", "same"))
    store.append([inf, f.preference(inf["request_id"])], project="p")
    with pytest.raises(ValidationError, match="style_control"):
        analytics.leaderboard(store, "p", style_control=True)


def test_a_negative_seed_is_one_clear_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "seed.db"
    store = SQLiteStore(db)
    inf = f.inference(models=("alpha", "beta"))
    store.append([inf, f.preference(inf["request_id"])], project="p")
    store.close()
    code = main(["leaderboard", "--db", str(db), "--project", "p", "--ci", "bootstrap", "--seed", "-1"])
    err = capsys.readouterr().err
    assert code != 0 and "seed" in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1, err
