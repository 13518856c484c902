"""Reading span attributes: flattened lists, JSON-in-a-string values, numbers.

Several conventions flatten a list of objects into indexed keys (OpenInference's
``llm.input_messages.0.message.role``, the legacy GenAI ``gen_ai.prompt.0.content``); others
record a structured value either as an OTLP ``kvlist``/``array`` or as a JSON string ("MAY be
recorded as a JSON string if structured format is not supported"). These helpers read all of them.

>>> indexed({"p.0.role": "user", "p.0.content": "Hi", "p.1.role": "assistant", "q": 1}, "p")
[{'role': 'user', 'content': 'Hi'}, {'role': 'assistant'}]
>>> structured('[{"role": "user"}]'), structured("plain text")
([{'role': 'user'}], 'plain text')
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any


def indexed(attrs: Mapping[str, Any], prefix: str) -> list[dict[str, Any]]:
    """The objects flattened under ``prefix.N.*``, in index order (gaps closed)."""
    head = prefix + "."
    groups: dict[int, dict[str, Any]] = {}
    for key, value in attrs.items():
        if not key.startswith(head):
            continue
        index, _, rest = key[len(head) :].partition(".")
        if not index.isdigit() or not rest:
            continue
        groups.setdefault(int(index), {})[rest] = value
    return [groups[i] for i in sorted(groups)]


def structured(value: Any) -> Any:
    """A value recorded as a JSON string, parsed; anything else as it is."""
    if isinstance(value, str) and value[:1] in ("[", "{"):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def text(attrs: Mapping[str, Any], *names: str) -> str | None:
    """The first of ``names`` that holds a non-empty string."""
    for name in names:
        value = attrs.get(name)
        if isinstance(value, str) and value.strip():
            return value
    return None


def number(value: Any) -> float | int | None:
    """A finite number (ints stay ints), or None for anything else (booleans included)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        if isinstance(value, str):
            try:
                value = float(value) if any(c in value for c in ".eE") else int(value)
            except ValueError:
                return None
        else:
            return None
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value if isinstance(value, int) else float(value)


def with_prefix(attrs: Mapping[str, Any], prefix: str) -> dict[str, Any]:
    """``{rest: value}`` of every attribute named ``prefix.rest``."""
    head = prefix + "."
    return {key[len(head) :]: value for key, value in attrs.items() if key.startswith(head)}
