"""The closed loop on the CPU: compile trl-reward from human preferences, train a tiny reward model
with TRL's RewardTrainer, score the log with it through ``preflog score``, and read its agreement
with the humans and its length bias in ``preflog report``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from preflog.cli import main
from preflog.store import Store, open_store
from tests import factories

PROJECT = "loop"


def _log(store: Store, n: int = 30) -> None:
    """Human preferences where the right, longer answer always wins (c0)."""
    events: list[dict[str, Any]] = []
    for i in range(n):
        good = f"{i} plus {i} equals {2 * i}, because adding a number to itself doubles it."
        inference = factories.inference(
            prompt=f"What is {i} + {i}?", outputs=(good, str(i)), models=("tutor-7b", "guess-1b")
        )
        events += [inference, factories.preference(inference["request_id"], "c0", "c1")]
    assert all(r.status == "stored" for r in store.append(events, project=PROJECT))


def _train(data: Path, out: Path) -> None:
    from datasets import load_dataset
    from transformers.trainer_callback import PrinterCallback
    from trl.trainer.reward_config import RewardConfig
    from trl.trainer.reward_trainer import RewardTrainer

    from tests.judges.rm import build_reward_model

    dataset = load_dataset("json", data_files=str(data), split="train")
    model, tokenizer = build_reward_model(out)
    args = RewardConfig(
        output_dir=str(out / "run"),
        max_steps=30,
        per_device_train_batch_size=4,
        learning_rate=3e-3,
        use_cpu=True,
        report_to="none",
        save_strategy="no",
        logging_steps=10,
        disable_tqdm=True,
        dataloader_num_workers=0,
        max_length=256,
        seed=0,
    )
    trainer = RewardTrainer(model=model, args=args, train_dataset=dataset, processing_class=tokenizer)
    trainer.remove_callback(PrinterCallback)
    trainer.train()
    trainer.save_model(str(out))
    tokenizer.save_pretrained(str(out))


@pytest.mark.slow
def test_compile_train_score_report(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("trl")
    db = str(tmp_path / "loop.db")
    store = open_store(db)
    _log(store)
    cli = ["--db", db, "--project", PROJECT]
    data = tmp_path / "rm-data"
    assert main([*cli, "compile", "--format", "trl-reward", "--out", str(data), "--test-fraction", "0"]) == 0
    capsys.readouterr()
    rm = tmp_path / "tiny-rm"
    _train(data / "train.jsonl", rm)

    assert main([*cli, "score", "--model", str(rm), "--format", "json"]) == 0
    scored = json.loads(capsys.readouterr().out)
    assert scored["scored"] == 60
    version = scored["scorer"]["version"]

    # The agreement a hand count gives: the share of human pairs whose chosen output scored higher.
    score_of = {
        (e.event["request_id"], e.event["candidate_id"]): e.event["score"]
        for e in store.iter_events(project=PROJECT, types=["score"])
    }
    wins = sum(
        score_of[(p.event["request_id"], "c0")] > score_of[(p.event["request_id"], "c1")]
        for p in store.iter_events(project=PROJECT, types=["preference"])
    )
    assert wins >= 15, f"the trained reward model should have learnt the humans' rule: {wins}/30"

    assert main([*cli, "report", "--format", "json"]) == 0
    report = json.loads(capsys.readouterr().out)
    label = f"tiny-rm@{version}"
    rows = [r for r in report["agreement"]["judges"] if r["judge"] == f"reward_model:{label}"]
    assert rows, f"no agreement row for {label}: {report['agreement']}"
    assert rows[0]["units"] == 30
    assert rows[0]["agreement"]["successes"] == wins  # the report's count is the hand count
    bias = [r for r in report["length_bias"] if f"scorer={label}" in json.dumps(r)]
    assert bias, f"no length-bias row for {label}: {report['length_bias']}"
    store.close()
