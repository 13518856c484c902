"""Hugging Face TRL dataset formats: ``trl`` (preference, for DPOTrainer), ``trl-kto`` (unpaired,
for KTOTrainer) and ``trl-reward`` (preference with ``margin``, for RewardTrainer).

Every row has an explicit ``prompt``. A file is *conversational* (prompt: chat messages, outputs:
assistant-side messages) when any of its prompts is chat messages or has a system prompt, or any
reply is more than text, else *standard* (plain strings); one file never mixes the two, so each
column has one type. Conversational rows carry tool calls, tool turns, multi-message continuations
and refusals as TRL's chat-template helpers pass them to the tokenizer's chat template (see
:mod:`preflog.formats._chat` for the shape of tool-call arguments and refusals).

>>> from preflog.records import Pair
>>> p = Pair(prompt="2+2?", system=None, chosen="4", rejected="5", request_id="r1",
...          chosen_id="a", rejected_id="b", chosen_model="m1", rejected_model="m2")
>>> preference_row(p, conversational=False)
{'prompt': '2+2?', 'chosen': '4', 'rejected': '5'}
>>> preference_row(p, conversational=True)["chosen"]
[{'role': 'assistant', 'content': '4'}]
>>> reward_row(p, conversational=False)["margin"]
0.0
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from preflog.errors import ValidationError
from preflog.formats._chat import chat_prompt, chat_reply, read_messages, read_reply
from preflog.formats.base import EncodedRows, FormatSpec, Row, register_format
from preflog.records import FEATURES, Pair, Prompt, Unpaired, any_conversational

PREFERENCE_KEYS = frozenset({"prompt", "chosen", "rejected"})
PREFERENCE_COLUMNS = ("prompt", "chosen", "rejected")  # a standard row's keys, in order


def preference_row(pair: Pair, *, conversational: bool) -> Row:
    """One ``trl`` row: explicit prompt, chosen, rejected."""
    return {
        "prompt": chat_prompt(pair.prompt, pair.system, conversational),
        "chosen": chat_reply(pair.chosen, conversational),
        "rejected": chat_reply(pair.rejected, conversational),
    }


def reward_row(pair: Pair, *, conversational: bool) -> Row:
    """One ``trl-reward`` row: a preference row plus ``margin`` (0.0 when unknown, which leaves
    RewardTrainer's loss as without a margin)."""
    row = preference_row(pair, conversational=conversational)
    row["margin"] = float(pair.margin) if pair.margin is not None else 0.0
    return row


def kto_row(item: Unpaired, *, conversational: bool) -> Row:
    """One ``trl-kto`` row: prompt, completion, label (True: desirable)."""
    return {
        "prompt": chat_prompt(item.prompt, item.system, conversational),
        "completion": chat_reply(item.completion, conversational),
        "label": bool(item.label),
    }


def write_preference(items: Sequence[Pair]) -> Iterator[Row]:
    """The ``trl`` rows of ``items``; a standard file of a sequence that can encode its own rows
    (``text_lines(keys)``: the JSON lines of ``{keys: (prompt, chosen, rejected)}``, the DuckDB
    engine's final rows) is written from those lines, the same bytes without a row object each."""
    conversational = any_conversational(items)
    rows = (preference_row(p, conversational=conversational) for p in items)
    lines = getattr(items, "text_lines", None)
    if conversational or lines is None:
        return rows
    return EncodedRows(lambda: lines(PREFERENCE_COLUMNS), lambda: rows)


def write_reward(items: Sequence[Pair]) -> Iterator[Row]:
    conversational = any_conversational(items)
    return (reward_row(p, conversational=conversational) for p in items)


def write_kto(items: Sequence[Unpaired]) -> Iterator[Row]:
    conversational = any_conversational(items)
    return (kto_row(u, conversational=conversational) for u in items)


# ---------------------------------------------------------------------------------------------- reading


def _split_system(prompt: Any) -> tuple[Prompt, str | None]:
    if isinstance(prompt, str):
        return prompt, None
    messages = read_messages(prompt, "prompt")
    if messages and messages[0]["role"] == "system":
        return messages[1:], messages[0]["content"]
    return messages, None


def split_implicit_prompt(row: Row) -> Row:
    """A row without ``prompt`` (TRL's implicit-prompt form) → the shared prefix as the prompt.

    >>> q = {"role": "user", "content": "Q"}
    >>> row = {"chosen": [q, {"role": "assistant", "content": "A"}],
    ...        "rejected": [q, {"role": "assistant", "content": "B"}]}
    >>> split_implicit_prompt(row)["chosen"]
    [{'role': 'assistant', 'content': 'A'}]
    >>> split_implicit_prompt({"chosen": "Q: hi A: yes", "rejected": "Q: hi A: no"})["prompt"]
    'Q: hi A: '
    """
    if "prompt" in row:
        return row
    chosen, rejected = row["chosen"], row["rejected"]
    if isinstance(chosen, list) and isinstance(rejected, list):
        n = 0
        while n < min(len(chosen), len(rejected)) - 1 and chosen[n] == rejected[n]:
            n += 1
        return {**row, "prompt": chosen[:n], "chosen": chosen[n:], "rejected": rejected[n:]}
    n = _common_prefix(str(chosen), str(rejected))
    return {**row, "prompt": str(chosen)[:n], "chosen": str(chosen)[n:], "rejected": str(rejected)[n:]}


def _common_prefix(a: str, b: str) -> int:
    n = 0
    while n < min(len(a), len(b)) and a[n] == b[n]:
        n += 1
    return n


def pair_of_row(row: Row, index: int = 0) -> Pair:
    """A ``trl`` or ``trl-reward`` row back as a :class:`Pair` (ids are the row's index)."""
    row = split_implicit_prompt(row)
    prompt, system = _split_system(row.get("prompt"))
    margin = row.get("margin")
    return Pair(
        prompt=prompt,
        system=system,
        chosen=read_reply(row.get("chosen"), "chosen"),
        rejected=read_reply(row.get("rejected"), "rejected"),
        request_id=f"row-{index}",
        chosen_id="chosen",
        rejected_id="rejected",
        chosen_model="",
        rejected_model="",
        margin=float(margin) if isinstance(margin, int | float) and margin else None,
    )


def unpaired_of_row(row: Row, index: int = 0) -> Unpaired:
    """A ``trl-kto`` row back as an :class:`Unpaired` record."""
    prompt, system = _split_system(row.get("prompt"))
    label = row.get("label")
    if not isinstance(label, bool):
        raise ValidationError("must be true or false", path="label")
    return Unpaired(
        prompt=prompt,
        system=system,
        completion=read_reply(row.get("completion"), "completion"),
        label=label,
        request_id=f"row-{index}",
        candidate_id="completion",
        model="",
        source="human",
        signal="thumbs_up" if label else "thumbs_down",
    )


def read_pairs(rows: Iterable[Row]) -> Iterator[Pair]:
    return (pair_of_row(row, i) for i, row in enumerate(rows))


def read_unpaired(rows: Iterable[Row]) -> Iterator[Unpaired]:
    return (unpaired_of_row(row, i) for i, row in enumerate(rows))


TRL = register_format(
    FormatSpec(
        "trl",
        "pairs",
        write_preference,
        read_pairs,
        description="TRL preference (DPOTrainer): prompt, chosen, rejected; standard or conversational",
        carries=frozenset(FEATURES),
    )
)
TRL_KTO = register_format(
    FormatSpec(
        "trl-kto",
        "unpaired",
        write_kto,
        read_unpaired,
        description="TRL unpaired preference (KTOTrainer): prompt, completion, label",
        carries=frozenset(FEATURES),
    )
)
TRL_REWARD = register_format(
    FormatSpec(
        "trl-reward",
        "pairs",
        write_reward,
        read_pairs,
        description="TRL preference with margin (RewardTrainer): prompt, chosen, rejected, margin",
        carries=frozenset(FEATURES),
    )
)
