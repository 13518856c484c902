"""``preflog log|show|stats|demo`` in process, on real SQLite files."""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path
from typing import Any

import pytest

from preflog.cli import main
from preflog.cli.core import Progress
from preflog.demo import demo_events
from preflog.store import open_store
from tests import factories as f

pytestmark = pytest.mark.usefixtures("needs_store")


@pytest.fixture
def db(tmp_path: Path) -> str:
    return str(tmp_path / "events.db")


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def ndjson(*items: dict[str, Any] | str) -> str:
    return "".join((item if isinstance(item, str) else json.dumps(item)) + "\n" for item in items)


@pytest.fixture
def mixed(tmp_path: Path) -> tuple[Path, dict[str, Any]]:
    """Good, bad and duplicate lines: 1 good, 2 good, 3 bad JSON, 4 missing field, 5 wrong enum,
    6 blank, 7 duplicate of 1, 8 good."""
    inf = f.inference()
    rid = inf["request_id"]
    no_prompt = {k: v for k, v in f.inference().items() if k != "prompt"}
    text = ndjson(
        inf,
        f.preference(rid),
        '{"event_id": "x", "type": ',
        no_prompt,
        f.signal(rid, kind="like"),
        "   ",
        inf,
        f.score(rid),
    )
    path = tmp_path / "events.ndjson"
    path.write_text(text, encoding="utf-8")
    return path, inf


def test_log_reports_every_line_and_stores_the_valid_ones(
    capsys: pytest.CaptureFixture[str], db: str, mixed: tuple[Path, dict[str, Any]]
) -> None:
    path, inf = mixed
    code, out, _ = run(capsys, "--db", db, "log", str(path))
    lines = out.splitlines()
    assert code == 1
    assert lines[0].startswith("line 1: stored  event " + inf["event_id"])
    assert lines[1].startswith("line 2: stored")
    assert lines[2].startswith("line 3: rejected  invalid JSON")
    assert lines[3] == "line 4: rejected  prompt: required"
    assert lines[4].startswith("line 5: rejected  signal: must be one of thumbs_up")
    assert "'like'" in lines[4]
    assert lines[5].startswith("line 7: duplicate  event " + inf["event_id"])
    assert lines[6].startswith("line 8: stored")
    assert lines[7] == "7 lines: 3 stored, 1 duplicate, 0 conflict, 3 rejected"
    with open_store(db) as store:
        view = store.get_request(inf["request_id"], project="default")
        assert view.inference is not None
        assert len(view.preferences) == 1 and len(view.scores) == 1
        assert store.stats(project="default").events == 3


def test_rerun_reports_duplicates(
    capsys: pytest.CaptureFixture[str], db: str, mixed: tuple[Path, dict[str, Any]], tmp_path: Path
) -> None:
    path, _ = mixed
    run(capsys, "--db", db, "log", str(path))
    code, out, _ = run(capsys, "--db", db, "log", str(path))
    assert code == 1  # the bad lines are still bad
    assert out.splitlines()[-1] == "7 lines: 0 stored, 4 duplicate, 0 conflict, 3 rejected"
    good = tmp_path / "good.ndjson"
    good.write_text(
        "".join(line + "\n" for i, line in enumerate(path.read_text().splitlines()) if i in (0, 1, 7))
    )
    code, out, _ = run(capsys, "--db", db, "log", str(good))
    assert code == 0
    assert [line.split(":")[1].split()[0] for line in out.splitlines()[:-1]] == ["duplicate"] * 3


def test_same_id_other_content_is_a_conflict(
    capsys: pytest.CaptureFixture[str], db: str, tmp_path: Path
) -> None:
    inf = f.inference()
    changed = dict(inf, prompt="Something else entirely?")
    path = tmp_path / "c.ndjson"
    path.write_text(ndjson(inf, changed))
    code, out, _ = run(capsys, "--db", db, "log", str(path))
    assert code == 1
    assert out.splitlines()[1].startswith("line 2: conflict")
    assert out.splitlines()[-1] == "2 lines: 1 stored, 0 duplicate, 1 conflict, 0 rejected"


