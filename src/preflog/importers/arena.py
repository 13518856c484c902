"""Chatbot Arena battle rows → an inference (the two replies) and one preference (the vote).

Input (``lmsys/chatbot_arena_conversations``, ``lmsys/mt_bench_human_judgments``): ``question_id``,
``model_a``, ``model_b``, ``winner`` (``model_a | model_b | tie | tie (bothbad)``), ``judge``,
``conversation_a``/``conversation_b`` (chat messages), ``turn``, ``anony``, ``language``, ``tstamp``.

- The judged turn is ``turn`` (1-based; default the last): each conversation is cut after its
  ``turn``-th assistant message. The prompt is conversation A before that reply; the candidates are
  the two replies, ``a`` (``model_a``) and ``b`` (``model_b``), presented in that order (model A was
  shown first). When conversation B's earlier turns differ from A's (a multi-turn battle), B's own
  context is kept in candidate ``b``'s ``metadata.context``.
- The request id is a UUID version 5 over ``question_id``, the models and the cut conversations:
  rows sharing them are one request judged several times, and every row is one preference
  (source ``human``, id ``judge``). Its time is ``tstamp`` (Unix seconds).
- ``tie`` → ``outcome: tie``, ``tie (bothbad)`` → ``outcome: both_bad``.

>>> row = {"question_id": "q1", "model_a": "m1", "model_b": "m2", "winner": "model_b", "judge": "j1",
...        "conversation_a": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Yo"}],
...        "conversation_b": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello"}],
...        "tstamp": 1700000000.0}
>>> inference, vote = arena_events(row, ImportOptions())
>>> vote["chosen"], vote["rejected"], vote["presented"], vote["occurred_at"]
('b', 'a', ['a', 'b'], '2023-11-14T22:13:20.000000Z')
"""

from __future__ import annotations

from typing import Any, Final

from preflog.errors import ValidationError
from preflog.importers.base import (
    Event,
    ImportOptions,
    Message,
    Row,
    candidate,
    messages_field,
    optional_text,
    split_last_assistant,
    split_system,
    stable_id,
    text_field,
    unix_time,
)

WINNERS: Final = ("model_a", "model_b", "tie", "tie (bothbad)")
PRESENTED: Final = ["a", "b"]


def judged_turn(row: Row) -> int | None:
    turn = row.get("turn")
    if turn is None:
        return None
    if isinstance(turn, bool) or not isinstance(turn, int) or turn < 1:
        raise ValidationError("must be a positive integer", path="turn")
    return turn


def cut_at_turn(messages: list[Message], turn: int | None, path: str) -> list[Message]:
    """The conversation up to and including its ``turn``-th assistant message (all when None).

    >>> m = [{"role": r, "content": c} for r, c in (("user", "1"), ("assistant", "2"),
    ...                                             ("user", "3"), ("assistant", "4"))]
    >>> [x["content"] for x in cut_at_turn(m, 1, "c")]
    ['1', '2']
    """
    if turn is None:
        return messages
    seen = 0
    for i, message in enumerate(messages):
        if message["role"] == "assistant":
            seen += 1
            if seen == turn:
                return messages[: i + 1]
    raise ValidationError(f"has {seen} assistant turns, fewer than turn {turn}", path=path)


def _preference_form(winner: str) -> dict[str, Any]:
    if winner == "model_a":
        return {"chosen": "a", "rejected": "b"}
    if winner == "model_b":
        return {"chosen": "b", "rejected": "a"}
    return {"outcome": "tie" if winner == "tie" else "both_bad", "candidates": list(PRESENTED)}


def _inference_metadata(row: Row, question_id: str, turn: int | None) -> dict[str, Any]:
    out: dict[str, Any] = {"imported_from": "arena", "question_id": question_id}
    if turn is not None:
        out["turn"] = turn
    language = optional_text(row, "language")
    if language is not None:
        out["language"] = language
    if isinstance(row.get("anony"), bool):
        out["anony"] = row["anony"]
    return out


def arena_events(row: Row, options: ImportOptions) -> list[Event]:
    question_id = optional_text(row, "question_id")
    if question_id is None:
        raise ValidationError("required", path="question_id")
    model_a, model_b = text_field(row, "model_a"), text_field(row, "model_b")
    winner = row.get("winner")
    if winner not in WINNERS:
        raise ValidationError(f"must be one of {', '.join(WINNERS)}, got {winner!r}", path="winner")
    turn = judged_turn(row)
    conv_a = cut_at_turn(messages_field(row.get("conversation_a"), "conversation_a"), turn, "conversation_a")
    conv_b = cut_at_turn(messages_field(row.get("conversation_b"), "conversation_b"), turn, "conversation_b")
    context_a, reply_a = split_last_assistant(conv_a, "conversation_a")
    context_b, reply_b = split_last_assistant(conv_b, "conversation_b")
    system, prompt = split_system(context_a)
    if not prompt:
        raise ValidationError("no user message before the assistant's reply", path="conversation_a")
    occurred_at = unix_time(row.get("tstamp"), "tstamp") or options.occurred_at
    request_id = stable_id(
        "arena",
        "request",
        {"question_id": question_id, "models": [model_a, model_b], "a": conv_a, "b": conv_b},
    )
    cand_b = candidate("b", reply_b, model_b)
    if context_b != context_a:
        cand_b["metadata"] = {"context": context_b}
    inference: Event = {
        "event_id": stable_id("arena", "inference", request_id),
        "type": "inference",
        "request_id": request_id,
        "occurred_at": occurred_at,
        "prompt": prompt,
        "candidates": [candidate("a", reply_a, model_a), cand_b],
        "presented": list(PRESENTED),
        "metadata": _inference_metadata(row, question_id, turn),
    }
    if system is not None:
        inference["system"] = system
    judge = optional_text(row, "judge")
    preference: Event = {
        "event_id": stable_id(
            "arena", "preference", request_id, {"winner": winner, "judge": judge, "tstamp": row.get("tstamp")}
        ),
        "type": "preference",
        "request_id": request_id,
        "occurred_at": occurred_at,
        **_preference_form(str(winner)),
        "source": options.source("human", judge),
        "presented": list(PRESENTED),
    }
    if options.criterion:
        preference["criterion"] = options.criterion
    return [inference, preference]
