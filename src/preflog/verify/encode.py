"""How each trainer turns an :class:`~preflog.verify.views.Example` into token ids, mirrored from
its source so the template checks see what training would see. An encoder answers an
:class:`Encoded`: the prompt's ids, one full sequence (prompt + completion) per completion, where
the trained completion starts, and whether the prompt was a prefix of prompt + completion.

- ``trl`` — TRL 1.16 (``DPOTrainer``, ``RewardTrainer``, ``KTOTrainer``): chat rows through
  ``apply_chat_template(..., tokenize=True)`` (no special tokens added on top), the prompt with
  ``add_generation_prompt=True``, the completion starting where the two sequences diverge; standard
  rows through ``tokenizer(text)`` (special tokens added, so a BOS when the tokenizer adds one) with
  the EOS appended to a completion that lacks it.
- ``axolotl`` — Axolotl's ``chat_template.default`` DPO strategy: the prompt rendered to text with
  the generation prompt, each reply rendered after a dummy user turn and cut from the first
  occurrence of its content, right-stripped; then TRL's standard path (so a template that writes
  the BOS itself gives two, axolotl#1616).
- ``openrlhf`` — OpenRLHF's ``RewardDataset`` with ``--apply_chat_template``: the completion is the
  full rendering minus the prompt's rendering *as a string*, the sequence right-stripped of newlines
  and given ``" " + eos`` when it does not end with the EOS, tokenized without special tokens.
- ``nemo-rl`` — NeMo RL's ``get_formatted_message_log``: the conversation rendered one message
  more at a time, each message's chunk the new text, the BOS prepended when the first chunk lacks
  it and the EOS appended when the last (newlines stripped) lacks it.
- ``chat-template`` — a plain ``apply_chat_template`` encoding, LLaMA-Factory's stand-in (it
  renders with its own ``template:``, which mirrors the model family's chat template).

A template that raises (``raise_exception``: roles that must alternate, an unsupported role) raises
out of the encoder; the caller reports it as the ``template`` check.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Final

from preflog.verify.views import Example, Message, Turns

#: Axolotl renders a reply after this user turn and cuts at the reply's content.
AXOLOTL_DUMMY: Final = "[[dummy_message]]"


@dataclass
class Encoded:
    prompt_ids: list[int]
    sequences: list[list[int]]  # prompt + completion, one per completion
    prompt_len: int  # the trained completion is sequences[i][prompt_len:]
    prefix_ok: bool  # the prompt (ids, or text where the trainer cuts text) is a prefix of each sequence
    repeated: str | None = None  # why the trainer's completion holds a prompt turn, if it does


def common_prefix(a: Sequence[Any], b: Sequence[Any]) -> int:
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return n


def _render(tok: Any, messages: list[Message], tools: Any, *, generation: bool = False) -> str:
    kwargs = {"tools": tools} if tools else {}
    return str(tok.apply_chat_template(messages, add_generation_prompt=generation, tokenize=False, **kwargs))


def _ids(tok: Any, text: str, *, special: bool) -> list[int]:
    return list(tok(text, add_special_tokens=special)["input_ids"])


def _chat_ids(tok: Any, messages: list[Message], tools: Any, *, generation: bool = False) -> list[int]:
    return _ids(tok, _render(tok, messages, tools, generation=generation), special=False)


def _listed(turns: Turns) -> list[Message]:
    return [{"role": "assistant", "content": turns}] if isinstance(turns, str) else list(turns)


def _with_eos(text: str, eos: str) -> str:
    return text if not eos or text.endswith(eos) else text + eos


def _from_ids(prompt_ids: list[int], sequences: list[list[int]]) -> Encoded:
    start = min(common_prefix(prompt_ids, s) for s in sequences)
    return Encoded(prompt_ids, sequences, start, start == len(prompt_ids))


def _standard(tok: Any, prompt: str, completions: Sequence[str]) -> Encoded:
    """TRL's path for text rows: special tokens added, the EOS appended when missing."""
    eos = tok.eos_token or ""
    sequences = [_ids(tok, prompt + _with_eos(c, eos), special=True) for c in completions]
    return _from_ids(_ids(tok, prompt, special=True), sequences)


def encode_trl(tok: Any, ex: Example) -> Encoded:
    if not isinstance(ex.prompt, list):
        return _standard(tok, ex.prompt, [str(c) for c in ex.completions])
    prompt_ids = _chat_ids(tok, ex.prompt, ex.tools, generation=True)
    return _from_ids(prompt_ids, [_chat_ids(tok, ex.prompt + _listed(c), ex.tools) for c in ex.completions])


