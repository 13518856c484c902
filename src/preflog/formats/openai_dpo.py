"""``openai-dpo``: OpenAI preference fine-tuning JSONL (``method: dpo``); Together and Fireworks
read the same fields. One row per pair:

``{"input": {"messages": [...], "tools": [], "parallel_tool_calls": true},
"preferred_output": [one assistant message], "non_preferred_output": [one assistant message]}``

- ``input.messages``: the prompt as chat messages, the system prompt first; it must end with a user
  turn (OpenAI trains one-turn preference examples), so an item whose prompt ends otherwise is
  dropped as ``unsupported_last_turn``. Tool calls and tool turns are written in the OpenAI shape
  they were logged in (``function.arguments`` a JSON string; a tool turn's ``tool_call_id``).
- ``input.tools``: ``[]``: preflog's events record the calls a model made, not the tool
  definitions it was given; add yours before uploading tool-calling examples.
- ``input.parallel_tool_calls``: ``true``, OpenAI's default.
- ``preferred_output`` / ``non_preferred_output``: one assistant message each, with its
  ``tool_calls`` and ``refusal`` when it has them. A multi-message continuation does not fit one
  message: dropped as ``unsupported_continuation``.

>>> from preflog.records import Pair
>>> p = Pair(prompt="2+2?", system="Be brief.", chosen="4", rejected="5", request_id="r1",
...          chosen_id="a", rejected_id="b", chosen_model="m1", rejected_model="m2")
>>> openai_row(p)["input"]["messages"]
[{'role': 'system', 'content': 'Be brief.'}, {'role': 'user', 'content': '2+2?'}]
>>> openai_row(p)["preferred_output"]
[{'role': 'assistant', 'content': '4'}]
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Any, Final

from preflog.formats._chat import read_messages, read_reply
from preflog.formats._readback import read_pair, split_system
from preflog.formats.base import FormatSpec, Row, register_format
from preflog.records import REFUSAL, TOOL_CALLS, Message, Pair, Prompt, Reply, as_messages, reply_messages

LAST_TURN_ROLE: Final = "user"


def last_turn_refusal(prompt: Prompt, system: str | None) -> str | None:
    """``unsupported_last_turn`` when the prompt does not end with a user turn, else None (shared
    by the formats whose trainers take one-turn examples: ``openai-dpo``, ``vertex``).

    >>> last_turn_refusal([{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Yo"}], None)
    'unsupported_last_turn'
    """
    if isinstance(prompt, str):
        return None
    return None if prompt and prompt[-1].get("role") == LAST_TURN_ROLE else "unsupported_last_turn"


def _openai_message(m: Message) -> Message:
    """A logged message as OpenAI's chat format takes it: a tool turn has no ``name``."""
    return {k: v for k, v in m.items() if not (k == "name" and m.get("role") == "tool")}


def _output(reply: Reply) -> list[Message]:
    messages = reply_messages(reply)
    if len(messages) != 1:
        raise ValueError("openai-dpo takes single-turn replies: one assistant message (compile drops others)")
    return [_openai_message(messages[0])]


def openai_row(pair: Pair) -> Row:
    messages = [_openai_message(m) for m in as_messages(pair.prompt, pair.system)]
    return {
        "input": {"messages": messages, "tools": [], "parallel_tool_calls": True},
        "preferred_output": _output(pair.chosen),
        "non_preferred_output": _output(pair.rejected),
    }


def write_rows(pairs: Sequence[Pair]) -> Iterator[Row]:
    return (openai_row(p) for p in pairs)


def _named_tool_turns(messages: list[Message]) -> list[Message]:
    """Tool turns given back the ``name`` OpenAI's shape leaves out: the function of the call they
    answer (``tool_call_id``), so a row reads back as the prompt logged."""
    names = {
        call.get("id"): (call.get("function") or {}).get("name")
        for m in messages
        for call in m.get("tool_calls") or ()
        if isinstance(call, dict)
    }
    for m in messages:
        name = names.get(m.get("tool_call_id"))
        if m.get("role") == "tool" and "name" not in m and isinstance(name, str):
            m["name"] = name
    return messages


def _one(value: Any, key: str) -> Reply:
    if not isinstance(value, list) or len(value) != 1:
        raise ValueError(f"{key}: must be a list of exactly one assistant message")
    return read_reply(value, key)


def row_to_pair(row: Row) -> Pair:
    given = row.get("input")
    if not isinstance(given, dict):
        raise ValueError("input: must be an object {messages, tools, parallel_tool_calls}")
    messages = _named_tool_turns(read_messages(given.get("messages"), "input.messages"))
    system, prompt = split_system(messages, None)
    chosen = _one(row.get("preferred_output"), "preferred_output")
    rejected = _one(row.get("non_preferred_output"), "non_preferred_output")
    return read_pair(prompt, system, chosen, rejected)


def read_rows(rows: Iterable[Row]) -> Iterator[Pair]:
    return (row_to_pair(row) for row in rows)


SPEC: Final = register_format(
    FormatSpec(
        name="openai-dpo",
        kind="pairs",
        write_rows=write_rows,
        read_rows=read_rows,
        description="OpenAI preference fine-tuning (also Together, Fireworks): input.messages, "
        "preferred_output, non_preferred_output",
        carries=frozenset({TOOL_CALLS, REFUSAL}),
        refuses=last_turn_refusal,
    )
)
