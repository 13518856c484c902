"""``vertex``: Vertex AI preference tuning of Gemini models. One row per pair:

``{"system_instruction": {"parts": [{"text": ...}]}, "contents": [{"role": "user" | "model",
"parts": [{"text": ...}]}, ...], "completions": [{"score": 1, "completion": {"role": "model",
"parts": [{"text": chosen}]}}, {"score": 0, "completion": {... rejected}}]}``

- ``system_instruction``: the system prompt; the key is left out when there is none.
- ``contents``: the prompt's turns, ``assistant`` written as Gemini's ``model``; they must end with a
  user turn, so an item whose prompt ends otherwise is dropped as ``unsupported_last_turn``, and a
  system turn after the first (Gemini has no such role) as ``unsupported_role``.
- ``completions``: the preferred completion with ``score`` 1, then the dispreferred with 0 (the only
  values Vertex takes; the score marks which is which, it does not weigh them).

Gemini preference tuning takes text only: items with tool calls, tool turns, multi-message
continuations or refusals are dropped as ``unsupported_<feature>``. An empty answer is an empty
text part.

>>> from preflog.records import Pair
>>> p = Pair(prompt="2+2?", system=None, chosen="4", rejected="5", request_id="r1",
...          chosen_id="a", rejected_id="b", chosen_model="m1", rejected_model="m2")
>>> vertex_row(p)["contents"]
[{'role': 'user', 'parts': [{'text': '2+2?'}]}]
>>> [c["score"] for c in vertex_row(p)["completions"]]
[1, 0]
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Any, Final

from preflog.formats._readback import read_pair
from preflog.formats.base import FormatSpec, Row, register_format
from preflog.formats.openai_dpo import last_turn_refusal
from preflog.records import Message, Pair, Prompt, as_messages

GEMINI_ROLE: Final = {"user": "user", "assistant": "model"}
OUR_ROLE: Final = {"user": "user", "model": "assistant"}


def refuses(prompt: Prompt, system: str | None) -> str | None:
    """Why an item's prompt cannot be Gemini contents, or None."""
    if not isinstance(prompt, str):
        turns = prompt[1:] if prompt and prompt[0].get("role") == "system" and system is None else prompt
        if any(m.get("role") not in GEMINI_ROLE for m in turns):
            return "unsupported_role"
    return last_turn_refusal(prompt, system)


def _content(role: str, text: str) -> dict[str, Any]:
    return {"role": role, "parts": [{"text": text}]}


def vertex_row(pair: Pair) -> Row:
    chosen, rejected = _text(pair.chosen), _text(pair.rejected)
    messages = as_messages(pair.prompt, pair.system)
    row: Row = {}
    if messages[0]["role"] == "system":
        row["system_instruction"] = {"parts": [{"text": messages[0]["content"]}]}
        messages = messages[1:]
    row["contents"] = [_content(_role(m["role"]), m["content"] or "") for m in messages]
    row["completions"] = [
        {"score": 1, "completion": _content("model", chosen)},
        {"score": 0, "completion": _content("model", rejected)},
    ]
    return row


def _role(role: str) -> str:
    if role not in GEMINI_ROLE:
        raise ValueError(f"vertex has no role for a {role!r} turn (compile drops such items)")
    return GEMINI_ROLE[role]


def _text(reply: Any) -> str:
    if not isinstance(reply, str):
        raise ValueError("vertex takes text replies only (compile drops the others)")
    return reply


def write_rows(pairs: Sequence[Pair]) -> Iterator[Row]:
    return (vertex_row(p) for p in pairs)


def _joined(content: Any, where: str) -> tuple[str, str]:
    """``(role, text)`` of a Gemini content; several text parts are one text."""
    if not isinstance(content, dict) or not isinstance(content.get("parts"), list):
        raise ValueError(f"{where}: must be an object {{role, parts}}")
    parts = content["parts"]
    if not all(isinstance(p, dict) and isinstance(p.get("text"), str) for p in parts):
        raise ValueError(f"{where}.parts: text parts only")
    return str(content.get("role", "")), "".join(p["text"] for p in parts)


def row_to_pair(row: Row) -> Pair:
    system = None
    if isinstance(row.get("system_instruction"), dict):
        system = _joined({"role": "system", **row["system_instruction"]}, "system_instruction")[1]
    prompt: list[Message] = []
    for i, content in enumerate(row.get("contents") or []):
        role, text = _joined(content, f"contents[{i}]")
        if role not in OUR_ROLE:
            raise ValueError(f"contents[{i}].role: must be user or model")
        prompt.append({"role": OUR_ROLE[role], "content": text})
    scored = {}
    for i, item in enumerate(row.get("completions") or []):
        if isinstance(item, dict):
            scored[item.get("score")] = _joined(item.get("completion"), f"completions[{i}].completion")[1]
    if set(scored) != {0, 1}:
        raise ValueError("completions: need one completion scored 1 and one scored 0")
    return read_pair(prompt, system, scored[1], scored[0])


def read_rows(rows: Iterable[Row]) -> Iterator[Pair]:
    return (row_to_pair(row) for row in rows)


SPEC: Final = register_format(
    FormatSpec(
        name="vertex",
        kind="pairs",
        write_rows=write_rows,
        read_rows=read_rows,
        description="Vertex AI Gemini preference tuning: system_instruction, contents, scored completions",
        refuses=refuses,
    )
)
