"""OpenRLHF preference data (``train_rm`` / ``train_dpo``) under its default keys: ``prompt``,
``chosen``, ``rejected`` (run with ``--prompt_key prompt``; ``--chosen_key chosen`` and
``--rejected_key rejected`` are the defaults) and ``margin`` (read by the reward-model loss; 0.0
when the pair has none, which OpenRLHF treats as no margin).

A file is *conversational* when any prompt is chat messages or has a system prompt: ``prompt`` is
then the messages (system first) and ``chosen``/``rejected`` are assistant-side message lists
(``[{"role": "assistant", "content": ...}]``; several messages for a multi-message continuation,
tool calls and tool turns as chat templates read them, see :mod:`preflog.formats._chat`) — train
with ``--apply_chat_template``, which renders ``prompt + chosen``. A file is conversational too
when any reply is more than text. Otherwise all three are plain strings (use ``--input_template``
if the model needs one).

>>> from preflog.records import Pair
>>> p = Pair(prompt="2+2?", system=None, chosen="4", rejected="5", request_id="r1",
...          chosen_id="a", rejected_id="b", chosen_model="m1", rejected_model="m2", margin=1.5)
>>> openrlhf_row(p, conversational=False)
{'prompt': '2+2?', 'chosen': '4', 'rejected': '5', 'margin': 1.5}
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Final

from preflog.formats._chat import chat_prompt, chat_reply, read_messages, read_reply
from preflog.formats._readback import read_pair, split_system
from preflog.formats.base import FormatSpec, Row, register_format
from preflog.records import FEATURES, Pair, Prompt, any_conversational


def openrlhf_row(pair: Pair, *, conversational: bool) -> Row:
    return {
        "prompt": chat_prompt(pair.prompt, pair.system, conversational),
        "chosen": chat_reply(pair.chosen, conversational),
        "rejected": chat_reply(pair.rejected, conversational),
        "margin": float(pair.margin) if pair.margin is not None else 0.0,
    }


def write_rows(pairs: Sequence[Pair]) -> Iterator[Row]:
    conversational = any_conversational(pairs)
    return (openrlhf_row(p, conversational=conversational) for p in pairs)


def row_to_pair(row: Row) -> Pair:
    raw = row.get("prompt")
    prompt: Prompt = raw if isinstance(raw, str) else read_messages(raw, "prompt")
    system, prompt = split_system(prompt, None)
    margin = row.get("margin")
    return read_pair(
        prompt,
        system,
        read_reply(row.get("chosen"), "chosen"),
        read_reply(row.get("rejected"), "rejected"),
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
        carries=frozenset(FEATURES),
    )
)
