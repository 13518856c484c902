"""OpenRLHF preference data (``train_rm`` / ``train_dpo``) under its default keys: ``prompt``,
``chosen``, ``rejected`` (run with ``--prompt_key prompt``; ``--chosen_key chosen`` and
``--rejected_key rejected`` are the defaults) and ``margin`` (read by the reward-model loss; 0.0
when the pair has none, which OpenRLHF treats as no margin).

A file is *conversational* when any prompt is chat messages or has a system prompt: ``prompt`` is
then the messages (system first) and ``chosen``/``rejected`` are one-message lists
``[{"role": "assistant", "content": ...}]`` — train with ``--apply_chat_template``, which renders
``prompt + chosen``. Otherwise all three are plain strings (use ``--input_template`` if the model
needs one).

>>> from preflog.records import Pair
>>> p = Pair(prompt="2+2?", system=None, chosen="4", rejected="5", request_id="r1",
...          chosen_id="a", rejected_id="b", chosen_model="m1", rejected_model="m2", margin=1.5)
>>> openrlhf_row(p, conversational=False)
{'prompt': '2+2?', 'chosen': '4', 'rejected': '5', 'margin': 1.5}
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Any, Final

from preflog.formats._readback import messages_of, read_pair, split_system
from preflog.formats.base import FormatSpec, Row, register_format
from preflog.records import Message, Pair, Prompt, any_conversational, as_messages


def _reply(text: str, conversational: bool) -> str | list[Message]:
    return [{"role": "assistant", "content": text}] if conversational else text


def openrlhf_row(pair: Pair, *, conversational: bool) -> Row:
    prompt: Prompt = as_messages(pair.prompt, pair.system) if conversational else pair.prompt
    return {
        "prompt": prompt,
        "chosen": _reply(pair.chosen, conversational),
        "rejected": _reply(pair.rejected, conversational),
        "margin": float(pair.margin) if pair.margin is not None else 0.0,
    }


def write_rows(pairs: Sequence[Pair]) -> Iterator[Row]:
    conversational = any_conversational(pairs)
    return (openrlhf_row(p, conversational=conversational) for p in pairs)


def _text(value: Any, key: str) -> str:
    if isinstance(value, str):
        return value
    messages = messages_of(value, key)
    if not messages:
        raise ValueError(f"{key}: empty")
    return messages[-1]["content"]


def row_to_pair(row: Row) -> Pair:
    raw = row.get("prompt")
    prompt: Prompt = raw if isinstance(raw, str) else messages_of(raw, "prompt")
    system, prompt = split_system(prompt, None)
    margin = row.get("margin")
    return read_pair(
        prompt,
        system,
        _text(row.get("chosen"), "chosen"),
        _text(row.get("rejected"), "rejected"),
        margin=float(margin) if isinstance(margin, int | float) and margin else None,
    )


def read_rows(rows: Iterable[Row]) -> Iterator[Pair]:
    return (row_to_pair(row) for row in rows)


SPEC: Final = register_format(
    FormatSpec(
        name="openrlhf",
        kind="pairs",
        write_rows=write_rows,
        read_rows=read_rows,
        description="OpenRLHF reward/DPO data: prompt, chosen, rejected, margin (chat messages with "
        "--apply_chat_template, or strings)",
    )
)
