"""``nemo-rl``: NeMo RL's preference data in its rank format (``data.dataset_type: rank``, read by
``PreferenceDataset`` for DPO and reward-model training). One row per pair:

``{"context": [chat messages], "completions": [{"rank": 0, "completion": [chosen messages]},
{"rank": 1, "completion": [rejected messages]}]}``

- ``context``: the prompt as chat messages, the system prompt first.
- ``completions``: exactly two (NeMo RL's DPO takes two and refuses ties); the lower rank is the
  preferred one, so the chosen reply is rank 0 and the rejected rank 1. Each ``completion`` is the
  reply as assistant-side messages: one assistant message, or the messages of a multi-message
  continuation (tool call, tool result, answer).

NeMo RL renders ``context + completion`` with the tokenizer's chat template, so messages are
written as chat templates read them (tool-call arguments as objects, a refusal as its text: see
:mod:`preflog.formats._chat`), like TRL's conversational rows.

>>> from preflog.records import Pair
>>> p = Pair(prompt="2+2?", system=None, chosen="4", rejected="5", request_id="r1",
...          chosen_id="a", rejected_id="b", chosen_model="m1", rejected_model="m2")
>>> nemo_row(p)["completions"][1]
{'rank': 1, 'completion': [{'role': 'assistant', 'content': '5'}]}
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Final

from preflog.formats._chat import chat_prompt, chat_reply, read_messages, read_reply
from preflog.formats._readback import read_pair, split_system
from preflog.formats.base import FormatSpec, Row, register_format
from preflog.records import FEATURES, Pair


def nemo_row(pair: Pair) -> Row:
    return {
        "context": chat_prompt(pair.prompt, pair.system, True),
        "completions": [
            {"rank": 0, "completion": chat_reply(pair.chosen, True)},
            {"rank": 1, "completion": chat_reply(pair.rejected, True)},
        ],
    }


def write_rows(pairs: Sequence[Pair]) -> Iterator[Row]:
    return (nemo_row(p) for p in pairs)


def row_to_pair(row: Row) -> Pair:
    context = read_messages(row.get("context"), "context")
    completions = row.get("completions")
    if not isinstance(completions, list) or len(completions) != 2:
        raise ValueError("completions: must be a list of exactly two {rank, completion}")
    if not all(isinstance(c, dict) and isinstance(c.get("rank"), int) for c in completions):
        raise ValueError("completions: every completion needs an integer rank")
    best, worst = sorted(completions, key=lambda c: int(c["rank"]))
    if best["rank"] == worst["rank"]:
        raise ValueError("completions: the two ranks are equal (a tie is not a pair)")
    system, prompt = split_system(context, None)
    chosen = read_reply(best.get("completion"), "completions.completion")
    rejected = read_reply(worst.get("completion"), "completions.completion")
    return read_pair(prompt, system, chosen, rejected)


def read_rows(rows: Iterable[Row]) -> Iterator[Pair]:
    return (row_to_pair(row) for row in rows)


SPEC: Final = register_format(
    FormatSpec(
        name="nemo-rl",
        kind="pairs",
        write_rows=write_rows,
        read_rows=read_rows,
        description="NeMo RL DPO/RM rank format: context, completions ranked (0 preferred)",
        carries=frozenset(FEATURES),
    )
)
