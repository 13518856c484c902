"""UltraFeedback-binarized (``HuggingFaceH4/ultrafeedback_binarized``): ``prompt`` (the last user
turn), ``prompt_id`` (SHA-256 of ``prompt``, as H4 computes it), ``chosen`` and ``rejected`` (the
whole conversation as chat messages, ending with the reply), ``messages`` (a copy of ``chosen``),
``score_chosen`` and ``score_rejected`` (floats).

Scores: a pair that carries the two candidates' scores (``chosen_score``/``rejected_score``, e.g.
imported from UltraFeedback) writes them. A pair knows only the gap otherwise, so ``score_rejected``
is 0.0 and ``score_chosen`` the margin (1.0 when the pair has none): the difference is right, the
absolute values are not ratings.

>>> from preflog.records import Pair
>>> p = Pair(prompt="2+2?", system=None, chosen="4", rejected="5", request_id="r1",
...          chosen_id="a", rejected_id="b", chosen_model="m1", rejected_model="m2", margin=2.0)
>>> row = ultrafeedback_row(p)
>>> row["chosen"], row["score_chosen"], row["score_rejected"]
([{'role': 'user', 'content': '2+2?'}, {'role': 'assistant', 'content': '4'}], 2.0, 0.0)
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator, Sequence
from typing import Any, Final

from preflog.formats._readback import messages_of, read_pair, split_system
from preflog.formats.base import FormatSpec, Row, register_format, text_reply
from preflog.records import Pair, as_messages, last_user_text


def prompt_id(prompt: str) -> str:
    return hashlib.sha256(prompt.encode("utf-8")).hexdigest()


def _scores(pair: Pair) -> tuple[float, float]:
    chosen, rejected = getattr(pair, "chosen_score", None), getattr(pair, "rejected_score", None)
    if isinstance(chosen, int | float) and isinstance(rejected, int | float):
        return float(chosen), float(rejected)
    return (float(pair.margin) if pair.margin is not None else 1.0), 0.0


def ultrafeedback_row(pair: Pair) -> Row:
    messages = as_messages(pair.prompt, pair.system)
    text = last_user_text(pair.prompt)
    chosen = [*messages, {"role": "assistant", "content": text_reply(pair.chosen, "ultrafeedback")}]
    score_chosen, score_rejected = _scores(pair)
    return {
        "prompt": text,
        "prompt_id": prompt_id(text),
        "chosen": chosen,
        "rejected": [*messages, {"role": "assistant", "content": text_reply(pair.rejected, "ultrafeedback")}],
        "messages": [dict(m) for m in chosen],
        "score_chosen": score_chosen,
        "score_rejected": score_rejected,
    }


def write_rows(pairs: Sequence[Pair]) -> Iterator[Row]:
    return (ultrafeedback_row(p) for p in pairs)


def _split(value: Any, key: str) -> tuple[list[dict[str, str]], str]:
    messages = messages_of(value, key)
    if not messages or messages[-1]["role"] != "assistant":
        raise ValueError(f"{key}: must end with an assistant message")
    return messages[:-1], messages[-1]["content"]


def row_to_pair(row: Row) -> Pair:
    prompt, chosen = _split(row.get("chosen"), "chosen")
    other, rejected = _split(row.get("rejected"), "rejected")
    if prompt != other:
        raise ValueError("rejected: differs from chosen before the last assistant message")
    system, rest = split_system(prompt, None)
    score_chosen, score_rejected = row.get("score_chosen"), row.get("score_rejected")
    margin = None
    if isinstance(score_chosen, int | float) and isinstance(score_rejected, int | float):
        margin = float(score_chosen) - float(score_rejected)
    text = row.get("prompt")
    return read_pair(rest or (text if isinstance(text, str) else ""), system, chosen, rejected, margin=margin)


def read_rows(rows: Iterable[Row]) -> Iterator[Pair]:
    return (row_to_pair(row) for row in rows)


SPEC: Final = register_format(
    FormatSpec(
        name="ultrafeedback",
        kind="pairs",
        write_rows=write_rows,
        read_rows=read_rows,
        description="UltraFeedback-binarized: prompt, prompt_id, chosen, rejected, messages, "
        "score_chosen, score_rejected",
    )
)
