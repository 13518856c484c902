"""Schema checks: every row against the keys its trainer reads, for every format preflog writes.

:func:`row_problems` answers ``(check, message)`` pairs for one row, where ``check`` is

- ``schema`` — a key the trainer reads is missing or has the wrong type or value;
- ``roles`` — a chat role the trainer refuses (Axolotl's ``chat_template`` maps only ``system``,
  ``user``, ``assistant`` and ``tool`` — axolotl#3217; Vertex takes ``user``/``model``; ...);
- ``extra_columns`` — keys the trainer does not read (Axolotl passes them on and fails on them,
  axolotl#2415; elsewhere they are only noise).

Each format's rules are written from the layout its trainer documents (see docs/formats.md, which
cites the sources); preflog's own writers produce rows that pass them, and the tests hold one broken
row per rule.

>>> row_problems("nemo-rl", {"context": [{"role": "user", "content": "2+2?"}], "completions": [
...     {"rank": 0, "completion": [{"role": "assistant", "content": "4"}]},
...     {"rank": 0, "completion": [{"role": "assistant", "content": "5"}]}]})
[('schema', 'completions: the two ranks are equal (NeMo RL refuses ties)')]
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, Final, TypeAlias

from preflog.errors import ConfigError
from preflog.verify import layouts
from preflog.verify.rules import Problem, Problems, messages, number, reply, string

CHAT_ROLES: Final = frozenset({"system", "user", "assistant", "tool"})
AXOLOTL_ROLES: Final = CHAT_ROLES  # chat_template's default `roles` mapping
SHAREGPT_TAGS: Final = {
    "human": "user",
    "gpt": "assistant",
    "observation": "tool",
    "function_call": "assistant",
}
ARENA_WINNERS: Final = frozenset({"model_a", "model_b", "tie", "tie (bothbad)"})


# ---------------------------------------------------------------------------------------------- per format


def _trl(row: dict[str, Any]) -> Problems:
    prompt = row.get("prompt")
    chat = isinstance(prompt, list) or (prompt is None and isinstance(row.get("chosen"), list))
    if prompt is not None:
        yield from reply(prompt, "prompt", None, chat=chat)
    for key in ("chosen", "rejected"):
        yield from reply(row.get(key), key, None, chat=chat)


def _trl_reward(row: dict[str, Any]) -> Problems:
    yield from _trl(row)
    yield from number(row, "margin", optional=True)


def _trl_kto(row: dict[str, Any]) -> Problems:
    chat = isinstance(row.get("prompt"), list)
    yield from reply(row.get("prompt"), "prompt", None, chat=chat)
    yield from reply(row.get("completion"), "completion", None, chat=chat)
    if not isinstance(row.get("label"), bool):
        yield "schema", "label: must be true or false"


def _axolotl_reply(value: Any, path: str) -> Problems:
    if isinstance(value, str):
        return
    if isinstance(value, list):
        yield from messages(value, path, AXOLOTL_ROLES)
    elif isinstance(value, dict):
        yield from messages([value], path, AXOLOTL_ROLES)
    else:
        yield "schema", f"{path}: must be a string, a message or a list of messages"


def _axolotl(row: dict[str, Any]) -> Problems:
    turns = row.get("messages")
    if not isinstance(turns, str):
        yield from messages(turns, "messages", AXOLOTL_ROLES)
    for key in ("chosen", "rejected"):
        yield from _axolotl_reply(row.get(key), key)


def _chatml_intel(row: dict[str, Any]) -> Problems:
    for key in ("question", "chosen", "rejected"):
        yield from string(row, key)
    if "system" in row and not isinstance(row["system"], str):
        yield "schema", "system: must be a string"


def _openrlhf(row: dict[str, Any]) -> Problems:
    chat = isinstance(row.get("prompt"), list)  # --apply_chat_template renders prompt + chosen
    yield from reply(row.get("prompt"), "prompt", None, chat=chat)
    for key in ("chosen", "rejected"):
        yield from reply(row.get(key), key, None, chat=chat)
    yield from number(row, "margin", optional=True)


def _sharegpt_turn(turn: Any, path: str, expected: tuple[str, ...]) -> Problems:
    if not isinstance(turn, dict) or not isinstance(turn.get("value"), str):
        yield "schema", f"{path}: must be an object {{from, value}} with a string value"
        return
    tag = turn.get("from")
    if tag not in SHAREGPT_TAGS:
        yield "roles", f"{path}.from: {tag!r} is not one of {', '.join(SHAREGPT_TAGS)}"
    elif tag not in expected:
        yield "roles", f"{path}.from: {tag!r} where LLaMA-Factory wants {' or '.join(expected)}"


def _llamafactory(row: dict[str, Any]) -> Problems:
    turns = row.get("conversations")
    if not isinstance(turns, list) or not turns:
        yield "schema", "conversations: must be a non-empty list of {from, value}"
        return
    for i, turn in enumerate(turns):  # human/observation first, then alternating
        expected = ("human", "observation") if i % 2 == 0 else ("gpt", "function_call")
        yield from _sharegpt_turn(turn, f"conversations[{i}]", expected)
    if len(turns) % 2 == 0:
        yield "schema", "conversations: must end with a human (or observation) turn before the replies"
    for key in ("chosen", "rejected"):
        yield from _sharegpt_turn(row.get(key), key, ("gpt", "function_call"))
    yield from string(row, "system")


def _alpaca(row: dict[str, Any]) -> Problems:
    for key in ("instruction", "input", "system", "chosen", "rejected"):
        yield from string(row, key)
    history = row.get("history")
    if not isinstance(history, list) or not all(
        isinstance(h, list) and len(h) == 2 and all(isinstance(t, str) for t in h) for h in history
    ):
        yield "schema", "history: must be a list of [user, assistant] string pairs"


def _hh_rlhf(row: dict[str, Any]) -> Problems:
    for key in ("chosen", "rejected"):
        text = row.get(key)
        if not isinstance(text, str):
            yield "schema", f"{key}: must be a string"
        elif "\n\nAssistant:" not in text:
            yield "schema", f"{key}: no '\\n\\nAssistant:' turn"
    chosen, rejected = row.get("chosen"), row.get("rejected")
    if isinstance(chosen, str) and isinstance(rejected, str):
        head = chosen[: chosen.rfind("\n\nAssistant:")]
        if head != rejected[: rejected.rfind("\n\nAssistant:")]:
            yield "schema", "chosen, rejected: the transcripts differ before the last assistant turn"


def _conversation_pair(row: dict[str, Any], a: str, b: str) -> Problems:
    for key in (a, b):
        yield from messages(row.get(key), key, CHAT_ROLES)
        value = row.get(key)
        last = value[-1] if isinstance(value, list) and value else None
        if isinstance(last, dict) and last.get("role") != "assistant":
            yield "schema", f"{key}: must end with the assistant's reply"


def _ultrafeedback(row: dict[str, Any]) -> Problems:
    yield from string(row, "prompt")
    yield from string(row, "prompt_id")
    yield from _conversation_pair(row, "chosen", "rejected")
    yield from messages(row.get("messages"), "messages", CHAT_ROLES)
    yield from number(row, "score_chosen")
    yield from number(row, "score_rejected")
    chosen, rejected = row.get("chosen"), row.get("rejected")
    if isinstance(chosen, list) and isinstance(rejected, list) and chosen[:-1] != rejected[:-1]:
        yield "schema", "chosen, rejected: the conversations differ before the reply"


def _arena(row: dict[str, Any]) -> Problems:
    for key in ("question_id", "model_a", "model_b", "judge"):
        yield from string(row, key)
    if row.get("winner") not in ARENA_WINNERS:
        yield "schema", f"winner: must be one of {', '.join(sorted(ARENA_WINNERS))}"
    yield from _conversation_pair(row, "conversation_a", "conversation_b")
    if not isinstance(row.get("turn"), int) or isinstance(row.get("turn"), bool):
        yield "schema", "turn: must be an integer"


SchemaCheck: TypeAlias = Callable[[dict[str, Any]], Problems]


#: format → (the keys its trainer reads, checker). The key lists name what the trainer reads; a
#: key outside them is an extra column.
SCHEMAS: Final[dict[str, tuple[frozenset[str], SchemaCheck]]] = {
    "trl": (frozenset({"prompt", "chosen", "rejected", "tools", "chat_template_kwargs"}), _trl),
    "trl-reward": (
        frozenset({"prompt", "chosen", "rejected", "margin", "tools", "chat_template_kwargs"}),
        _trl_reward,
    ),
    "trl-kto": (frozenset({"prompt", "completion", "label", "tools", "chat_template_kwargs"}), _trl_kto),
    "axolotl": (frozenset({"messages", "chosen", "rejected"}), _axolotl),
    "axolotl-chatml-intel": (frozenset({"system", "question", "chosen", "rejected"}), _chatml_intel),
    "openrlhf": (frozenset({"prompt", "chosen", "rejected", "margin"}), _openrlhf),
    "llamafactory": (frozenset({"conversations", "system", "chosen", "rejected", "tools"}), _llamafactory),
    "llamafactory-alpaca": (
        frozenset({"instruction", "input", "system", "history", "chosen", "rejected"}),
        _alpaca,
    ),
    "hh-rlhf": (frozenset({"chosen", "rejected"}), _hh_rlhf),
    "ultrafeedback": (
        frozenset(
            {"prompt", "prompt_id", "chosen", "rejected", "messages", "score_chosen", "score_rejected"}
        ),
        _ultrafeedback,
    ),
    "arena": (
        frozenset(
            {
                "question_id",
                "model_a",
                "model_b",
                "winner",
                "judge",
                "conversation_a",
                "conversation_b",
                "turn",
                "tstamp",
            }
        ),
        _arena,
    ),
    "openai-dpo": (frozenset({"input", "preferred_output", "non_preferred_output"}), layouts.openai_dpo),
    "vertex": (frozenset({"system_instruction", "contents", "completions"}), layouts.vertex),
    "nemo-rl": (frozenset({"context", "completions"}), layouts.nemo_rl),
}

#: Formats whose trainer fails on a column it does not read (axolotl#2415); elsewhere extra
#: columns are a warning.
STRICT_COLUMNS: Final = frozenset({"axolotl", "axolotl-chatml-intel"})


def row_problems(fmt: str, row: dict[str, Any]) -> list[Problem]:
    """Every problem of ``row`` as a row of ``fmt`` (see the module docstring)."""
    keys, check = SCHEMAS[fmt]
    problems = list(check(row))
    extra = sorted(set(row) - keys)
    if extra:
        problems.append(("extra_columns", f"{', '.join(extra)}: not read by the trainer"))
    return problems


def guess_format(columns: Iterable[str]) -> str:
    """The format whose keys ``columns`` are (for a directory without a manifest)."""
    have = frozenset(columns)
    if {"label", "completion"} <= have:
        return "trl-kto"
    if "margin" in have and "prompt" in have and not have - SCHEMAS["trl-reward"][0]:
        return "trl-reward"
    for name, (keys, _check) in SCHEMAS.items():
        if have and have <= keys and _required(name) <= have:
            return name
    raise ConfigError(f"no known format has the columns {sorted(have)}")


def _required(fmt: str) -> frozenset[str]:
    optional = {"prompt", "tools", "chat_template_kwargs", "margin", "system", "system_instruction", "tstamp"}
    return SCHEMAS[fmt][0] - optional


__all__ = ["SCHEMAS", "STRICT_COLUMNS", "Problem", "guess_format", "row_problems"]
