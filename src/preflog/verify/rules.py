"""The small rules schema checks are written with: chat messages, strings, numbers, replies. Each
yields ``(check, message)`` problems (see :mod:`preflog.verify.schemas`)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, TypeAlias

Problem: TypeAlias = tuple[str, str]
Problems: TypeAlias = Iterator[Problem]


def messages(value: Any, path: str, roles: frozenset[str] | None, *, allow_empty: bool = False) -> Problems:
    """Chat messages ``{role, content}``; an assistant turn may carry ``tool_calls`` and then a
    null or empty ``content``."""
    if not isinstance(value, list):
        yield "schema", f"{path}: must be a list of chat messages"
        return
    if not value and not allow_empty:
        yield "schema", f"{path}: empty"
    for i, message in enumerate(value):
        where = f"{path}[{i}]"
        if not isinstance(message, dict):
            yield "schema", f"{where}: must be an object {{role, content}}"
            continue
        role = message.get("role")
        if not isinstance(role, str):
            yield "schema", f"{where}.role: must be a string"
        elif roles is not None and role not in roles:
            yield "roles", f"{where}.role: {role!r} is not one of {', '.join(sorted(roles))}"
        content = message.get("content")
        if not isinstance(content, str) and not (content is None and message.get("tool_calls")):
            yield "schema", f"{where}.content: must be a string"


def string(row: dict[str, Any], key: str) -> Problems:
    if not isinstance(row.get(key), str):
        yield "schema", f"{key}: must be a string" if key in row else f"{key}: missing"


def number(row: dict[str, Any], key: str, *, optional: bool = False) -> Problems:
    value = row.get(key)
    if optional and key not in row:
        return
    if isinstance(value, bool) or not isinstance(value, int | float):
        yield "schema", f"{key}: must be a number" if key in row else f"{key}: missing"


def reply(value: Any, path: str, roles: frozenset[str] | None, *, chat: bool) -> Problems:
    """A completion: a string (standard rows) or chat messages (conversational rows)."""
    if chat:
        yield from messages(value, path, roles)
    elif not isinstance(value, str):
        yield "schema", f"{path}: must be a string like the prompt"


__all__ = ["Problem", "Problems", "messages", "number", "reply", "string"]
