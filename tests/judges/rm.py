"""A tiny reward model built in the test (no hub): a byte-level BPE tokenizer trained on the
fixture's text and a randomly initialized two-layer Llama with a one-label classification head,
saved the way TRL's RewardTrainer saves one."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.judges.conftest import QUESTIONS


def build_reward_model(directory: Path, *, seed: int = 0) -> tuple[Any, Any]:
    import torch
    from transformers import LlamaConfig, LlamaForSequenceClassification

    from preflog.verify import build_tokenizer

    rows = [{"prompt": q, "chosen": good, "rejected": bad} for q, good, bad in QUESTIONS]
    tokenizer = build_tokenizer(rows)
    torch.manual_seed(seed)
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=4,
        max_position_embeddings=512,
        pad_token_id=tokenizer.pad_token_id,
        eos_token_id=tokenizer.eos_token_id,
        bos_token_id=tokenizer.bos_token_id,
        num_labels=1,
    )
    model = LlamaForSequenceClassification(config)
    model.save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    return model, tokenizer
