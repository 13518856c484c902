"""A row as its trainer reads it, for the template checks: an :class:`Example` holds the prompt
(chat messages, or text for standard rows), the completions (chosen then rejected, or the one KTO
completion) and the tool definitions, in the shapes the trainer hands to the chat template.

Formats the chat template never sees have no view: ``openai-dpo`` and ``vertex`` are trained by the
hosted service with its own tokenizer, ``axolotl-chatml-intel`` is rendered by Axolotl's fixed
ChatML builder, and ``arena`` is not a training format.

>>> ex = example_of("nemo-rl", {"context": [{"role": "user", "content": "2+2?"}], "completions": [
...     {"rank": 1, "completion": [{"role": "assistant", "content": "5"}]},
...     {"rank": 0, "completion": [{"role": "assistant", "content": "4"}]}]})
>>> [c[0]["content"] for c in ex.completions]
['4', '5']
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final, TypeAlias

from preflog.verify.schemas import SHAREGPT_TAGS

Message: TypeAlias = dict[str, Any]
Turns: TypeAlias = str | list[Message]


@dataclass(frozen=True)
class Example:
    prompt: Turns
    completions: tuple[Turns, ...]
    tools: list[dict[str, Any]] | None = None

    @property
    def conversational(self) -> bool:
        return isinstance(self.prompt, list)


def _as_list(value: Any) -> list[Message]:
    if isinstance(value, dict):
        return [value]
    if isinstance(value, str):
        return [{"role": "assistant", "content": value}]
    return list(value)


def _tools(row: dict[str, Any]) -> list[dict[str, Any]] | None:
    tools = row.get("tools")
    if isinstance(tools, str) and tools:  # TRL accepts the tool list as a JSON string too
        tools = json.loads(tools)
    return tools or None


def extract_prompt(row: dict[str, Any]) -> dict[str, Any]:
    """TRL's ``extract_prompt`` (trl 1.16 ``data_utils``), step for step: the shared head of
    ``chosen`` and ``rejected`` is the prompt, a space before the split staying with the completion.

    >>> extract_prompt({"chosen": "Q: hi A: yes", "rejected": "Q: hi A: no"})["prompt"]
    'Q: hi A:'
    """
    chosen, rejected = row["chosen"], row["rejected"]
    idx = 0
    for idx in range(min(len(chosen), len(rejected))):  # idx is used after the loop, as in TRL
        if chosen[idx] != rejected[idx]:
            if chosen[idx - 1] == " ":
                idx -= 1
            break
    return {**row, "prompt": chosen[:idx], "chosen": chosen[idx:], "rejected": rejected[idx:]}


def _trl(row: dict[str, Any]) -> Example:
    row = row if "prompt" in row else extract_prompt(row)
    keys = ("completion",) if "completion" in row else ("chosen", "rejected")
    return Example(row["prompt"], tuple(row[k] for k in keys), _tools(row))


def _axolotl(row: dict[str, Any]) -> Example:
    messages = row["messages"]
    prompt = [{"role": "user", "content": messages}] if isinstance(messages, str) else list(messages)
    return Example(prompt, (_as_list(row["chosen"])[-1:], _as_list(row["rejected"])[-1:]))


def _openrlhf(row: dict[str, Any]) -> Example:
    return Example(row["prompt"], (row["chosen"], row["rejected"]))


def _sharegpt(turn: dict[str, Any]) -> Message:
    return {"role": SHAREGPT_TAGS.get(str(turn["from"]), str(turn["from"])), "content": turn["value"]}


def _llamafactory(row: dict[str, Any]) -> Example:
    system = [{"role": "system", "content": row["system"]}] if row.get("system") else []
    prompt = system + [_sharegpt(t) for t in row["conversations"]]
    return Example(prompt, ([_sharegpt(row["chosen"])], [_sharegpt(row["rejected"])]), _tools(row))


def _alpaca(row: dict[str, Any]) -> Example:
    prompt: list[Message] = [{"role": "system", "content": row["system"]}] if row.get("system") else []
    for user, assistant in row.get("history") or []:
        prompt += [{"role": "user", "content": user}, {"role": "assistant", "content": assistant}]
    query = "\n".join(t for t in (row["instruction"], row.get("input", "")) if t)
    prompt.append({"role": "user", "content": query})
    return Example(prompt, (_as_list(row["chosen"]), _as_list(row["rejected"])))


def _ultrafeedback(row: dict[str, Any]) -> Example:
    """TRL reads it with the string ``prompt`` set aside (as the alignment handbook does): the
    conversations' shared head is the prompt."""
    return _trl({"chosen": row["chosen"], "rejected": row["rejected"]})


def _nemo_rl(row: dict[str, Any]) -> Example:
    ranked = sorted(row["completions"], key=lambda c: c["rank"])
    return Example(list(row["context"]), tuple(c["completion"] for c in ranked))


VIEWS: Final[dict[str, Callable[[dict[str, Any]], Example]]] = {
    "trl": _trl,
    "trl-reward": _trl,
    "trl-kto": _trl,
    "hh-rlhf": _trl,
    "ultrafeedback": _ultrafeedback,
    "axolotl": _axolotl,
    "openrlhf": _openrlhf,
    "llamafactory": _llamafactory,
    "llamafactory-alpaca": _alpaca,
    "nemo-rl": _nemo_rl,
}

#: Why a format has no template checks.
NO_VIEW: Final = {
    "openai-dpo": "OpenAI trains with its own tokenizer; your chat template never sees these rows",
    "vertex": "Vertex AI trains Gemini with its own tokenizer; your chat template never sees these rows",
    "axolotl-chatml-intel": "Axolotl renders chatml.intel rows with its own ChatML builder, not the template",
    "arena": "battles are for the leaderboard, not a trainer",
}


def example_of(fmt: str, row: dict[str, Any]) -> Example:
    """The :class:`Example` of a row that passed the schema checks of ``fmt``."""
    return VIEWS[fmt](row)


__all__ = ["NO_VIEW", "VIEWS", "Example", "Message", "Turns", "example_of"]
