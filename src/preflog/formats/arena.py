"""Chatbot Arena battles, readable by ``preflog import arena``: ``question_id`` (the request id),
``model_a``, ``model_b``, ``winner`` (``model_a`` | ``model_b``), ``judge``, ``conversation_a``,
``conversation_b`` (the prompt's messages plus each reply), ``turn`` (user turns in the prompt) and
``tstamp`` (Unix seconds of the latest judgment; the column is left out when a pair has no time).

Model A is the output shown first when the pair records it (``chosen_first``); otherwise the
candidate with the smaller id, so ``winner`` is not always ``model_a``. ``judge`` names the judge
kinds that voted (``human``, ``ai_judge+human``...). Compile never makes pairs of ties, so this
file holds decisive battles only; ties and both-bad votes stay in the store for ``preflog
leaderboard``.

>>> from preflog.records import Pair
>>> p = Pair(prompt="Hi", system=None, chosen="Hello", rejected="Go", request_id="r1",
...          chosen_id="b", rejected_id="a", chosen_model="m2", rejected_model="m1",
...          sources=("human",), occurred_at="2023-11-14T22:13:20.000000Z")
>>> row = arena_row(p, with_time=True)
>>> row["model_a"], row["model_b"], row["winner"], row["tstamp"]
('m1', 'm2', 'model_b', 1700000000.0)
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Any, Final

from preflog.events import format_time, parse_time
from preflog.formats._readback import messages_of, read_pair, split_system
from preflog.formats.base import FormatSpec, Row, register_format, text_reply
from preflog.records import Pair, as_messages


def chosen_is_a(pair: Pair) -> bool:
    if pair.chosen_first is not None:
        return pair.chosen_first
    return pair.chosen_id <= pair.rejected_id


def arena_row(pair: Pair, *, with_time: bool) -> Row:
    messages = as_messages(pair.prompt, pair.system)
    chosen = (
        pair.chosen_model,
        [*messages, {"role": "assistant", "content": text_reply(pair.chosen, "arena")}],
    )
    rejected = (
        pair.rejected_model,
        [*messages, {"role": "assistant", "content": text_reply(pair.rejected, "arena")}],
    )
    a_wins = chosen_is_a(pair)
    (model_a, conv_a), (model_b, conv_b) = (chosen, rejected) if a_wins else (rejected, chosen)
    row: Row = {
        "question_id": pair.request_id,
        "model_a": model_a,
        "model_b": model_b,
        "winner": "model_a" if a_wins else "model_b",
        "judge": "+".join(pair.sources) or "unknown",
        "conversation_a": conv_a,
        "conversation_b": conv_b,
        "turn": sum(m["role"] == "user" for m in messages),
    }
    if with_time:
        row["tstamp"] = parse_time(str(pair.occurred_at)).timestamp()
    return row


def write_rows(pairs: Sequence[Pair]) -> Iterator[Row]:
    with_time = all(p.occurred_at is not None for p in pairs)
    return (arena_row(p, with_time=with_time) for p in pairs)


def _time(value: Any) -> str | None:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return format_time(float(value))
    return None


def row_to_pair(row: Row) -> Pair | None:
    """The decisive battle of one row as a pair (None for ties: a pair has a winner)."""
    winner = row.get("winner")
    if winner not in ("model_a", "model_b"):
        return None
    conv_a, conv_b = (
        messages_of(row.get("conversation_a"), "conversation_a"),
        messages_of(row.get("conversation_b"), "conversation_b"),
    )
    if not conv_a or not conv_b:
        raise ValueError("conversation_a and conversation_b: must not be empty")
    a_wins = winner == "model_a"
    winner_conv, loser_conv = (conv_a, conv_b) if a_wins else (conv_b, conv_a)
    system, prompt = split_system(conv_a[:-1], None)
    models = (str(row.get("model_a")), str(row.get("model_b")))
    return read_pair(
        prompt,
        system,
        winner_conv[-1]["content"],
        loser_conv[-1]["content"],
        chosen_model=models[0] if a_wins else models[1],
        rejected_model=models[1] if a_wins else models[0],
        occurred_at=_time(row.get("tstamp")),
        chosen_first=a_wins,
    )


def read_rows(rows: Iterable[Row]) -> Iterator[Pair]:
    for row in rows:
        pair = row_to_pair(row)
        if pair is not None:
            yield pair


SPEC: Final = register_format(
    FormatSpec(
        name="arena",
        kind="pairs",
        write_rows=write_rows,
        read_rows=read_rows,
        description="Chatbot Arena battles: question_id, model_a, model_b, winner, judge, "
        "conversation_a, conversation_b, turn, tstamp",
    )
)