def encode_chat_template(tok: Any, ex: Example) -> Encoded:
    prompt = ex.prompt if isinstance(ex.prompt, list) else [{"role": "user", "content": ex.prompt}]
    prompt_ids = _chat_ids(tok, prompt, ex.tools, generation=True)
    return _from_ids(prompt_ids, [_chat_ids(tok, prompt + _listed(c), ex.tools) for c in ex.completions])


def encode_axolotl(tok: Any, ex: Example) -> Encoded:
    assert isinstance(ex.prompt, list)
    prompt = _render(tok, ex.prompt, None, generation=True)
    replies, repeated = [], None
    for completion in ex.completions:
        reply = _listed(completion)[-1]
        content = str(reply.get("content") or "")
        text = _render(tok, [{"role": "user", "content": AXOLOTL_DUMMY}, reply], None)
        cut = text[text.find(content) :].rstrip()
        if AXOLOTL_DUMMY in cut:
            repeated = "Axolotl cut the reply at its empty content: the dummy user turn is trained"
        replies.append(cut)
    encoded = _standard(tok, prompt, replies)
    encoded.repeated = repeated
    return encoded


def _openrlhf_ids(tok: Any, text: str) -> list[int]:
    eos = tok.eos_token or ""
    text = text.rstrip("\n")
    return _ids(tok, text if not eos or text.endswith(eos) else f"{text} {eos}", special=False)


def encode_openrlhf(tok: Any, ex: Example) -> Encoded:
    if not isinstance(ex.prompt, list):
        texts = [(ex.prompt, ex.prompt + str(c)) for c in ex.completions]
        prompt = ex.prompt
    else:
        prompt = _render(tok, ex.prompt, None, generation=True)
        texts = [(prompt, _render(tok, ex.prompt + _listed(c), None)) for c in ex.completions]
    prefix_ok = all(full.startswith(prompt) for _, full in texts)
    # OpenRLHF slices the rendering at len(prompt) whether or not the prompt is its prefix
    sequences = [_openrlhf_ids(tok, prompt + full[len(prompt) :]) for _, full in texts]
    prompt_ids = _ids(tok, prompt, special=False)
    start = min(common_prefix(prompt_ids, s) for s in sequences)
    return Encoded(prompt_ids, sequences, start, prefix_ok)


def _message_log(tok: Any, messages: list[Message], tools: Any) -> tuple[list[list[int]], bool]:
    """NeMo RL's per-message chunks as ids, and whether every rendering extended the previous one."""
    chunks, previous, prefix_ok = [], "", True
    for i in range(len(messages)):
        text = _render(tok, messages[: i + 1], tools)
        start = common_prefix(previous, text)
        prefix_ok = prefix_ok and start == len(previous)
        chunk = text[start:]
        if i == 0 and tok.bos_token and not chunk.startswith(tok.bos_token):
            chunk = tok.bos_token + chunk
        if i == len(messages) - 1 and tok.eos_token and not chunk.rstrip("\n").endswith(tok.eos_token):
            chunk += tok.eos_token
        chunks.append(_ids(tok, chunk, special=False))
        previous = text
    return chunks, prefix_ok


def encode_nemo_rl(tok: Any, ex: Example) -> Encoded:
    assert isinstance(ex.prompt, list)
    sequences, prefix_ok, prompt_ids = [], True, []
    for completion in ex.completions:
        chunks, ok = _message_log(tok, ex.prompt + _listed(completion), ex.tools)
        prefix_ok = prefix_ok and ok
        prompt_ids = [t for chunk in chunks[: len(ex.prompt)] for t in chunk]
        sequences.append([t for chunk in chunks for t in chunk])
    start = min(common_prefix(prompt_ids, s) for s in sequences)
    return Encoded(prompt_ids, sequences, start, prefix_ok and start == len(prompt_ids))


ENCODERS: Final[dict[str, Callable[[Any, Example], Encoded]]] = {
    "trl": encode_trl,
    "axolotl": encode_axolotl,
    "openrlhf": encode_openrlhf,
    "nemo-rl": encode_nemo_rl,
    "chat-template": encode_chat_template,
}

__all__ = ["AXOLOTL_DUMMY", "ENCODERS", "Encoded", "common_prefix"]
