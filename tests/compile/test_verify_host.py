"""``verify_dataset`` is a library call inside someone else's process: it runs the real trainers
offline and without progress bars by their own options, and leaves the host's environment and
its libraries' settings as it found them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from preflog.store import open_store
from tests.compile.helpers import append_all, compile_rows
from tests.compile.test_backends_verify import fixed_events

ROOT = Path(__file__).resolve().parents[2]

HOST = """
import json, os, sys
from datasets.utils import are_progress_bars_disabled
from transformers.utils import logging
from preflog.verify import verify_dataset

def settings():
    return [are_progress_bars_disabled(), logging.is_progress_bar_enabled(), logging.get_verbosity()]

before_env, before = dict(os.environ), settings()
report = verify_dataset(sys.argv[1])
after_env = dict(os.environ)
for env in (before_env, after_env):
    env.pop("TORCHINDUCTOR_CACHE_DIR", None)  # torch's own default, set when torch compiles
changed = sorted(k for k in set(before_env) | set(after_env) if before_env.get(k) != after_env.get(k))
import huggingface_hub.constants
from tqdm import tqdm
for _ in tqdm(range(3), desc="host bar", mininterval=0):
    pass
print(json.dumps({"ok": [r.ok for r in report.results], "changed": changed, "before": before,
                  "after": settings(), "hub_offline": huggingface_hub.constants.HF_HUB_OFFLINE}))
"""


@pytest.mark.slow
def test_verify_runs_offline_quietly_and_leaves_the_host_as_it_found_it(tmp_path: Path) -> None:
    pytest.importorskip("trl")
    store = open_store(str(tmp_path / "events.db"))
    try:
        append_all(store, fixed_events(), "v")
        compile_rows(store, "v", tmp_path / "trl", "trl")
    finally:
        store.close()
    # No offline variable (TRANSFORMERS_OFFLINE turns the hub offline too: make test sets it)
    # and no TQDM_*: verify must not need them (there is no hub here: a
    # download attempt fails the trainers), and must not set them for its host.
    hidden = ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE", "TRANSFORMERS_OFFLINE", "TOKENIZERS_PARALLELISM")
    env = {k: v for k, v in os.environ.items() if k not in hidden and not k.startswith("TQDM_")}
    env["PYTHONPATH"] = str(ROOT / "src")
    done = subprocess.run(
        [sys.executable, "-c", HOST, str(tmp_path / "trl")],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    got = json.loads(done.stdout.strip().splitlines()[-1])
    assert got["ok"] == [True, True, True]
    assert got["changed"] == []  # the old code left HF_*_OFFLINE, TOKENIZERS_PARALLELISM, TQDM_DISABLE
    assert got["after"] == got["before"] and got["hub_offline"] is False
    bars = [line for line in done.stderr.replace("\r", "\n").splitlines() if "it/s" in line or "%|" in line]
    assert bars and all(line.startswith("host bar") for line in bars), bars  # the host's own bar only
