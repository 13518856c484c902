"""Schema checks of the hosted and NVIDIA layouts: OpenAI preference fine-tuning (``openai-dpo``;
Together and Fireworks read the same fields), Vertex AI Gemini preference tuning (``vertex``) and
NeMo RL's rank format (``nemo-rl``). Each is the layout docs/formats.md describes field by field,
with its source.

>>> list(vertex({"contents": [{"role": "user", "parts": [{"text": "2+2?"}]}], "completions": [
...     {"score": 1, "completion": {"role": "assistant", "parts": [{"text": "4"}]}},
...     {"score": 0, "completion": {"role": "model", "parts": [{"text": "5"}]}}]}))
[('roles', "completions[0].completion.role: 'assistant' is not model")]
"""

from __future__ import annotations

from typing import Any, Final

from preflog.verify.rules import Problems, messages

OPENAI_ROLES: Final = frozenset({"system", "developer", "user", "assistant", "tool"})
VERTEX_ROLES: Final = frozenset({"user", "model"})


def _tool_calls(value: Any, path: str) -> Problems:
    """OpenAI tool calls: ``[{id, type: "function", function: {name, arguments}}]``, arguments a
    JSON string."""
    if not isinstance(value, list) or not value:
        yield "schema", f"{path}: must be a non-empty list of tool calls"
        return
    for i, call in enumerate(value):
        where = f"{path}[{i}]"
        function = call.get("function") if isinstance(call, dict) else None
        if (
            not isinstance(call, dict)
            or not isinstance(call.get("id"), str)
            or call.get("type") != "function"
        ):
            yield "schema", f"{where}: must be {{id, type: function, function}}"
        elif not isinstance(function, dict) or not isinstance(function.get("name"), str):
            yield "schema", f"{where}.function.name: must be a string"
        elif not isinstance(function.get("arguments"), str):
            yield "schema", f"{where}.function.arguments: must be a string"


def _openai_output(value: Any, path: str) -> Problems:
    if not isinstance(value, list) or len(value) != 1 or not isinstance(value[0], dict):
        yield "schema", f"{path}: must be a list of exactly one assistant message"
        return
    message = value[0]
    if message.get("role") != "assistant":
        yield "roles", f"{path}[0].role: {message.get('role')!r} is not assistant"
    if "tool_calls" in message:
        yield from _tool_calls(message["tool_calls"], f"{path}[0].tool_calls")
        if message.get("content") not in (None, "") and not isinstance(message.get("content"), str):
            yield "schema", f"{path}[0].content: must be a string or null"
    elif not isinstance(message.get("content"), str):
        yield "schema", f"{path}[0].content: must be a string"


def openai_dpo(row: dict[str, Any]) -> Problems:
    """``{"input": {"messages", "tools"?, "parallel_tool_calls"?}, "preferred_output": [message],
    "non_preferred_output": [message]}``; the input ends with a user turn."""
    given = row.get("input")
    if not isinstance(given, dict):
        yield "schema", "input: must be an object {messages, tools, parallel_tool_calls}"
    else:
        turns = given.get("messages")
        yield from messages(turns, "input.messages", OPENAI_ROLES)
        if (
            isinstance(turns, list)
            and turns
            and isinstance(turns[-1], dict)
            and turns[-1].get("role") != "user"
        ):
            yield "schema", "input.messages: must end with a user turn"
        for i, turn in enumerate(turns if isinstance(turns, list) else []):
            if isinstance(turn, dict) and "tool_calls" in turn:
                yield from _tool_calls(turn["tool_calls"], f"input.messages[{i}].tool_calls")
        tools = given.get("tools", [])
        if not isinstance(tools, list) or not all(isinstance(t, dict) for t in tools):
            yield "schema", "input.tools: must be a list of tool definitions"
        if not isinstance(given.get("parallel_tool_calls", True), bool):
            yield "schema", "input.parallel_tool_calls: must be true or false"
    yield from _openai_output(row.get("preferred_output"), "preferred_output")
    yield from _openai_output(row.get("non_preferred_output"), "non_preferred_output")


