"""The same events give the same bytes on every store backend, and compiled TRL datasets are
accepted by the real TRL trainers (``preflog verify``: two CPU steps each)."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pytest

from preflog.cli import main
from preflog.store import Store, open_store
from tests import factories as f
from tests.compile.helpers import append_all, compile_rows, dir_bytes

NS = uuid.UUID("6f1c2e4a-2b7d-4c1e-9a53-0c8d2f5b7e11")


def fixed_events() -> list[dict[str, Any]]:
    """A deterministic stream (fixed ids) touching every kind of judgment."""
    events: list[dict[str, Any]] = []
    for i in range(16):
        rid = str(uuid.uuid5(NS, f"request-{i}"))
        chat = [{"role": "user", "content": f"Question number {i}: how do I sort a list?"}]
        prompt: Any = chat if i % 4 == 0 else f"Question number {i}: what is {i} + {i}?"
        events.append(
            f.inference(
                rid,
                outputs=(f"The answer is {2 * i}.", f"Maybe {2 * i + 1}?", f"I do not know about {i}."),
                prompt=prompt,
                user_id=f"user-{i % 3}",
                presented=["c1", "c0", "c2"] if i % 2 else ["c0", "c1", "c2"],
            )
        )
        judgments = [
            f.preference(rid, chosen=None, rejected=None, ranking=["c0", "c1", "c2"]),
            f.preference(rid, "c0", "c2", kind="ai_judge"),
            f.score(rid, "c0", 0.9),
            f.score(rid, "c1", 0.3 + i / 100),
            f.signal(rid, "c2", "thumbs_down", user_id=f"user-{i % 3}"),
            f.signal(rid, "c0", "thumbs_up", user_id=f"user-{i % 3}"),
        ]
        for j, event in enumerate(judgments):
            event["event_id"] = str(uuid.uuid5(NS, f"judgment-{i}-{j}"))
        events.extend(judgments)
    for j, event in enumerate(events):
        if event["type"] == "inference":
            event["event_id"] = str(uuid.uuid5(NS, f"inference-{j}"))
    return events


OPTIONS: dict[str, Any] = {"test_fraction": 0.25, "max_per_prompt": 5, "balance_position": True, "seed": 3}


@pytest.mark.parametrize("fmt", ["trl", "trl-reward", "trl-kto"])
def test_same_bytes_on_every_backend(any_store: Store, project: str, tmp_path: Path, fmt: str) -> None:
    reference = open_store(str(tmp_path / "reference.db"))
    try:
        append_all(reference, fixed_events(), project)
        compile_rows(
            reference, project, tmp_path / "ref", fmt, **OPTIONS, unpaired_from_pairs=fmt == "trl-kto"
        )
    finally:
        reference.close()
    append_all(any_store, fixed_events(), project)
    compile_rows(any_store, project, tmp_path / "out", fmt, **OPTIONS, unpaired_from_pairs=fmt == "trl-kto")
    ref, got = dir_bytes(tmp_path / "ref"), dir_bytes(tmp_path / "out")
    data = [name for name in ref if name.endswith(".jsonl")]
    assert data and {n: got[n] for n in data} == {n: ref[n] for n in data}


@pytest.fixture(scope="module")
def compiled(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("verify")
    store = open_store(str(root / "events.db"))
    try:
        append_all(store, fixed_events(), "v")
        for fmt in ("trl", "trl-reward", "trl-kto"):
            compile_rows(store, "v", root / fmt, fmt, unpaired_from_pairs=fmt == "trl-kto")
    finally:
        store.close()
    return root


@pytest.mark.slow
@pytest.mark.parametrize(
    ("fmt", "trainers"),
    [("trl", ("dpo", "reward", "kto")), ("trl-reward", ("reward", "dpo")), ("trl-kto", ("kto",))],
)
def test_verify_runs_the_real_trl_trainers(compiled: Path, fmt: str, trainers: tuple[str, ...]) -> None:
    pytest.importorskip("trl")
    from preflog.verify import verify_dataset

    report = verify_dataset(compiled / fmt)
    assert report.format == fmt and report.rows > 2
    assert [r.trainer for r in report.results] == list(trainers)
    for result in report.results:
        assert result.ok, result.error
        assert result.steps == 2 and result.loss is not None and result.loss > 0


@pytest.mark.slow
def test_verify_cli(compiled: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("trl")
    assert main(["verify", str(compiled / "trl-kto"), "--trainer", "kto", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["ok"] and report["results"][0]["trainer"] == "kto"
    assert main(["verify", str(compiled / "trl-kto"), "--trainer", "dpo"]) == 1
    assert "needs preference pairs" in capsys.readouterr().out
    assert main(["verify", str(compiled / "trl"), "--trainer", "ppo"]) == 2


def test_compile_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = str(tmp_path / "events.db")
    store = open_store(db)
    try:
        append_all(store, fixed_events(), "cli")
    finally:
        store.close()
    out = tmp_path / "out"
    args = ["--db", db, "--project", "cli", "compile", "--format", "trl", "--out", str(out)]
    assert main([*args, "--test-fraction", "0.25", "--source", "human", "--json"]) == 0
    manifest = json.loads(capsys.readouterr().out)
    assert manifest["options"]["sources"] == ["human"] and manifest["counts_out"]["items"] == 48
    assert main([*args, "--since-manifest", str(out / "manifest.json")]) == 0
    assert "0 pairs" in capsys.readouterr().out
    assert main([*args, "--aggregate", "unanimous", "--min-agreement", "2"]) == 2
    assert "--min-agreement" in capsys.readouterr().err