def test_quiet_prints_only_problems(
    capsys: pytest.CaptureFixture[str], db: str, mixed: tuple[Path, dict[str, Any]]
) -> None:
    path, _ = mixed
    code, out, err = run(capsys, "--db", db, "log", "--quiet", str(path))
    assert code == 1
    assert [line.split(":")[0] for line in out.splitlines()[:-1]] == ["line 3", "line 4", "line 5"]
    assert err == ""


def test_line_numbers_hold_across_batches(
    capsys: pytest.CaptureFixture[str], db: str, tmp_path: Path
) -> None:
    events = [f.inference() for _ in range(5)]
    events[3]["candidates"][1]["output"] = 42
    path = tmp_path / "b.ndjson"
    path.write_text(ndjson(*events))
    code, out, _ = run(capsys, "--db", db, "log", "--batch-size", "2", str(path))
    assert code == 1
    assert out.splitlines()[3] == "line 4: rejected  candidates[1].output: must be a string, got integer"
    assert out.splitlines()[-1] == "5 lines: 4 stored, 0 duplicate, 0 conflict, 1 rejected"


def test_log_reads_stdin(
    capsys: pytest.CaptureFixture[str], db: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = ndjson(f.inference(), f.inference()).encode()
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data)))
    code, out, _ = run(capsys, "--db", db, "log", "-")
    assert code == 0
    assert out.splitlines()[-1] == "2 lines: 2 stored, 0 duplicate, 0 conflict, 0 rejected"


def test_log_of_a_missing_file_is_a_clear_error(capsys: pytest.CaptureFixture[str], db: str) -> None:
    code, _, err = run(capsys, "--db", db, "log", "/nonexistent/events.ndjson")
    assert code == 2
    assert "cannot read /nonexistent/events.ndjson" in err


