"""The compile records under their old name; they live in :mod:`preflog.records`."""

from __future__ import annotations

from preflog.records import (
    Message,
    Pair,
    Prompt,
    Record,
    Unpaired,
    as_messages,
    is_conversational,
    last_user_text,
    normalized_prompt,
)

__all__ = [
    "Message",
    "Pair",
    "Prompt",
    "Record",
    "Unpaired",
    "as_messages",
    "is_conversational",
    "last_user_text",
    "normalized_prompt",
]
