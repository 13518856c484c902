"""Scorers: a local Hugging Face reward model, or a reward-model HTTP service.

A scorer has a ``name`` and a ``version`` (they go in every score event's ``scorer``) and scores a
batch of candidates, each given as its conversation (context + reply, chat messages).

The HTTP shape (``EndpointScorer``), documented in docs/judges.md::

    POST URL  {"inputs": [{"request_id": "...", "candidate_id": "...",
                           "messages": [{"role": "user", "content": "..."}, ...],
                           "prompt": "text of the context", "output": "text of the reply"}, ...]}
    200       {"scores": [1.25, -0.5, ...]}

``scores`` has one finite number per input, in order (higher is better). A service's name and
version are given by the caller (``--scorer``, ``--scorer-version``): they key "already scored".
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from preflog.errors import ConfigError
from preflog.judges.http import DEFAULT_POLICY, EndpointError, EndpointPolicy, post_json
from preflog.judges.inputs import CandidateView, InferenceView, Message


@dataclass(frozen=True)
class ScoreInput:
    inference: InferenceView
    candidate: CandidateView

    @property
    def messages(self) -> list[Message]:
        return [*self.inference.context, *self.candidate.reply]


class Scorer(Protocol):
    name: str
    version: str

    def score(self, batch: Sequence[ScoreInput]) -> list[float]: ...


def checkpoint_hash(directory: Path) -> str:
    """The first 16 hex digits of a SHA-256 over the checkpoint's weight and config files, in name
    order: the same weights give the same version wherever they are copied."""
    digest = hashlib.sha256()
    names = sorted(
        p
        for p in directory.iterdir()
        if p.is_file() and (p.suffix in (".safetensors", ".bin", ".pt") or p.name == "config.json")
    )
    if not names:
        raise ConfigError(f"{directory}: no model weights (*.safetensors, *.bin) in this directory")
    for path in names:
        digest.update(path.name.encode() + b"\x00")
        with path.open("rb") as handle:
            for chunk in iter(lambda: handle.read(1 << 20), b""):
                digest.update(chunk)
    return digest.hexdigest()[:16]


class RewardModelScorer:
    """A local sequence-classification checkpoint (``AutoModelForSequenceClassification`` with one
    label, as TRL's RewardTrainer saves it), on the CPU unless ``device`` says otherwise. Each
    candidate is rendered with the tokenizer's chat template when it has one, else as
    ``context\\n\\nreply``, truncated from the left to ``max_length`` tokens."""

    def __init__(
        self,
        directory: str | Path,
        *,
        name: str | None = None,
        device: str = "cpu",
        max_length: int = 1024,
    ) -> None:
        path = Path(directory)
        if not path.is_dir():
            raise ConfigError(f"{directory}: not a directory (a Hugging Face reward model checkpoint)")
        try:
            import torch
            from transformers import AutoModelForSequenceClassification, AutoTokenizer
        except ImportError as exc:
            raise ConfigError(f"scoring with a local model needs the verify extra ({exc})") from exc
        self._torch = torch
        self.version = checkpoint_hash(path)
        self.name = name or path.resolve().name
        self.max_length = max_length
        self.tokenizer = AutoTokenizer.from_pretrained(str(path))
        self.tokenizer.truncation_side = "left"  # keep the reply, which is what is scored
        if self.tokenizer.pad_token is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        self.model = AutoModelForSequenceClassification.from_pretrained(str(path)).to(device).eval()
        if self.model.config.pad_token_id is None:
            self.model.config.pad_token_id = self.tokenizer.pad_token_id
        self.device = device

    def _render(self, item: ScoreInput) -> str:
        if getattr(self.tokenizer, "chat_template", None):
            messages = [
                {"role": m.get("role", "user"), "content": m.get("content") or ""} for m in item.messages
            ]
            return str(self.tokenizer.apply_chat_template(messages, tokenize=False))
        return "\n\n".join(m.get("content") or "" for m in item.messages)

    def score(self, batch: Sequence[ScoreInput]) -> list[float]:
        texts = [self._render(item) for item in batch]
        encoded = self.tokenizer(
            texts, padding=True, truncation=True, max_length=self.max_length, return_tensors="pt"
        ).to(self.device)
        with self._torch.no_grad():
            logits = self.model(**encoded).logits
        return [float(v) for v in logits[:, 0].tolist()]


class EndpointScorer:
    """A reward-model service speaking the JSON shape in this module's docstring."""

    def __init__(
        self,
        url: str,
        *,
        name: str | None = None,
        version: str | None = None,
        headers: dict[str, str] | None = None,
        policy: EndpointPolicy = DEFAULT_POLICY,
    ) -> None:
        if not url.startswith(("http://", "https://")):
            raise ConfigError(f"endpoint: {url!r} is not an http(s) URL")
        self.url = url
        self.name = name or url.split("://", 1)[1].rstrip("/")
        self.version = version or "unversioned"
        self.headers = headers or {}
        self.policy = policy
        self.retries = 0

    def _count_retry(self, _: str) -> None:
        self.retries += 1

    def score(self, batch: Sequence[ScoreInput]) -> list[float]:
        payload = {
            "inputs": [
                {
                    "request_id": item.inference.request_id,
                    "candidate_id": item.candidate.candidate_id,
                    "messages": item.messages,
                    "prompt": item.inference.question,
                    "output": item.candidate.text,
                }
                for item in batch
            ]
        }
        answer = post_json(
            self.url, payload, headers=self.headers, policy=self.policy, on_retry=self._count_retry
        )
        return _scores_from(answer, len(batch), self.url)


def _scores_from(answer: Any, expected: int, url: str) -> list[float]:
    scores = answer.get("scores") if isinstance(answer, dict) else None
    if not isinstance(scores, list) or len(scores) != expected:
        raise EndpointError(f"{url}: expected {{'scores': [{expected} numbers]}}, got {str(answer)[:120]}")
    out: list[float] = []
    for i, value in enumerate(scores):
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            raise EndpointError(f"{url}: scores[{i}] must be a finite number, got {value!r}")
        out.append(float(value))
    return out