def test_db_url_plain_path_and_env(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "one.ndjson"
    path.write_text(ndjson(f.inference()))
    url_db, plain_db, env_db = tmp_path / "url.db", tmp_path / "plain.db", tmp_path / "env.db"
    assert run(capsys, "--db", f"sqlite:///{url_db}", "log", str(path))[0] == 0
    assert run(capsys, "--db", str(plain_db), "log", str(path))[0] == 0
    monkeypatch.setenv("PREFLOG_DB", str(env_db))
    monkeypatch.setenv("PREFLOG_PROJECT", "envproj")
    assert run(capsys, "log", str(path))[0] == 0
    for file in (url_db, plain_db, env_db):
        assert file.exists()
    with open_store(str(env_db)) as store:
        assert store.projects() == ["envproj"]
    code, out, _ = run(capsys, "stats", "--format", "json")
    assert code == 0 and json.loads(out)["events"] == 1
    code, out, _ = run(capsys, "--project", "other", "stats", "--format", "json")
    assert json.loads(out)["events"] == 0


def test_an_event_of_another_project_is_rejected(
    capsys: pytest.CaptureFixture[str], db: str, tmp_path: Path
) -> None:
    path = tmp_path / "p.ndjson"
    path.write_text(ndjson(f.inference(project="elsewhere"), f.inference(project="mine"), f.inference()))
    code, out, _ = run(capsys, "--db", db, "--project", "mine", "log", str(path))
    assert code == 1
    assert out.splitlines()[0].startswith("line 1: rejected  project: names project 'elsewhere'")
    assert out.splitlines()[-1] == "3 lines: 2 stored, 0 duplicate, 0 conflict, 1 rejected"


def test_show_known_and_unknown_request(capsys: pytest.CaptureFixture[str], db: str, tmp_path: Path) -> None:
    inf = f.inference()
    rid = inf["request_id"]
    pref = f.preference(rid)
    orphan = f.score("later-request")
    path = tmp_path / "s.ndjson"
    path.write_text(ndjson(inf, pref, orphan))
    run(capsys, "--db", db, "log", str(path))
    code, out, _ = run(capsys, "--db", db, "show", rid)
    assert code == 0
    view = json.loads(out)
    assert view["request_id"] == rid
    assert view["inference"]["event_id"] == inf["event_id"]
    assert view["inference"]["candidates"][0]["output"] == "Paris is the capital of France."
    assert [p["event_id"] for p in view["preferences"]] == [pref["event_id"]]
    assert view["orphaned"] is False
    code, out, _ = run(capsys, "--db", db, "show", "later-request")
    assert code == 0 and json.loads(out)["orphaned"] is True
    code, out, err = run(capsys, "--db", db, "show", "no-such-request")
    assert code == 2 and out == ""
    assert "no request 'no-such-request' in project 'default'" in err


def test_stats_table_and_json(capsys: pytest.CaptureFixture[str], db: str, tmp_path: Path) -> None:
    a = f.inference(models=("alpha", "beta"))
    b = f.inference(models=("alpha", "gamma"))
    events = [
        a,
        b,
        f.preference(a["request_id"]),
        f.preference(b["request_id"], kind="end_user"),
        f.score(a["request_id"]),
        f.signal(a["request_id"]),
        f.signal(b["request_id"], kind="copy"),
        f.preference("orphan-request"),
    ]
    path = tmp_path / "st.ndjson"
    path.write_text(ndjson(*events))
    assert run(capsys, "--db", db, "log", str(path))[0] == 0
    code, out, _ = run(capsys, "--db", db, "stats", "--format", "json")
    assert code == 0
    stats = json.loads(out)
    assert stats["events"] == 8
    assert stats["by_type"]["inference"] == 2
    assert stats["by_type"]["preference"] == 3
    assert stats["by_type"]["score"] == 1
    assert stats["by_type"]["signal"] == 2
    # thumbs count as end_user, other signals as implicit, scores as their scorer kind
    assert stats["by_source"] == {"human": 2, "end_user": 2, "implicit": 1, "reward_model": 1}
    assert sorted(stats["by_model"].values(), reverse=True)[0] == 2  # alpha: one candidate in each
    assert stats["orphan_requests"] == 1
    code, out, _ = run(capsys, "--db", db, "stats")
    assert code == 0
    rows = {line.split()[0]: line.split()[-1] for line in out.splitlines() if line.startswith("  ")}
    assert rows["inference"] == "2" and rows["preference"] == "3" and rows["erasure"] == "0"
    assert rows["human"] == "2" and rows["end_user"] == "2" and rows["implicit"] == "1"
    assert "orphan requests 1" in out


def _stored(db: str, project: str) -> list[dict[str, Any]]:
    with open_store(db) as store:
        return [
            {k: v for k, v in e.event.items() if k != "received_at"}
            for e in store.iter_events(project=project)
        ]


def test_demo_is_deterministic_and_idempotent(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    one, two = str(tmp_path / "one.db"), str(tmp_path / "two.db")
    code, out, _ = run(capsys, "--db", one, "demo", "--requests", "60", "--seed", "3")
    assert code == 0
    assert "demo project 'default' (seed 3, 60 requests)" in out
    assert run(capsys, "--db", two, "demo", "--requests", "60", "--seed", "3")[0] == 0
    stored = _stored(one, "default")
    assert stored == _stored(two, "default")
    assert [e["event_id"] for e in stored] == [e["event_id"] for e in demo_events(3, 60)]
    code, out, _ = run(capsys, "--db", one, "demo", "--requests", "60", "--seed", "3")
    assert code == 0
    assert f"{len(stored)} duplicate" in out.replace(",", "")


def test_demo_default_project_has_everything(capsys: pytest.CaptureFixture[str], db: str) -> None:
    code, out, _ = run(capsys, "--db", db, "--project", "demo", "demo")
    assert code == 0
    assert "try: preflog" in out
    with open_store(db) as store:
        stats = store.stats(project="demo")
    assert all(
        stats.by_type[t] > 0 for t in ("inference", "preference", "score", "signal", "retraction", "erasure")
    )
    assert {"human", "end_user", "ai_judge"} <= set(stats.by_source)
    assert len(stats.by_model) >= 4
    assert stats.orphan_requests >= 1
    assert 2000 <= stats.events <= 6000


def test_progress_draws_on_stderr_only_when_enabled(capsys: pytest.CaptureFixture[str]) -> None:
    Progress("log", enabled=False).update(10, 100, force=True)
    assert capsys.readouterr().err == ""
    progress = Progress("demo", enabled=True)
    progress.update(50, 200, force=True)
    progress.close()
    assert "demo: 50 of 200 (25%)" in capsys.readouterr().err
