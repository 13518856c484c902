"""Shared by the format modules that read their rows back into :class:`Pair` records.

A row in an external format carries texts, not preflog's provenance: the pair read back gets a
request id derived from its content (UUID version 5, so reading twice gives the same ids),
candidate ids ``a`` (chosen) and ``b`` (rejected), and the model names the row gives, else
``unknown``.
"""

from __future__ import annotations

import json
import uuid
from typing import Any, Final

from preflog.records import Message, Pair, Prompt, Reply

READ_NAMESPACE: Final = uuid.UUID("0d9c1f3e-6b7a-5c4d-8e2f-7265616462ac")
UNKNOWN_MODEL: Final = "unknown"


def content_id(*parts: Any) -> str:
    text = json.dumps(parts, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return str(uuid.uuid5(READ_NAMESPACE, text))


def read_pair(
    prompt: Prompt,
    system: str | None,
    chosen: Reply,
    rejected: Reply,
    *,
    chosen_model: str | None = None,
    rejected_model: str | None = None,
    margin: float | None = None,
    occurred_at: str | None = None,
    chosen_first: bool | None = None,
    request_id: str | None = None,
) -> Pair:
    """A :class:`Pair` from the texts of one row (see the module docstring for the ids)."""
    return Pair(
        prompt=prompt,
        system=system,
        chosen=chosen,
        rejected=rejected,
        request_id=request_id or content_id(prompt, system, chosen, rejected),
        chosen_id="a",
        rejected_id="b",
        chosen_model=chosen_model or UNKNOWN_MODEL,
        rejected_model=rejected_model or UNKNOWN_MODEL,
        margin=margin,
        occurred_at=occurred_at,
        chosen_first=chosen_first,
    )


def messages_of(value: Any, where: str) -> list[Message]:
    """Chat messages ``{role, content}`` from a row's list (other keys dropped), or ValueError."""
    if not isinstance(value, list) or not all(
        isinstance(m, dict) and isinstance(m.get("role"), str) and isinstance(m.get("content"), str)
        for m in value
    ):
        raise ValueError(f"{where}: must be a list of chat messages {{role, content}}")
    return [{"role": m["role"], "content": m["content"]} for m in value]


def split_system(prompt: Prompt, system: str | None) -> tuple[str | None, Prompt]:
    """A leading system message of a chat prompt moved to ``system`` (when ``system`` is unset)."""
    if isinstance(prompt, list) and prompt and prompt[0]["role"] == "system" and system is None:
        return prompt[0]["content"], prompt[1:]
    return system, prompt