def _parts(value: Any, path: str) -> Problems:
    if not isinstance(value, list) or not value:
        yield "schema", f"{path}: must be a non-empty list of {{text}} parts"
        return
    for i, part in enumerate(value):
        if not isinstance(part, dict) or not isinstance(part.get("text"), str):
            yield "schema", f"{path}[{i}].text: must be a string (text parts only)"


def _content(value: Any, path: str, roles: frozenset[str]) -> Problems:
    """A Gemini ``Content``: ``{role, parts: [{text}]}``."""
    if not isinstance(value, dict):
        yield "schema", f"{path}: must be an object {{role, parts}}"
        return
    role = value.get("role")
    if role not in roles:
        allowed = " or ".join(sorted(roles))
        yield "roles", f"{path}.role: {role!r} is not {allowed}"
    yield from _parts(value.get("parts"), f"{path}.parts")


def vertex(row: dict[str, Any]) -> Problems:
    """``{"system_instruction"?: {parts}, "contents": [Content ending with a user turn],
    "completions": [{score: 1, completion: Content}, {score: 0, completion: Content}]}``."""
    instruction = row.get("system_instruction")
    if instruction is not None:  # absent, or null in a Parquet file where other rows have one
        if not isinstance(instruction, dict):
            yield "schema", "system_instruction: must be an object {parts}"
        else:
            yield from _parts(instruction.get("parts"), "system_instruction.parts")
    contents = row.get("contents")
    if not isinstance(contents, list) or not contents:
        yield "schema", "contents: must be a non-empty list of {role, parts}"
    else:
        for i, content in enumerate(contents):
            yield from _content(content, f"contents[{i}]", VERTEX_ROLES)
        if isinstance(contents[-1], dict) and contents[-1].get("role") != "user":
            yield "schema", "contents: must end with a user turn"
    completions = row.get("completions")
    if not isinstance(completions, list) or len(completions) != 2:
        yield "schema", "completions: must be a list of exactly two {score, completion}"
        return
    scores = []
    for i, item in enumerate(completions):
        if not isinstance(item, dict):
            yield "schema", f"completions[{i}]: must be an object {{score, completion}}"
            continue
        scores.append(item.get("score"))
        yield from _content(item.get("completion"), f"completions[{i}].completion", frozenset({"model"}))
    if sorted(s for s in scores if isinstance(s, int) and not isinstance(s, bool)) != [0, 1]:
        yield "schema", "completions: the scores must be one 1 (preferred) and one 0 (dispreferred)"


def nemo_rl(row: dict[str, Any]) -> Problems:
    """``{"context": [messages], "completions": [{rank, completion: [messages]}, ...]}``: two
    completions, the lower rank preferred, no ties."""
    yield from messages(row.get("context"), "context", None)
    completions = row.get("completions")
    if not isinstance(completions, list) or len(completions) != 2:
        yield "schema", "completions: must be a list of exactly two {rank, completion} (NeMo RL DPO)"
        return
    ranks = []
    for i, item in enumerate(completions):
        if not isinstance(item, dict):
            yield "schema", f"completions[{i}]: must be an object {{rank, completion}}"
            continue
        rank = item.get("rank")
        if not isinstance(rank, int) or isinstance(rank, bool):
            yield "schema", f"completions[{i}].rank: must be an integer"
        else:
            ranks.append(rank)
        yield from messages(item.get("completion"), f"completions[{i}].completion", None)
    if len(ranks) == 2 and ranks[0] == ranks[1]:
        yield "schema", "completions: the two ranks are equal (NeMo RL refuses ties)"


__all__ = ["OPENAI_ROLES", "VERTEX_ROLES", "nemo_rl", "openai_dpo", "vertex"]
