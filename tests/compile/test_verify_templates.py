"""``preflog verify --tokenizer``: every row rendered with a real model family's chat template (a
ChatML one, Qwen2.5's, and Llama 3's, on tokenizers built here), each check caught on one broken
fixture that names the row, and preflog's own compiled datasets passing."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pytest

from preflog.cli import main
from preflog.store import Store
from preflog.verify import VerifyReport, verify_dataset
from tests import factories as f
from tests.compile.chat_templates import build_tokenizer_dir
from tests.compile.helpers import append_all, compile_rows
from tests.formats.test_v2_records import TOOL_PROMPT, WEATHER

pytest.importorskip("transformers")

NS = uuid.UUID("9d7c41f2-5b0e-4f3a-8c6d-1e2f3a4b5c6d")
SYSTEM = "Be brief."
GOOD = [
    {"prompt": "What is 2+2?", "chosen": "4", "rejected": "5"},
    {"prompt": "Name the capital of France.", "chosen": "Paris.", "rejected": "Lyon."},
]
CHAT_GOOD = [
    {
        "prompt": [{"role": "user", "content": "What is 2+2?"}],
        "chosen": [{"role": "assistant", "content": "4"}],
        "rejected": [{"role": "assistant", "content": "5"}],
    },
    {
        "prompt": [{"role": "user", "content": "Name the capital of France."}],
        "chosen": [{"role": "assistant", "content": "Paris."}],
        "rejected": [{"role": "assistant", "content": "Lyon."}],
    },
]
CORPUS = [
    "What is 2+2? 4",
    "What is 2+2? 5",
    " 4 5 4 5 4 5",
    "Name the capital of France. Paris. Lyon.",
    "Be brief. Answer in French. It is the capital. Hello. Go away.",
    "Question number how do I sort a list? The answer is Maybe I do not know about",
] * 3


@pytest.fixture(scope="module")
def tokenizers(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("tokenizers")
    return {name: build_tokenizer_dir(root / name, name, CORPUS) for name in ("qwen2.5", "llama3", "mistral")}


def dataset(directory: Path, fmt: str, rows: list[dict[str, Any]]) -> Path:
    """A directory as compile writes it: the rows in train.jsonl and a manifest naming the format."""
    directory.mkdir(parents=True)
    text = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)
    (directory / "train.jsonl").write_text(text, encoding="utf-8")
    files = [{"name": "train.jsonl", "rows": len(rows), "bytes": len(text.encode()), "sha256": ""}]
    (directory / "manifest.json").write_text(json.dumps({"format": fmt, "files": files}), encoding="utf-8")
    return directory


def failing(report: VerifyReport) -> dict[str, set[str]]:
    """check → the rows it failed (``train.jsonl:3``), for the checks that did not pass."""
    out: dict[str, set[str]] = {}
    for check in report.checks:
        if check.status in ("fail", "warn"):
            out.setdefault(check.check, set()).update(e.where for e in check.examples)
    return out


def events(n: int = 9) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for i in range(n):
        rid = str(uuid.uuid5(NS, f"r{i}"))
        turns: Any = [
            {"role": "user", "content": "Question number 1?"},
            {"role": "assistant", "content": "The answer is 2."},
            {"role": "user", "content": f"How do I sort a list {i}?"},
        ]
        prompt = turns if i % 3 == 0 else turns[-1:] if i % 3 == 1 else f"What is {i}+{i}?"
        extra = {"system": SYSTEM} if i % 2 else {}
        out.append(
            f.inference(rid, outputs=(f"The answer is {2 * i}.", f"Maybe {i}?"), prompt=prompt, **extra)
        )
        out.append(f.preference(rid))
    return out


OWN_FORMATS = [
    "trl",
    "trl-reward",
    "trl-kto",
    "openrlhf",
    "llamafactory",
    "llamafactory-alpaca",
    "hh-rlhf",
    "ultrafeedback",
    "nemo-rl",
    "axolotl",
]


@pytest.mark.parametrize("family", ["qwen2.5", "llama3"])
@pytest.mark.parametrize("fmt", OWN_FORMATS)
def test_preflogs_own_datasets_pass(
    store: Store, project: str, tmp_path: Path, tokenizers: dict[str, Path], fmt: str, family: str
) -> None:
    append_all(store, events(), project)
    out = tmp_path / fmt
    compile_rows(store, project, out, fmt, test_fraction=0.3, unpaired_from_pairs=fmt == "trl-kto")
    report = verify_dataset(out, steps=0, tokenizer=tokenizers[family])
    if fmt == "axolotl" and family == "llama3":  # Axolotl's own bug, not the data's: axolotl#1616
        assert set(failing(report)) == {"double_bos"}
        return
    assert report.ok, failing(report)
    checked = {c.check for c in report.checks if c.status == "pass" and c.rows == report.rows}
    assert {"schema", "template", "prompt_not_prefix", "double_bos", "double_eos"} <= checked


CHAT_PROMPT = [{"role": "user", "content": "Name the capital of France."}]
# (case, format, family, broken row, the check that must catch it)
BROKEN: list[tuple[str, str, str, dict[str, Any], str]] = [
    (
        "chat prompt repeated in chosen",
        "trl",
        "qwen2.5",
        {
            "prompt": CHAT_PROMPT,
            "chosen": [*CHAT_PROMPT, {"role": "assistant", "content": "Paris."}],
            "rejected": [{"role": "assistant", "content": "Lyon."}],
        },
        "prompt_in_completion",
    ),
    (
        "text prompt repeated in chosen",
        "trl",
        "llama3",
        {
            "prompt": "Name the capital of France.",
            "chosen": "Name the capital of France. Paris.",
            "rejected": "No.",
        },
        "prompt_in_completion",
    ),
    (
        "prompt ending in a space merges with the answer",
        "trl",
        "qwen2.5",
        {"prompt": "What is 2+2? ", "chosen": "4", "rejected": "5"},
        "prompt_not_prefix",
    ),
    (
        "text already templated with the BOS",
        "trl",
        "llama3",
        {
            "prompt": "<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>"
            "<|start_header_id|>assistant<|end_header_id|>\n\n",
            "chosen": "Hello.",
            "rejected": "Go away.",
        },
        "double_bos",
    ),
    (
        "completion already ends with the EOS and a newline",
        "trl",
        "qwen2.5",
        {
            "prompt": "<|im_start|>user\nWhat is 2+2?<|im_end|>\n<|im_start|>assistant\n",
            "chosen": "4<|im_end|>\n",
            "rejected": "5<|im_end|>\n",
        },
        "double_eos",
    ),
    (
        "replies differing only in trailing space, under a trimming template",
        "trl",
        "llama3",
        {
            "prompt": CHAT_PROMPT,
            "chosen": [{"role": "assistant", "content": "Paris."}],
            "rejected": [{"role": "assistant", "content": "Paris.  "}],
        },
        "identical_after_template",
    ),
    (
        "a system turn under a template that takes user and assistant only",
        "trl",
        "mistral",
        {
            "prompt": [{"role": "system", "content": SYSTEM}, *CHAT_PROMPT],
            "chosen": [{"role": "assistant", "content": "Paris."}],
            "rejected": [{"role": "assistant", "content": "Lyon."}],
        },
        "template",
    ),
    (
        "a developer turn the template silently leaves out",
        "trl",
        "qwen2.5",
        {
            "prompt": [{"role": "developer", "content": "Answer in French."}, *CHAT_PROMPT],
            "chosen": [{"role": "assistant", "content": "Paris."}],
            "rejected": [{"role": "assistant", "content": "Lyon."}],
        },
        "dropped_turns",
    ),
    (
        "a role Axolotl's chat_template does not map",
        "axolotl",
        "qwen2.5",
        {
            "messages": [{"role": "function", "content": "{}"}, *CHAT_PROMPT],
            "chosen": {"role": "assistant", "content": "Paris."},
            "rejected": {"role": "assistant", "content": "Lyon."},
        },
        "roles",
    ),
    (
        "a column Axolotl does not read",
        "axolotl",
        "qwen2.5",
        {
            "messages": CHAT_PROMPT,
            "chosen": {"role": "assistant", "content": "Paris."},
            "rejected": {"role": "assistant", "content": "Lyon."},
            "id": "row-7",
        },
        "extra_columns",
    ),
    (
        "an empty reply Axolotl cuts at offset 0",
        "axolotl",
        "qwen2.5",
        {
            "messages": CHAT_PROMPT,
            "chosen": {"role": "assistant", "content": "Paris."},
            "rejected": {"role": "assistant", "content": ""},
        },
        "prompt_in_completion",
    ),
]


def around(fmt: str, row: dict[str, Any]) -> list[dict[str, Any]]:
    """The broken row second, between two good rows of its shape (no system prompt: Mistral's
    template refuses one)."""
    if fmt == "axolotl":
        good = [
            {"messages": r["prompt"], "chosen": r["chosen"][0], "rejected": r["rejected"][0]}
            for r in CHAT_GOOD
        ]
    else:
        good = GOOD if isinstance(row["prompt"], str) else CHAT_GOOD
    return [good[0], row, good[1]]


@pytest.mark.parametrize(("case", "fmt", "family", "row", "check"), BROKEN, ids=[b[0] for b in BROKEN])
def test_each_check_catches_its_broken_row(
    tmp_path: Path,
    tokenizers: dict[str, Path],
    case: str,
    fmt: str,
    family: str,
    row: dict[str, Any],
    check: str,
) -> None:
    rows = around(fmt, row)
    out = dataset(tmp_path / "ds", fmt, rows)
    report = verify_dataset(out, steps=0, tokenizer=tokenizers[family])
    assert not report.ok, case
    assert failing(report).get(check) == {"train.jsonl:2"}, (case, failing(report))
    clean = dataset(tmp_path / "clean", fmt, [r for r in rows if r is not row])
    assert verify_dataset(clean, steps=0, tokenizer=tokenizers[family]).ok, case


def test_max_length_dropped_or_truncated_per_trainer(tmp_path: Path, tokenizers: dict[str, Path]) -> None:
    long_answer = "It is the capital. " * 12
    rows = [
        *GOOD,
        {"prompt": "Name the capital of France.", "chosen": long_answer, "rejected": "Lyon."},
        {"prompt": "Be brief. " * 40, "chosen": "4", "rejected": "5"},
    ]
    report = verify_dataset(
        dataset(tmp_path / "ds", "trl", rows), steps=0, tokenizer=tokenizers["qwen2.5"], max_length=48
    )
    by_trainer = {c.trainer: c for c in report.checks if c.check == "max_length"}
    assert set(by_trainer) == {"trl-dpo", "trl-reward", "trl-kto"}
    reward, dpo = by_trainer["trl-reward"], by_trainer["trl-dpo"]
    assert (reward.status, reward.failed) == ("fail", 2) and "2 dropped" in reward.detail
    assert (dpo.status, dpo.failed) == ("fail", 2)  # the long prompt alone fills max_length: dropped
    assert {e.where: e.why.split(":")[0] for e in dpo.examples} == {
        "train.jsonl:3": "truncated",
        "train.jsonl:4": "dropped",
    }
    assert "1 dropped, 1 truncated" in dpo.detail and dpo.share == 0.5
    only_long = verify_dataset(
        dataset(tmp_path / "truncated", "trl", rows[:3]),
        steps=0,
        tokenizer=tokenizers["qwen2.5"],
        max_length=48,
    )
    statuses = {c.trainer: c.status for c in only_long.checks if c.check == "max_length"}
    assert statuses == {"trl-dpo": "warn", "trl-reward": "fail", "trl-kto": "warn"}


def test_cli_json_report_and_exit_codes(
    tmp_path: Path, tokenizers: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    bad = dataset(tmp_path / "bad", "trl", [*GOOD, BROKEN[1][3]])
    args = ["verify", str(bad), "--tokenizer", str(tokenizers["llama3"]), "--steps", "0"]
    assert main([*args, "--format", "json"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert report["ok"] is False and report["format"] == "trl" and report["tokenizer"]
    failed = [c for c in report["checks"] if c["status"] == "fail"]
    assert [(c["check"], c["examples"][0]["row"]) for c in failed] == [
        ("prompt_in_completion", "train.jsonl:3")
    ]
    assert main(args) == 1
    text = capsys.readouterr().out
    assert (
        "FAIL  prompt_in_completion" in text
        and "train.jsonl:3  the completion starts with the whole prompt" in text
    )
    good = dataset(tmp_path / "good", "trl", GOOD)
    assert (
        main(["verify", str(good), "--tokenizer", str(tokenizers["qwen2.5"]), "--steps", "0", "--json"]) == 0
    )
    assert json.loads(capsys.readouterr().out)["ok"] is True


def test_cli_refuses_a_bad_tokenizer_in_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good = dataset(tmp_path / "good", "trl", GOOD)
    assert main(["verify", str(good), "--tokenizer", str(tmp_path / "nowhere"), "--steps", "0"]) == 2
    err = capsys.readouterr().err.strip()
    assert "not a directory" in err and len(err.splitlines()) == 1
    plain = build_tokenizer_dir(tmp_path / "plain", "qwen2.5", CORPUS)
    config = json.loads((plain / "tokenizer_config.json").read_text(encoding="utf-8"))
    config.pop("chat_template", None)
    (plain / "tokenizer_config.json").write_text(json.dumps(config), encoding="utf-8")
    (plain / "chat_template.jinja").unlink(missing_ok=True)
    assert main(["verify", str(good), "--tokenizer", str(plain), "--steps", "0"]) == 2
    assert "no chat template" in capsys.readouterr().err


def test_without_a_tokenizer_the_template_checks_say_why(tmp_path: Path) -> None:
    report = verify_dataset(dataset(tmp_path / "ds", "trl", GOOD), steps=0)
    skipped = [c for c in report.checks if c.status == "skip"]
    assert [(c.check, c.detail) for c in skipped] == [("template", "no tokenizer directory given")]
    assert report.ok


@pytest.mark.slow
def test_trainer_steps_use_the_given_tokenizer(tmp_path: Path, tokenizers: dict[str, Path]) -> None:
    pytest.importorskip("trl")
    out = dataset(tmp_path / "ds", "trl", CHAT_GOOD * 2)
    report = verify_dataset(out, trainers=("dpo",), steps=1, tokenizer=tokenizers["qwen2.5"])
    assert [(r.trainer, r.ok, r.steps) for r in report.results] == [("dpo", True, 1)], report.results
    assert report.ok


CALL = [{"role": "assistant", "content": "", "tool_calls": [{**WEATHER, "id": "call_2"}]}]


@pytest.mark.parametrize("fmt", ["trl", "nemo-rl"])
def test_tool_rows_render_with_a_tool_template_and_not_without(
    tmp_path: Path, tokenizers: dict[str, Path], fmt: str
) -> None:
    from preflog.formats import get_format
    from preflog.records import Pair

    pairs = [
        Pair(TOOL_PROMPT, None, CALL, "", "r1", "a", "b", "m1", "m2"),  # a tool call against an empty answer
        Pair(TOOL_PROMPT, None, "Rain tomorrow.", "Sun tomorrow.", "r2", "a", "b", "m1", "m2"),
    ]
    rows = [json.loads(json.dumps(r)) for r in get_format(fmt).write_rows(pairs)]
    out = dataset(tmp_path / fmt, fmt, rows)
    qwen = verify_dataset(out, steps=0, tokenizer=tokenizers["qwen2.5"])  # renders tool calls and results
    assert qwen.ok, failing(qwen)
    # Llama 3's template renders neither tool calls nor their arguments: the call and the empty
    # answer become the same tokens, which would teach the model nothing
    llama = verify_dataset(out, steps=0, tokenizer=tokenizers["llama3"])
    assert failing(llama) == {"identical_after_template": {"train.jsonl:1"}}


def test_every_file_of_a_grouped_compile_is_checked(
    store: Store, project: str, tmp_path: Path, tokenizers: dict[str, Path]
) -> None:
    evs = events()
    for i, event in enumerate(e for e in evs if e["type"] == "inference"):
        event["user_id"] = f"user-{i % 2}"
    append_all(store, evs, project)
    out = tmp_path / "grouped"
    manifest, _ = compile_rows(store, project, out, "trl", test_fraction=0.3, group_by="user")
    report = verify_dataset(out, steps=0, tokenizer=tokenizers["qwen2.5"])
    assert report.ok and report.rows == manifest.counts_out["items"] == 9
    schema = next(c for c in report.checks if c.check == "schema")
    assert schema.rows == 9
