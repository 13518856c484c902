"""Anthropic HH-RLHF transcripts: ``{"chosen": "\\n\\nHuman: ...\\n\\nAssistant: ...", "rejected": ...}``.

Both transcripts hold the whole conversation; they share everything up to the last
``\\n\\nAssistant:`` and differ in the reply after it. Chat prompts are rendered turn by turn
(``user`` → ``Human``, ``assistant`` → ``Assistant``) and a system prompt goes before the first
``\\n\\nHuman:``, as in Anthropic's text-completion format. A string prompt is one human turn,
unless it already is a transcript (it then starts with ``\\n\\nHuman:``) and is kept verbatim.

:func:`parse_transcript` and :func:`render_transcript` are inverses: an HH-RLHF row parsed and
rendered again is byte-equal. That is what lets ``preflog import hh-rlhf`` and ``--format hh-rlhf``
round-trip.

>>> t = "\\n\\nHuman: Hi\\n\\nAssistant: Hello!"
>>> parse_transcript(t)
(None, [{'role': 'user', 'content': 'Hi'}], 'Hello!')
>>> render_transcript(*parse_transcript(t)) == t
True
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Sequence
from typing import Final

from preflog.formats._readback import read_pair
from preflog.formats.base import FormatSpec, Row, register_format
from preflog.records import CONTINUATION, Message, Pair, Prompt, Reply

ASSISTANT: Final = "\n\nAssistant:"
HUMAN: Final = "\n\nHuman:"
_TURN: Final = re.compile(r"\n\n(Human|Assistant):")
_SPEAKER: Final = {"user": "Human", "assistant": "Assistant", "tool": "Human", "system": "Human"}
_ROLE: Final = {"Human": "user", "Assistant": "assistant"}


def render_transcript(system: str | None, prompt: Prompt, reply: Reply) -> str:
    """The transcript of ``prompt`` followed by the assistant's ``reply`` (a text, or the turns
    of a multi-turn continuation).

    >>> render_transcript("Be kind.", "Hi", "Hello")
    'Be kind.\\n\\nHuman: Hi\\n\\nAssistant: Hello'
    """
    if isinstance(prompt, str):
        head = prompt if prompt.startswith((HUMAN, ASSISTANT)) else f"{HUMAN} {prompt}"
    else:
        messages = list(prompt)
        if messages and messages[0]["role"] == "system" and system is None:
            system, messages = messages[0]["content"], messages[1:]
        head = _render_turns(messages)
    tail = f"{ASSISTANT} {reply}" if isinstance(reply, str) else _render_turns(_text_turns(reply))
    return f"{system or ''}{head}{tail}"


def _text_turns(reply: Sequence[Message]) -> Sequence[Message]:
    """A continuation's turns, when a transcript can hold them: human and assistant text only."""
    for m in reply:
        if m["role"] not in _ROLE.values() or set(m) != {"role", "content"}:
            raise ValueError("hh-rlhf: holds text replies only (human and assistant turns), no tool calls")
    return reply


def _render_turns(messages: Sequence[Message]) -> str:
    return "".join(f"\n\n{_SPEAKER.get(m['role'], 'Human')}: {m['content']}" for m in messages)


def _split_turns(text: str) -> tuple[str, list[tuple[str, str]]]:
    """``(text before the first turn, [(speaker, raw text after "Speaker:"), ...])``."""
    parts = _TURN.split(text)
    return parts[0], list(zip(parts[1::2], parts[2::2], strict=True))


def _messages(turns: Sequence[tuple[str, str]]) -> list[Message]:
    return [
        {"role": _ROLE[speaker], "content": chunk[1:] if chunk.startswith(" ") else chunk}
        for speaker, chunk in turns
    ]


def _prompt_of(head: str) -> tuple[str | None, Prompt]:
    """The system prompt and prompt of the turns ``head`` (which end before an assistant turn):
    chat messages when they render back to exactly ``head`` (every turn non-empty and introduced by
    ``Speaker: ``), else the raw turns (a string starting with ``\\n\\nHuman:``)."""
    before, turns = _split_turns(head)
    if not turns:
        raise ValueError("no '\\n\\nHuman:' turn before the assistant's reply")
    system = before or None
    messages = _messages(turns)
    if all(m["content"].strip() for m in messages) and (system or "") + _render_turns(messages) == head:
        return system, messages
    return system, head[len(before) :]


