"""``preflog verify`` on a standard (string-prompt) dataset with long outputs: RewardTrainer drops
pairs longer than its ``max_length`` instead of truncating them, so verify must leave it room (it
once filtered every row away and failed with ``num_samples=0``)."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from preflog.store import Store
from tests import factories as f
from tests.compile.helpers import append_all, compile_rows


def long_text(rng: random.Random, chars: int) -> str:
    words = [
        "".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(rng.randint(2, 9)))
        for _ in range(300)
    ]
    out = ""
    while len(out) < chars:
        out += rng.choice(words) + " "
    return out.strip()


@pytest.mark.slow
def test_verify_reward_and_dpo_on_long_standard_pairs(store: Store, project: str, tmp_path: Path) -> None:
    pytest.importorskip("trl")
    from preflog.verify import verify_dataset

    rng = random.Random(7)
    events = []
    for i in range(8):
        inf = f.inference(
            outputs=(long_text(rng, 700), long_text(rng, 650)), prompt=f"Question {i}: tell me more."
        )
        events += [inf, f.preference(str(inf["request_id"]))]
    append_all(store, events, project)
    manifest, rows = compile_rows(store, project, tmp_path / "out", "trl-reward")
    assert manifest.counts_out["items"] == 8 and isinstance(rows["train.jsonl"][0]["prompt"], str)
    report = verify_dataset(tmp_path / "out")
    assert [r.trainer for r in report.results] == ["reward", "dpo"]
    for result in report.results:
        assert result.ok and result.steps == 2, result.error


def test_verify_an_empty_dataset_is_a_clean_error(store: Store, project: str, tmp_path: Path) -> None:
    pytest.importorskip("trl")
    from preflog.cli import main

    manifest, _ = compile_rows(store, project, tmp_path / "out", "trl")
    assert manifest.counts_out["items"] == 0
    assert main(["verify", str(tmp_path / "out")]) == 2  # a ConfigError, not a traceback
