"""``preflog judge``: an OpenAI-compatible judge stub on loopback labels pairs in both orders;
position-biased verdicts become counted ties; failures are retried and reported, never half-written."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from preflog.cli import main
from preflog.judges.inputs import inference_view
from preflog.judges.judge import Pair, order_pairs, prompt_hash
from preflog.store import Store
from tests.judges.conftest import PROJECT, Stub, log_fixture

ROOT = Path(__file__).resolve().parents[2]
PRINCIPLES = "Prefer the answer that is correct and complete.\nPrefer honesty over confidence.\n"


def judged(store: Store) -> list[dict[str, Any]]:
    return [
        item.event
        for item in store.iter_events(project=PROJECT, types=["preference"])
        if item.event["source"]["kind"] == "ai_judge"
    ]


def judge(db: str, url: str, tmp_path: Path, *argv: str) -> int:
    principles = tmp_path / "constitution.txt"
    principles.write_text(PRINCIPLES, encoding="utf-8")
    base = ["--db", db, "--project", PROJECT, "judge", "--endpoint", url + "/v1", "--model", "judge-x"]
    return main([*base, "--principles", str(principles), *argv])


def report(capsys: pytest.CaptureFixture[str]) -> dict[str, Any]:
    return dict(json.loads(capsys.readouterr().out))


def test_consistent_verdicts_become_ai_judge_preferences(
    db: tuple[str, Store], stub: tuple[str, Stub], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path, store = db
    url, state = stub
    assert judge(path, url, tmp_path, "--format", "json") == 0
    first = report(capsys)
    assert (first["pairs"], first["preferences"], first["inconsistent"]) == (4, 4, 0)
    assert state.requests == 8  # every pair asked in both orders
    events = judged(store)
    assert len(events) == 4
    version = f"judge-x-2026-11+{prompt_hash(PRINCIPLES)}"
    for event in events:
        assert (event["chosen"], event["rejected"]) == ("c0", "c1")  # the stub prefers the longer answer
        assert event["source"] == {"kind": "ai_judge", "id": "judge-x", "version": version}
        assert "[[" in event["rationale"]
        assert event["metadata"]["judge"]["orders"] == [["c0", "c1"], ["c1", "c0"]]
    # Both orders really were asked: A's answer is c0's in one prompt and c1's in the other.
    system = state.bodies[0]["messages"][0]["content"]
    assert "Prefer honesty over confidence." in system and "[[C]]" in system
    users = [b["messages"][1]["content"] for b in state.bodies[:8]]
    assert sum("Assistant A's Answer]\nThe capital" in u for u in users) == 1
    assert sum("Assistant B's Answer]\nThe capital" in u for u in users) == 1

    assert judge(path, url, tmp_path, "--format", "json") == 0  # a rerun asks nothing
    second = report(capsys)
    assert (second["pairs"], second["skipped"]) == (0, 4)
    assert state.requests == 8 and len(judged(store)) == 4


def test_a_position_biased_judge_gives_counted_ties(
    db: tuple[str, Store], stub: tuple[str, Stub], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path, store = db
    url, state = stub
    state.mode = "position"  # always [[A]]: the first answer wins whichever it is
    assert judge(path, url, tmp_path, "--format", "json") == 0
    result = report(capsys)
    assert (result["inconsistent"], result["preferences"], result["ties"]) == (4, 0, 0)
    events = judged(store)
    assert [e["outcome"] for e in events] == ["tie"] * 4
    assert all(sorted(e["candidates"]) == ["c0", "c1"] for e in events)
    assert all(e["metadata"]["judge"]["verdicts"] == ["A", "A"] for e in events)


def test_tie_verdicts_and_answers_without_a_verdict_are_counted_apart(
    db: tuple[str, Store], stub: tuple[str, Stub], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path, store = db
    url, state = stub
    state.mode = "tie"
    assert judge(path, url, tmp_path, "--format", "json", "--limit", "2") == 0
    result = report(capsys)
    assert (result["pairs"], result["ties"], result["inconsistent"]) == (2, 2, 0)
    state.mode = "garbage"
    assert judge(path, url, tmp_path, "--format", "json") == 0
    result = report(capsys)
    assert (result["pairs"], result["unparsed"], result["skipped"]) == (2, 2, 2)
    assert len(judged(store)) == 2  # nothing stored for answers without a verdict


def test_failures_are_retried_and_a_dead_endpoint_is_reported(
    db: tuple[str, Store], stub: tuple[str, Stub], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path, store = db
    url, state = stub
    state.fail_first, state.hang_first, state.hang_s = 2, 1, 1.5
    assert judge(path, url, tmp_path, "--concurrency", "1", "--timeout", "0.5", "--limit", "1") == 0
    assert len(judged(store)) == 1
    capsys.readouterr()

    state.fail_after = state.requests  # from now on every request fails
    assert judge(path, url, tmp_path, "--concurrency", "2", "--retries", "2") == 1
    err = capsys.readouterr().err
    assert "answered 500" in err and "gave up after 2 attempts" in err and "Traceback" not in err
    assert len(judged(store)) == 1  # nothing half-written
    state.fail_after = None
    assert judge(path, url, tmp_path) == 0  # the rest is judged on the next run
    assert len(judged(store)) == 4


def test_the_token_budget_stops_the_run(
    db: tuple[str, Store], stub: tuple[str, Stub], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path, store = db
    url, _ = stub
    # The stub reports 60 tokens an answer: one pair (two answers) spends the budget.
    assert judge(path, url, tmp_path, "--format", "json", "--concurrency", "1", "--token-budget", "120") == 0
    result = report(capsys)
    assert (result["pairs"], result["tokens"], result["budget_exhausted"]) == (1, 120, True)
    assert len(judged(store)) == 1


def _pair(request_id: str, models: tuple[str, str]) -> Pair:
    event = {
        "request_id": request_id,
        "prompt": "q",
        "candidates": [
            {"candidate_id": f"c{i}", "output": "x", "model": {"name": m}} for i, m in enumerate(models)
        ],
    }
    return Pair(inference_view(event, position=0), "c0", "c1")


def test_sampling_policies_order_pairs() -> None:
    pairs = [
        _pair("r1", ("a", "b")),
        _pair("r2", ("a", "b")),
        _pair("r3", ("a", "c")),
        _pair("r4", ("a", "b")),
    ]
    ids = lambda ps: [p.inference.request_id for p in ps]  # noqa: E731
    assert ids(order_pairs(pairs, "all", {})) == ["r1", "r2", "r3", "r4"]
    # balanced: model pairs take turns, so (a, c) is not starved behind three (a, b) pairs
    assert ids(order_pairs(pairs, "balanced", {})) == ["r1", "r3", "r2", "r4"]
    # uncertain: unanimous evidence last, split and unjudged first
    votes: dict[tuple[str, str, str], Counter[str]] = {
        ("r1", "c0", "c1"): Counter({"c0": 3}),
        ("r2", "c0", "c1"): Counter({"c0": 2, "c1": 1}),
        ("r4", "c0", "c1"): Counter({"c0": 1, "c1": 1}),
    }
    assert ids(order_pairs(pairs, "uncertain", votes)) == ["r3", "r4", "r2", "r1"]


def test_uncertain_policy_reads_human_votes_from_the_log(
    db: tuple[str, Store], stub: tuple[str, Stub], tmp_path: Path
) -> None:
    path, store = db
    url, _ = stub
    last = list(store.iter_events(project=PROJECT, types=["inference"]))[-1]
    # a second human disagrees on the last request only: it becomes the most uncertain pair
    from tests import factories

    store.append([factories.preference(str(last.request_id), "c1", "c0")], project=PROJECT)
    assert judge(path, url, tmp_path, "--policy", "uncertain", "--limit", "1", "--concurrency", "1") == 0
    assert [e["request_id"] for e in judged(store)] == [last.request_id]


def test_follow_judges_inferences_logged_after_it_started(
    db: tuple[str, Store], stub: tuple[str, Stub], tmp_path: Path
) -> None:
    path, store = db
    url, _ = stub
    principles = tmp_path / "p.txt"
    principles.write_text(PRINCIPLES, encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src") + os.pathsep + os.environ.get("PYTHONPATH", "")}
    argv = [sys.executable, "-m", "preflog.cli", "--db", path, "--project", PROJECT, "judge"]
    argv += ["--endpoint", url + "/v1", "--model", "judge-x", "--principles", str(principles)]
    argv += ["--follow", "--poll", "0.1"]
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert _wait_for(lambda: len(judged(store)) == 4)
        log_fixture(store)
        assert _wait_for(lambda: len(judged(store)) == 8)
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert "judged 8 pairs" in out


def _wait_for(condition: Any, timeout_s: float = 30.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return False


def test_missing_principles_is_one_clear_error(
    db: tuple[str, Store], stub: tuple[str, Stub], capsys: pytest.CaptureFixture[str]
) -> None:
    path, _ = db
    url, _ = stub
    argv = [
        "--db",
        path,
        "--project",
        PROJECT,
        "judge",
        "--endpoint",
        url,
        "--model",
        "m",
        "--principles",
        "/nope",
    ]
    assert main(argv) == 2
    assert "--principles: cannot read /nope" in capsys.readouterr().err