def parse_transcript(text: str) -> tuple[str | None, Prompt, str]:
    """``(system, prompt, output)`` of a transcript split at its last ``\\n\\nAssistant:``.

    The prompt is chat messages when they render back to exactly the same text, else the raw turns
    before the last assistant turn (see :func:`_prompt_of`). Text before the first turn is the
    system prompt. Raises ValueError when there is no assistant turn or no human turn before it.
    """
    cut = text.rfind(ASSISTANT)
    if cut < 0:
        raise ValueError("no '\\n\\nAssistant:' turn")
    tail = text[cut + len(ASSISTANT) :]
    system, prompt = _prompt_of(text[:cut])
    return system, prompt, tail[1:] if tail.startswith(" ") else tail


def parse_pair(chosen: str, rejected: str) -> tuple[str | None, Prompt, Reply, Reply]:
    """``(system, prompt, chosen reply, rejected reply)`` of one HH-RLHF row.

    Usually the two transcripts share everything up to their last ``\\n\\nAssistant:`` and the
    replies are the texts after it. When they part earlier, the prompt is the turns they share up
    to the last human turn before they part, and each reply is the rest of its transcript as a
    multi-turn continuation (assistant, human, ..., assistant messages). Raises ValueError when they
    share no human turn, or when a continuation would not render back to the same bytes.

    >>> parse_pair("\\n\\nHuman: Hi\\n\\nAssistant: Yo\\n\\nHuman: ?\\n\\nAssistant: !",
    ...            "\\n\\nHuman: Hi\\n\\nAssistant: Hello")[3]
    'Hello'
    """
    system, prompt, chosen_text = parse_transcript(chosen)
    other_system, other_prompt, rejected_text = parse_transcript(rejected)
    if (system, prompt) == (other_system, other_prompt):
        return system, prompt, chosen_text, rejected_text
    before, turns = _split_turns(chosen)
    other_before, other_turns = _split_turns(rejected)
    k = 0
    if before == other_before:
        while k < min(len(turns), len(other_turns)) - 1 and turns[k] == other_turns[k]:
            k += 1
    while k > 0 and not (turns[k - 1][0] == "Human" and turns[k][0] == other_turns[k][0] == "Assistant"):
        k -= 1
    if k == 0:
        raise ValueError("chosen and rejected share no human turn before their replies")
    head = before + "".join(f"\n\n{speaker}:{chunk}" for speaker, chunk in turns[:k])
    system, prompt = _prompt_of(head)
    replies = [_continuation(t[k:], text) for t, text in ((turns, chosen), (other_turns, rejected))]
    return system, prompt, replies[0], replies[1]


def _continuation(turns: Sequence[tuple[str, str]], text: str) -> Reply:
    messages = _messages(turns)
    if not text.endswith(_render_turns(messages)):
        raise ValueError("a reply's turns do not render back to the same text")
    return messages[0]["content"] if len(messages) == 1 else messages


# ---------------------------------------------------------------------------------------------- rows


def pair_to_row(pair: Pair) -> Row:
    """One HH-RLHF row: the two full transcripts."""
    return {
        "chosen": render_transcript(pair.system, pair.prompt, pair.chosen),
        "rejected": render_transcript(pair.system, pair.prompt, pair.rejected),
    }


def write_rows(pairs: Sequence[Pair]) -> Iterator[Row]:
    for pair in pairs:
        yield pair_to_row(pair)


def row_to_pair(row: Row) -> Pair:
    """A pair from one HH-RLHF row (see :func:`parse_pair`); ValueError when it is not one."""
    chosen, rejected = row.get("chosen"), row.get("rejected")
    if not isinstance(chosen, str) or not isinstance(rejected, str):
        raise ValueError("an HH-RLHF row needs the strings 'chosen' and 'rejected'")
    system, prompt, chosen_reply, rejected_reply = parse_pair(chosen, rejected)
    return read_pair(prompt, system, chosen_reply, rejected_reply)


def read_rows(rows: Iterable[Row]) -> Iterator[Pair]:
    for row in rows:
        yield row_to_pair(row)


SPEC: Final = register_format(
    FormatSpec(
        name="hh-rlhf",
        kind="pairs",
        write_rows=write_rows,
        read_rows=read_rows,
        description="Anthropic HH-RLHF transcripts: chosen and rejected as whole "
        "'\\n\\nHuman: ...\\n\\nAssistant: ...' conversations",
        carries=frozenset({CONTINUATION}),
    )
)

__all__ = [
    "SPEC",
    "pair_to_row",
    "parse_pair",
    "parse_transcript",
    "read_rows",
    "render_transcript",
    "row_to_pair",
]
