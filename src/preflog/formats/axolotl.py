"""Axolotl DPO datasets, two shapes (``rl: dpo`` with ``datasets: - type: ...``):

- ``axolotl`` — ``type: chat_template.default``: ``{"messages": [chat messages, system first when
  there is one], "chosen": {"role": "assistant", "content": ...}, "rejected": {...}}``. Any prompt
  fits: strings become one user message.
- ``axolotl-chatml-intel`` — ``type: chatml.intel``: ``{"system": str, "question": str, "chosen":
  str, "rejected": str}`` (``system`` is ``""`` when there is none; Axolotl skips an empty one). It
  holds single-turn prompts only; a file with a multi-turn prompt is refused with a pointer to
  ``axolotl``.

>>> from preflog.records import Pair
>>> p = Pair(prompt="2+2?", system="Be brief.", chosen="4", rejected="5", request_id="r1",
...          chosen_id="a", rejected_id="b", chosen_model="m1", rejected_model="m2")
>>> chat_template_row(p)["messages"]
[{'role': 'system', 'content': 'Be brief.'}, {'role': 'user', 'content': '2+2?'}]
>>> intel_row(p)
{'system': 'Be brief.', 'question': '2+2?', 'chosen': '4', 'rejected': '5'}
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Any, Final

from preflog.errors import ConfigError
from preflog.formats._readback import messages_of, read_pair, split_system
from preflog.formats.base import FormatSpec, Row, register_format, text_reply
from preflog.records import Pair, Prompt, any_conversational, as_messages

# ---------------------------------------------------------------------------------------------- chat_template


def chat_template_row(pair: Pair) -> Row:
    return {
        "messages": as_messages(pair.prompt, pair.system),
        "chosen": {"role": "assistant", "content": text_reply(pair.chosen, "axolotl")},
        "rejected": {"role": "assistant", "content": text_reply(pair.rejected, "axolotl")},
    }


def write_chat_template(pairs: Sequence[Pair]) -> Iterator[Row]:
    return (chat_template_row(p) for p in pairs)


def _reply(value: Any, key: str) -> str:
    """A reply as Axolotl accepts it: a string, a message, or a list ending with the message."""
    if isinstance(value, str):
        return value
    if isinstance(value, list) and value:
        value = value[-1]
    if isinstance(value, dict) and isinstance(value.get("content"), str):
        return str(value["content"])
    raise ValueError(f"{key}: must be a string or an assistant message")


def chat_template_pair(row: Row) -> Pair:
    messages = row.get("messages")
    prompt: Prompt = messages if isinstance(messages, str) else messages_of(messages, "messages")
    system, prompt = split_system(prompt, None)
    return read_pair(
        prompt, system, _reply(row.get("chosen"), "chosen"), _reply(row.get("rejected"), "rejected")
    )


def read_chat_template(rows: Iterable[Row]) -> Iterator[Pair]:
    return (chat_template_pair(row) for row in rows)


# ---------------------------------------------------------------------------------------------- chatml.intel


def single_turn(pair: Pair) -> tuple[str | None, str] | None:
    """``(system, question)`` of a single-turn prompt, else None."""
    system, prompt = split_system(pair.prompt, pair.system)
    if isinstance(prompt, str):
        return system, prompt
    if len(prompt) == 1 and prompt[0]["role"] == "user":
        return system, prompt[0]["content"]
    return None


def intel_row(pair: Pair) -> Row:
    turn = single_turn(pair)
    if turn is None:
        raise ConfigError("axolotl-chatml-intel holds single-turn prompts only; use --format axolotl")
    system, question = turn
    return {
        "system": system or "",
        "question": question,
        "chosen": text_reply(pair.chosen, "axolotl-chatml-intel"),
        "rejected": text_reply(pair.rejected, "axolotl-chatml-intel"),
    }


def write_intel(pairs: Sequence[Pair]) -> Iterator[Row]:
    if any_conversational(pairs):
        multi = sum(single_turn(p) is None for p in pairs)
        if multi:
            raise ConfigError(
                f"axolotl-chatml-intel holds single-turn prompts only, and {multi} pair(s) have a "
                "multi-turn prompt; use --format axolotl (chat_template.default)"
            )
    return (intel_row(p) for p in pairs)


def intel_pair(row: Row) -> Pair:
    question, chosen, rejected = row.get("question"), row.get("chosen"), row.get("rejected")
    if not all(isinstance(v, str) for v in (question, chosen, rejected)):
        raise ValueError("a chatml.intel row needs the strings question, chosen and rejected")
    system = row.get("system")
    return read_pair(
        str(question), system if isinstance(system, str) and system else None, str(chosen), str(rejected)
    )


def read_intel(rows: Iterable[Row]) -> Iterator[Pair]:
    return (intel_pair(row) for row in rows)


CHAT_TEMPLATE: Final = register_format(
    FormatSpec(
        name="axolotl",
        kind="pairs",
        write_rows=write_chat_template,
        read_rows=read_chat_template,
        description="Axolotl DPO, type chat_template.default: messages, chosen and rejected messages",
    )
)
CHATML_INTEL: Final = register_format(
    FormatSpec(
        name="axolotl-chatml-intel",
        kind="pairs",
        write_rows=write_intel,
        read_rows=read_intel,
        description="Axolotl DPO, type chatml.intel: system, question, chosen, rejected (single-turn)",
    )
)
