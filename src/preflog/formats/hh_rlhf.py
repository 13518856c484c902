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
from preflog.records import Message, Pair, Prompt

ASSISTANT: Final = "\n\nAssistant:"
HUMAN: Final = "\n\nHuman:"
_TURN: Final = re.compile(r"\n\n(Human|Assistant):")
_SPEAKER: Final = {"user": "Human", "assistant": "Assistant", "tool": "Human", "system": "Human"}
_ROLE: Final = {"Human": "user", "Assistant": "assistant"}


def render_transcript(system: str | None, prompt: Prompt, output: str) -> str:
    """The transcript of ``prompt`` followed by the assistant's ``output``.

    >>> render_transcript("Be kind.", "Hi", "Hello")
    'Be kind.\\n\\nHuman: Hi\\n\\nAssistant: Hello'
    """
    if isinstance(prompt, str):
        head = prompt if prompt.startswith((HUMAN, ASSISTANT)) else f"{HUMAN} {prompt}"
    else:
        messages = list(prompt)
        if messages and messages[0]["role"] == "system" and system is None:
            system, messages = messages[0]["content"], messages[1:]
        head = "".join(f"\n\n{_SPEAKER.get(m['role'], 'Human')}: {m['content']}" for m in messages)
    return f"{system or ''}{head}{ASSISTANT} {output}"


def parse_transcript(text: str) -> tuple[str | None, Prompt, str]:
    """``(system, prompt, output)`` of a transcript split at its last ``\\n\\nAssistant:``.

    The prompt is chat messages when they render back to exactly the same text (every turn
    non-empty and introduced by ``Speaker: ``), else the raw turns before the last assistant turn
    (a string starting with ``\\n\\nHuman:``). Text before the first turn is the system prompt.
    Raises ValueError when there is no assistant turn or no human turn before it.
    """
    cut = text.rfind(ASSISTANT)
    if cut < 0:
        raise ValueError("no '\\n\\nAssistant:' turn")
    head, tail = text[:cut], text[cut + len(ASSISTANT) :]
    output = tail[1:] if tail.startswith(" ") else tail
    parts = _TURN.split(head)
    if len(parts) < 3:
        raise ValueError("no '\\n\\nHuman:' turn before the last assistant turn")
    system = parts[0] or None
    messages: list[Message] = [
        {"role": _ROLE[speaker], "content": chunk[1:] if chunk.startswith(" ") else chunk}
        for speaker, chunk in zip(parts[1::2], parts[2::2], strict=True)
    ]
    exact = all(m["content"].strip() for m in messages) and render_transcript(system, messages, "") == (
        head + ASSISTANT + " "
    )
    if exact:
        return system, messages, output
    return system, head[len(parts[0]) :], output


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
    """A pair from one HH-RLHF row; ValueError when the transcripts do not share their prompt."""
    chosen, rejected = row.get("chosen"), row.get("rejected")
    if not isinstance(chosen, str) or not isinstance(rejected, str):
        raise ValueError("an HH-RLHF row needs the strings 'chosen' and 'rejected'")
    system, prompt, chosen_text = parse_transcript(chosen)
    other_system, other_prompt, rejected_text = parse_transcript(rejected)
    if (system, prompt) != (other_system, other_prompt):
        raise ValueError("chosen and rejected differ before their last assistant turn")
    return read_pair(prompt, system, chosen_text, rejected_text)


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
    )
)

__all__ = ["SPEC", "pair_to_row", "parse_transcript", "read_rows", "render_transcript", "row_to_pair"]
