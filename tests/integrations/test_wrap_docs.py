"""docs/integrations.md's wrapper examples run as written, in order, as one script: the real
``openai``, ``anthropic`` and LiteLLM clients, pointed by their own environment variables at the
loopback stub; what they logged is read back from the SQLite file the script wrote."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from tests.integrations.stub_llm import StubLLM, stored_inferences

ROOT = Path(__file__).resolve().parents[2]
DOC = (ROOT / "docs" / "integrations.md").read_text()
SECTION = DOC[DOC.index("## Wrapping LLM clients") : DOC.index("## OpenTelemetry traces")]


def test_the_wrapper_examples_run_and_log_what_the_doc_says(stub: StubLLM, tmp_path: Path) -> None:
    script = "\n".join(re.findall(r"```python\n(.*?)```", SECTION, flags=re.S))
    assert script.count("import") >= 4  # openai, anthropic, candidate sets, LiteLLM
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(sys.path),
        "OPENAI_BASE_URL": stub.url,
        "OPENAI_API_BASE": stub.url,  # LiteLLM's name for it
        "OPENAI_API_KEY": "sk-test",
        "ANTHROPIC_BASE_URL": stub.base,
        "ANTHROPIC_API_BASE": stub.base,
        "ANTHROPIC_API_KEY": "sk-ant-test",
        "LITELLM_LOCAL_MODEL_COST_MAP": "True",
    }
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=240
    )
    assert done.returncode == 0, done.stderr[-3000:]
    events = stored_inferences(str(tmp_path / "feedback.db"), "chatbot")
    by_id = {e["request_id"]: e for e in events}
    assert len(by_id["chat-17"]["candidates"]) == 2 and by_id["chat-18"]["metadata"] == {
        "integration": "litellm"
    }
    ab = [e for e in events if [c["model"]["provider"] for c in e["candidates"]] == ["openai", "anthropic"]]
    assert len(ab) == 2  # the candidate set, and the LiteLLM trace (logged at exit)
    assert by_id["ab-19"] in ab and any(e.get("presented") == ["c1", "c0"] for e in ab)
    n3 = [e for e in events if len(e["candidates"]) == 3]
    assert len(n3) == 1 and n3[0]["request_id"].startswith("chatcmpl-")
    streamed_claude = [e for e in events if e["candidates"][0]["model"]["name"] == "claude-sonnet-4-5"]
    assert any(e["candidates"][0]["metadata"].get("stream") for e in streamed_claude)
    assert len(events) == 6
