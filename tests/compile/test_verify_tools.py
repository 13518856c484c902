"""Tool calling end to end: inferences whose candidates are a tool call and an empty answer, under a
prompt holding an assistant tool-call turn and a tool turn, compile to TRL conversational rows that
TRL's own chat-template helper renders with real model templates (the Qwen2.5 and Llama 3.1
templates TRL ships), and that TRL's trainers train on through ``preflog verify``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from preflog.compile import compile_dataset
from preflog.formats.base import read_rows_file
from preflog.store import Store
from tests.compile.helpers import append_all

pytest.importorskip("trl")

CITIES = ("Paris", "Oslo", "Lima", "Cairo")


def call(call_id: str, city: str) -> dict[str, Any]:
    arguments = json.dumps({"city": city}, separators=(",", ":"))
    return {"id": call_id, "type": "function", "function": {"name": "weather", "arguments": arguments}}


def request_events(i: int, city: str) -> list[dict[str, Any]]:
    request_id = f"0195b2c4-0000-7000-8000-{i:012d}"
    prompt = [
        {"role": "system", "content": "You answer with the weather tool."},
        {"role": "user", "content": f"Weather in {city}?"},
        {"role": "assistant", "content": None, "tool_calls": [call(f"call_{i}a", city)]},
        {"role": "tool", "tool_call_id": f"call_{i}a", "name": "weather", "content": '{"sky":"sunny"}'},
        {"role": "user", "content": "And tomorrow?"},
    ]
    inference = {
        "event_id": f"0195b2c4-0000-7000-8001-{i:012d}",
        "type": "inference",
        "request_id": request_id,
        "occurred_at": f"2026-11-26T10:0{i}:00Z",
        "prompt": prompt,
        "candidates": [
            {
                "candidate_id": "call",
                "output": "",
                "tool_calls": [call(f"call_{i}b", city)],
                "finish_reason": "tool_calls",
                "model": {"name": "m-tools"},
            },
            {"candidate_id": "empty", "output": "", "finish_reason": "stop", "model": {"name": "m-plain"}},
        ],
    }
    preference = {
        "event_id": f"0195b2c4-0000-7000-8002-{i:012d}",
        "type": "preference",
        "request_id": request_id,
        "occurred_at": f"2026-11-26T10:0{i}:30Z",
        "chosen": "call",
        "rejected": "empty",
        "source": {"kind": "human"},
    }
    return [inference, preference]


@pytest.fixture
def tool_rows(store: Store, project: str, tmp_path: Path) -> Path:
    append_all(store, [e for i, city in enumerate(CITIES) for e in request_events(i, city)], project)
    out = tmp_path / "trl"
    manifest = compile_dataset(store, project=project, out_dir=out, format="trl")
    assert manifest.counts_out["items"] == len(CITIES) and manifest.drops == {}
    return out


def test_rows_carry_the_tool_turns_and_the_call(tool_rows: Path) -> None:
    rows = list(read_rows_file(tool_rows / "train.jsonl"))
    first = rows[0]
    assert [m["role"] for m in first["prompt"]] == ["system", "user", "assistant", "tool", "user"]
    assert first["prompt"][3] == {
        "role": "tool",
        "content": '{"sky":"sunny"}',
        "tool_call_id": "call_0a",
        "name": "weather",
    }
    (reply,) = first["chosen"]
    assert reply["content"] == "" and reply["tool_calls"][0]["function"]["arguments"] == {"city": "Paris"}
    assert first["rejected"] == [{"role": "assistant", "content": ""}]


@pytest.mark.parametrize("template", ["qwen2_5.jinja", "llama3_1.jinja"])
def test_trl_chat_template_helper_renders_them(tool_rows: Path, template: str) -> None:
    import trl
    from trl.data_utils import apply_chat_template

    from preflog.verify.trainers import build_tokenizer

    rows = list(read_rows_file(tool_rows / "train.jsonl"))
    tokenizer = build_tokenizer(rows)
    tokenizer.chat_template = (Path(trl.__file__).parent / "chat_templates" / template).read_text("utf-8")
    for row, city in zip(rows, CITIES, strict=True):
        out = apply_chat_template(row, tokenizer)
        # the call rendered with its arguments as an object, not a quoted string (Llama 3.1 calls
        # them "parameters")
        key = "arguments" if template.startswith("qwen") else "parameters"
        assert f'"name": "weather", "{key}": {{"city": "{city}"}}' in out["chosen"]
        assert "sunny" in out["prompt"] and city in out["prompt"]
        assert out["rejected"].strip() in ("<|im_end|>", "<|eot_id|>")  # the empty answer: an empty turn


@pytest.mark.slow
def test_preflog_verify_trains_on_them(tool_rows: Path) -> None:
    from preflog.verify import verify_dataset

    report = verify_dataset(tool_rows)
    assert report.ok, [(r.trainer, r.error) for r in report.results]
    assert {r.trainer for r in report.results} == {"dpo", "reward", "kto"}
