"""``preflog score``: a reward model (a local checkpoint or an HTTP service) scores every logged
candidate once, idempotently, resumably, and survives a failing endpoint without half-writes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from preflog.cli import main
from preflog.judges.inputs import derived_id
from preflog.judges.scorers import checkpoint_hash
from preflog.store import Store, open_store
from tests.judges.conftest import PROJECT, QUESTIONS, Stub, log_fixture

ROOT = Path(__file__).resolve().parents[2]


def scores(store: Store, project: str = PROJECT) -> list[dict[str, object]]:
    return [item.event for item in store.iter_events(project=project, types=["score"])]


def run(db: str, *argv: str) -> int:
    return main(["--db", db, "--project", PROJECT, *argv])


def test_a_local_reward_model_scores_every_candidate_once(
    db: tuple[str, Store], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip("transformers")
    from tests.judges.rm import build_reward_model

    path, store = db
    model_dir = tmp_path / "tiny-rm"
    build_reward_model(model_dir)
    version = checkpoint_hash(model_dir)

    assert run(path, "score", "--model", str(model_dir), "--batch-size", "3", "--format", "json") == 0
    first = json.loads(capsys.readouterr().out)
    assert (first["scored"], first["skipped"], first["batches"]) == (8, 0, 3)
    stored = scores(store)
    assert len(stored) == 8
    assert {e["scorer"]["name"] for e in stored} == {"tiny-rm"}  # type: ignore[index]
    assert {e["scorer"]["version"] for e in stored} == {version}  # type: ignore[index]
    for event in stored:
        rid, cid = str(event["request_id"]), str(event["candidate_id"])
        assert event["event_id"] == derived_id("score", rid, cid, "tiny-rm", version)

    # The scores are the model's own: recompute one candidate directly.
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForSequenceClassification.from_pretrained(model_dir).eval()
    event = stored[0]
    view = store.get_request(str(event["request_id"]), project=PROJECT).inference
    assert view is not None
    cand = next(c for c in view.event["candidates"] if c["candidate_id"] == event["candidate_id"])
    text = tokenizer.apply_chat_template(
        [{"role": "user", "content": view.event["prompt"]}, {"role": "assistant", "content": cand["output"]}],
        tokenize=False,
    )
    with torch.no_grad():
        expected = float(model(**tokenizer([text], return_tensors="pt")).logits[0, 0])
    assert event["score"] == pytest.approx(expected, abs=1e-5)

    # A rerun stores nothing; more inferences later are scored alone.
    assert run(path, "score", "--model", str(model_dir), "--format", "json") == 0
    second = json.loads(capsys.readouterr().out)
    assert (second["scored"], second["skipped"]) == (0, 8)
    log_fixture(store)
    assert run(path, "score", "--model", str(model_dir), "--format", "json") == 0
    third = json.loads(capsys.readouterr().out)
    assert (third["scored"], third["skipped"]) == (8, 8)
    assert len(scores(store)) == 16


def test_a_new_checkpoint_is_a_new_scorer_version(db: tuple[str, Store], tmp_path: Path) -> None:
    pytest.importorskip("transformers")
    from tests.judges.rm import build_reward_model

    path, store = db
    build_reward_model(tmp_path / "rm", seed=0)
    assert run(path, "score", "--model", str(tmp_path / "rm")) == 0
    build_reward_model(tmp_path / "rm", seed=1)  # retrained in place: other weights, other hash
    assert run(path, "score", "--model", str(tmp_path / "rm")) == 0
    versions = {e["scorer"]["version"] for e in scores(store)}  # type: ignore[index]
    assert len(versions) == 2 and len(scores(store)) == 16


def test_an_endpoint_scores_in_batches_and_retries_500s(
    db: tuple[str, Store], stub: tuple[str, Stub], capsys: pytest.CaptureFixture[str]
) -> None:
    path, store = db
    url, state = stub
    state.fail_first = 2
    argv = ["score", "--endpoint", url + "/score", "--scorer", "len-rm", "--scorer-version", "1"]
    assert run(path, *argv, "--batch-size", "5", "--format", "json") == 0
    report = json.loads(capsys.readouterr().out)
    assert report["scored"] == 8 and report["batches"] == 2
    assert state.requests == 2 + 2  # two 500s retried, then two batches
    by_output = {}
    for event in scores(store):
        view = store.get_request(str(event["request_id"]), project=PROJECT).inference
        assert view is not None
        cand = next(c for c in view.event["candidates"] if c["candidate_id"] == event["candidate_id"])
        by_output[cand["output"]] = event["score"]
    assert by_output == {o: float(len(o)) for _, good, bad in QUESTIONS for o in (good, bad)}
    first_input = state.bodies[-2]["inputs"][0]
    assert set(first_input) == {"request_id", "candidate_id", "messages", "prompt", "output"}
    assert first_input["messages"][-1]["role"] == "assistant"


def test_a_timeout_is_retried(db: tuple[str, Store], stub: tuple[str, Stub]) -> None:
    path, store = db
    url, state = stub
    state.hang_first, state.hang_s = 1, 1.5
    argv = ["score", "--endpoint", url + "/score", "--scorer-version", "1", "--timeout", "0.5"]
    assert run(path, *argv) == 0
    assert len(scores(store)) == 8


def test_an_endpoint_that_keeps_failing_writes_nothing_and_says_so(
    db: tuple[str, Store], stub: tuple[str, Stub], capsys: pytest.CaptureFixture[str]
) -> None:
    path, store = db
    url, state = stub
    state.fail_first = 1000
    argv = ["score", "--endpoint", url + "/score", "--scorer-version", "1", "--retries", "3"]
    assert run(path, *argv) == 1
    captured = capsys.readouterr()
    assert "answered 500" in captured.err and "gave up after 3 attempts" in captured.err
    assert "Traceback" not in captured.err
    assert state.requests == 3
    assert scores(store) == []  # nothing half-written


def test_a_batch_that_fails_midway_keeps_the_batches_before_it(
    db: tuple[str, Store], stub: tuple[str, Stub]
) -> None:
    path, store = db
    url, state = stub
    argv = [
        "score",
        "--endpoint",
        url + "/score",
        "--scorer-version",
        "1",
        "--batch-size",
        "3",
        "--retries",
        "2",
    ]
    state.fail_after = 1  # the first batch succeeds, then the service fails for good
    assert run(path, *argv) == 1
    stored = scores(store)
    assert len(stored) % 3 == 0 and len(stored) < 8  # whole batches only
    state.fail_after = None
    assert run(path, *argv) == 0  # resumes: only what is missing
    assert len(scores(store)) == 8


def test_erased_requests_are_never_scored(db: tuple[str, Store], stub: tuple[str, Stub]) -> None:
    path, store = db
    url, _ = stub
    first = next(store.iter_events(project=PROJECT, types=["inference"]))
    erasure = {
        "event_id": derived_id("test-erasure"),
        "type": "erasure",
        "request_id": first.request_id,
        "occurred_at": "2026-11-27T00:00:00Z",
        "reason": "user request",
    }
    assert store.append([erasure], project=PROJECT)[0].status == "stored"
    assert run(path, "score", "--endpoint", url + "/score", "--scorer-version", "1") == 0
    assert {e["request_id"] for e in scores(store)} == {
        i.request_id for i in store.iter_events(project=PROJECT, types=["inference"])
    } - {first.request_id}


def test_follow_scores_inferences_logged_after_it_started(
    db: tuple[str, Store], stub: tuple[str, Stub]
) -> None:
    path, store = db
    url, _ = stub
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src") + os.pathsep + os.environ.get("PYTHONPATH", "")}
    argv = [sys.executable, "-m", "preflog.cli", "--db", path, "--project", PROJECT, "score"]
    argv += ["--endpoint", url + "/score", "--scorer-version", "1", "--follow", "--poll", "0.1"]
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert _wait_for(lambda: len(scores(store)) == 8), "the first inferences were not scored"
        log_fixture(store)  # logged while it follows
        assert _wait_for(lambda: len(scores(store)) == 16), "later inferences were not picked up"
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert "scored 16 candidates" in out


def _wait_for(condition: object, timeout_s: float = 30.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():  # type: ignore[operator]
            return True
        time.sleep(0.1)
    return False


def test_a_directory_without_weights_is_one_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = str(tmp_path / "x.db")
    open_store(path).close()
    (tmp_path / "empty").mkdir()
    assert run(path, "score", "--model", str(tmp_path / "empty")) == 2
    assert "no model weights" in capsys.readouterr().err
