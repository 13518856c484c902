"""``verify_dataset``, the trainer steps: prove a compiled dataset is accepted by the real TRL trainers
before anyone spends GPU hours on it.

It loads the files with ``datasets``, trains a small byte-level BPE tokenizer on the data's own
text (with pad/eos tokens and a plain chat template for conversational data), builds a tiny
randomly initialized Llama (2 layers, hidden size 32), saves both to a temporary directory (the
trainers load the reference model from a path), and runs a few optimizer steps of
``DPOTrainer``, ``RewardTrainer`` and ``KTOTrainer`` on the CPU. Needs the ``verify`` extra.
Nothing is downloaded (every load is a local path, ``local_files_only``), nothing is saved, and
the host's environment and its libraries' settings are left as they were: the progress bars of
``datasets``, ``transformers`` and the trainers are turned off by their own options for the call
(:func:`quiet_libraries`), not by ``TQDM_DISABLE``.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import math
import sys
import tempfile
import time
import traceback
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Final

from preflog.errors import ConfigError
from preflog.verify.report import TrainerResult

TRAINERS: Final = ("dpo", "reward", "kto")
DEFAULT_TRAINERS: Final[dict[str, tuple[str, ...]]] = {
    "trl": ("dpo", "reward", "kto"),
    "trl-reward": ("reward", "dpo"),
    "trl-kto": ("kto",),
}
SPECIAL: Final = {"pad": "<pad>", "eos": "</s>", "bos": "<s>", "unk": "<unk>"}
# A plain template that also renders tool calls (name and arguments as JSON, as the Qwen2.5 and
# Llama 3.1 templates do) and the empty content of a turn that only calls a tool.
CHAT_TEMPLATE: Final = (
    "{% for message in messages %}<|{{ message['role'] }}|>\n{{ message['content'] or '' }}"
    "{% for call in message['tool_calls'] or [] %}<tool_call>{{ call['function']['name'] }} "
    "{{ call['function']['arguments'] | tojson }}</tool_call>{% endfor %}</s>\n{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>\n{% endif %}"
)
MAX_ROWS: Final = 32  # rows used to train; the whole file is still loaded and type-checked
MAX_LENGTH: Final = 128  # DPOTrainer and KTOTrainer truncate to this many tokens
# RewardTrainer drops (does not truncate) a pair longer than its max_length: room for long outputs
REWARD_MAX_LENGTH: Final = 2048


def _load(path: Path, cache: Path) -> Any:
    from datasets import load_dataset

    builder = "parquet" if path.suffix == ".parquet" else "json"
    return load_dataset(builder, data_files={"train": str(path)}, split="train", cache_dir=str(cache))


def _texts(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, list):
        for item in value:
            if isinstance(item, dict):
                yield f"<|{item.get('role', '')}|>\n{item.get('content') or ''}"
                for call in item.get("tool_calls") or ():
                    yield json.dumps(call, ensure_ascii=False)


def build_tokenizer(rows: list[dict[str, Any]]) -> Any:
    """A byte-level BPE tokenizer trained on the rows' own text, wrapped for transformers."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    corpus = [t for row in rows for v in row.values() for t in _texts(v)]
    tok = Tokenizer(models.BPE(unk_token=SPECIAL["unk"]))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=512,
        special_tokens=list(SPECIAL.values()),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(corpus or ["empty"], trainer=trainer)
    fast = PreTrainedTokenizerFast(  # type: ignore[no-untyped-call]
        tokenizer_object=tok,
        pad_token=SPECIAL["pad"],
        eos_token=SPECIAL["eos"],
        bos_token=SPECIAL["bos"],
        unk_token=SPECIAL["unk"],
    )
    fast.chat_template = CHAT_TEMPLATE
    return fast


def build_model(tokenizer: Any, directory: Path) -> str:
    """A tiny random Llama saved with its tokenizer to ``directory``; answers the path."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=4,
        max_position_embeddings=REWARD_MAX_LENGTH,
        pad_token_id=tokenizer.pad_token_id,
        eos_token_id=tokenizer.eos_token_id,
        bos_token_id=tokenizer.bos_token_id,
        tie_word_embeddings=False,
    )
    LlamaForCausalLM(config).save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    return str(directory)


def _common_args(output_dir: Path, steps: int) -> dict[str, Any]:
    return {
        "output_dir": str(output_dir),
        "max_steps": steps,
        "per_device_train_batch_size": 2,
        "gradient_accumulation_steps": 1,
        "learning_rate": 1e-3,
        "bf16": False,
        "fp16": False,
        "gradient_checkpointing": False,
        "use_cpu": True,
        "report_to": "none",
        "save_strategy": "no",
        "logging_steps": 1,
        "disable_tqdm": True,
        "dataloader_num_workers": 0,
        "max_length": MAX_LENGTH,
        "seed": 0,
    }


def _run(
    trainer_name: str, model_path: str, tokenizer: Any, dataset: Any, work: Path, steps: int
) -> tuple[float, int]:
    """Train; answer the mean training loss and the optimizer steps taken."""
    from transformers import AutoModelForCausalLM, AutoModelForSequenceClassification

    args = _common_args(work / trainer_name, steps)
    if trainer_name == "dpo":
        from trl.trainer.dpo_config import DPOConfig
        from trl.trainer.dpo_trainer import DPOTrainer

        trainer: Any = DPOTrainer(
            model=AutoModelForCausalLM.from_pretrained(model_path, local_files_only=True),
            ref_model=AutoModelForCausalLM.from_pretrained(model_path, local_files_only=True),
            args=DPOConfig(**args),
            train_dataset=dataset,
            processing_class=tokenizer,
        )
    elif trainer_name == "reward":
        from trl.trainer.reward_config import RewardConfig
        from trl.trainer.reward_trainer import RewardTrainer

        model = AutoModelForSequenceClassification.from_pretrained(
            model_path, num_labels=1, local_files_only=True
        )
        model.config.pad_token_id = tokenizer.pad_token_id
        trainer = RewardTrainer(
            model=model,
            args=RewardConfig(**(args | {"max_length": REWARD_MAX_LENGTH})),
            train_dataset=dataset,
            processing_class=tokenizer,
        )
    else:
        from trl.trainer.kto_config import KTOConfig
        from trl.trainer.kto_trainer import KTOTrainer

        trainer = KTOTrainer(
            model=AutoModelForCausalLM.from_pretrained(model_path, local_files_only=True),
            ref_model=AutoModelForCausalLM.from_pretrained(model_path, local_files_only=True),
            args=KTOConfig(**args),
            train_dataset=dataset,
            processing_class=tokenizer,
        )
    from transformers.trainer_callback import PrinterCallback

    trainer.remove_callback(PrinterCallback)  # its per-step log lines would land on stdout
    output = trainer.train()
    return float(output.training_loss), int(trainer.state.global_step)


def _dataset_for(trainer_name: str, fmt: str, dataset: Any) -> Any:
    """The dataset as the trainer wants it: KTO on pairs gets them unpaired; pairs trainers
    cannot use unpaired data."""
    if trainer_name == "kto" and fmt != "trl-kto":
        from trl.data_utils import unpair_preference_dataset

        columns = [c for c in dataset.column_names if c not in ("prompt", "chosen", "rejected")]
        return unpair_preference_dataset(dataset.remove_columns(columns))
    if trainer_name != "kto" and fmt == "trl-kto":
        raise ConfigError(f"{trainer_name} needs preference pairs; a trl-kto file has unpaired examples")
    return dataset


def run_trainers(
    path: Path, fmt: str, names: tuple[str, ...], steps: int, *, tokenizer: Any = None
) -> list[TrainerResult]:
    """``steps`` optimizer steps of each TRL trainer in ``names`` on the first rows of ``path``, with
    ``tokenizer`` (and its chat template) when given, else one trained on the rows."""
    try:
        import datasets  # noqa: F401
        import trl  # noqa: F401
    except ImportError as exc:
        raise ConfigError(f"verify needs the verify extra: pip install 'preflog[verify]' ({exc})") from exc
    for name in names:
        if name not in TRAINERS:
            raise ConfigError(f"unknown trainer {name!r}; choose from {', '.join(TRAINERS)}")
    if path.stat().st_size == 0:  # `datasets` cannot even infer the columns of an empty file
        raise ConfigError(f"{path}: 0 rows; verify needs at least 2")
    with quiet_libraries(), tempfile.TemporaryDirectory(prefix="preflog-verify-") as tmp:
        work = Path(tmp)
        full = _load(path, work / "cache")
        if len(full) < 2:
            raise ConfigError(f"{path}: {len(full)} rows; verify needs at least 2")
        sample = full.select(range(min(MAX_ROWS, len(full))))
        tokenizer = _own(tokenizer) if tokenizer is not None else build_tokenizer(sample.to_list())
        model_path = build_model(tokenizer, work / "model")
        return [_attempt(name, fmt, model_path, tokenizer, sample, work, steps) for name in names]


@contextlib.contextmanager
def quiet_libraries() -> Iterator[None]:
    """For the call: no progress bars from ``datasets`` (loading, the trainers' ``map``),
    ``transformers`` or ``huggingface_hub``, and transformers' log at errors only (the load report
    of a random model is expected noise); then each setting as the host had it. The libraries'
    switches, not ``TQDM_DISABLE``: a variable would silence the host's own bars too, and
    outlive the call."""
    from transformers.utils import logging as hf_logging

    # The modules: each package also exports a class named tqdm.
    ds_bars = importlib.import_module("datasets.utils.tqdm")
    hub = importlib.import_module("huggingface_hub.utils.tqdm")
    datasets_off, hub_off = ds_bars.are_progress_bars_disabled(), hub.are_progress_bars_disabled()
    transformers_on = hf_logging.is_progress_bar_enabled()
    verbosity = hf_logging.get_verbosity()
    with warnings.catch_warnings():  # HF_DATASETS_DISABLE_PROGRESS_BARS=0 wins, with a warning
        warnings.simplefilter("ignore")
        ds_bars.disable_progress_bars()
        hf_logging.disable_progress_bar()  # type: ignore[no-untyped-call]  # the hub's bars too
    hf_logging.set_verbosity_error()  # type: ignore[no-untyped-call]
    try:
        yield
    finally:
        hf_logging.set_verbosity(verbosity)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if transformers_on:
                hf_logging.enable_progress_bar()  # type: ignore[no-untyped-call]
            if not hub_off:
                hub.enable_progress_bars()
            elif transformers_on:
                hub.disable_progress_bars()  # enabling transformers' bars turned the hub's on
            if not datasets_off:
                ds_bars.enable_progress_bars()


def _own(tokenizer: Any) -> Any:
    """A copy of a user's tokenizer that pads (TRL pads with the EOS when there is no pad token)."""
    import copy

    tokenizer = copy.deepcopy(tokenizer)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def _attempt(
    name: str, fmt: str, model_path: str, tokenizer: Any, data: Any, work: Path, steps: int
) -> TrainerResult:
    started = time.perf_counter()
    try:
        with contextlib.redirect_stdout(sys.stderr), warnings.catch_warnings():  # stdout is the report's
            warnings.simplefilter("ignore", FutureWarning)  # transformers 5 renames TRL's config fields
            loss, done = _run(name, model_path, tokenizer, _dataset_for(name, fmt, data), work, steps)
    except Exception as exc:  # any failure of the trainer is the answer, reported, not raised
        last = traceback.format_exception_only(type(exc), exc)[-1].strip()
        return TrainerResult(name, False, 0, None, time.perf_counter() - started, last)
    ok = math.isfinite(loss) and done == steps
    error = None if ok else f"loss {loss} after {done} of {steps} steps"
    return TrainerResult(name, ok, done, loss, time.perf_counter() - started, error)
