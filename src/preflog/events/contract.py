"""The contract's vocabulary, defined once: versions, types, field names, enums, id rules, size limits.

Every other part of preflog that needs one of these (the validator, the JSON Schema, the SDK's
call-time checks, the API key rules) imports it from here, so a change to the contract is made in
one place.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Final

from preflog import config

SCHEMA_VERSION: Final = 2
OMITTED_SCHEMA_VERSION: Final = 1  # an event without schema_version was written under version 1

EVENT_TYPES: Final = ("inference", "preference", "score", "signal", "retraction", "erasure")
JUDGMENT_TYPES: Final = ("preference", "score", "signal")
SOURCE_KINDS: Final = ("human", "end_user", "reward_model", "ai_judge", "implicit")
SCORER_KINDS: Final = ("reward_model", "ai_judge", "human")
SIGNAL_KINDS: Final = (
    "thumbs_up",
    "thumbs_down",
    "copy",
    "regenerate",
    "edit",
    "dwell_ms",
    "click",
    "conversion",
)
OUTCOMES: Final = ("tie", "both_bad")
MESSAGE_ROLES: Final = ("system", "user", "assistant", "tool")

ENVELOPE_FIELDS: Final = (
    "event_id",
    "type",
    "request_id",
    "project",
    "occurred_at",
    "received_at",
    "schema_version",
)
PAYLOAD_FIELDS: Final[dict[str, tuple[str, ...]]] = {
    "inference": (
        "prompt",
        "system",
        "candidates",
        "presented",
        "user_id",
        "session_id",
        "features",
        "tags",
        "metadata",
    ),
    "preference": (
        "chosen",
        "rejected",
        "ranking",
        "outcome",
        "candidates",
        "strength",
        "criterion",
        "rationale",
        "scores",
        "source",
        "presented",
        "metadata",
    ),
    "score": ("candidate_id", "score", "scorer", "criterion", "metadata"),
    "signal": ("candidate_id", "signal", "value", "user_id", "session_id", "metadata"),
    "retraction": ("retracts", "reason", "source", "metadata"),
    "erasure": ("user_id", "reason", "metadata"),
}
CANDIDATE_FIELDS: Final = (
    "candidate_id",
    "output",
    "messages",  # version 2: a multi-message continuation instead of one output
    "tool_calls",  # version 2
    "refusal",  # version 2
    "finish_reason",  # version 2
    "model",
    "params",
    "usage",
    "latency_ms",
    "metadata",
)
CANDIDATE_KEYS: Final = frozenset(CANDIDATE_FIELDS)
# A candidate made only of these (every version-1 candidate) can take the validator's fast path.
PLAIN_CANDIDATE_KEYS: Final = frozenset(
    ("candidate_id", "output", "model", "params", "usage", "latency_ms", "metadata")
)
MODEL_FIELDS: Final = ("name", "version", "checkpoint", "provider")
MODEL_KEYS: Final = frozenset(MODEL_FIELDS)
# Chat messages, in prompts and in continuations; tool_calls, tool_call_id and refusal since version 2.
MESSAGE_FIELDS: Final = ("role", "content", "name", "tool_calls", "tool_call_id", "refusal")
PLAIN_MESSAGE_KEYS: Final = frozenset(("role", "content", "name"))
TOOL_CALL_FIELDS: Final = ("id", "type", "function")
TOOL_CALL_TYPES: Final = ("function",)
FUNCTION_FIELDS: Final = ("name", "arguments")
# The usual finish reasons (OpenAI's names); any other short string is accepted too (end_turn,
# max_tokens, SAFETY...): providers differ, and what a model reported is data.
FINISH_REASONS: Final = ("stop", "length", "content_filter", "tool_calls")
SOURCE_FIELDS: Final = ("kind", "id", "version")
SCORER_FIELDS: Final = ("name", "version", "kind")

PROJECT_PATTERN: Final = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"
PROJECT_RE: Final = re.compile(PROJECT_PATTERN)
PROJECT_RULE: Final = "must be 1-64 letters, digits, '_', '.', '-', starting with a letter or digit"
UUID_PATTERN: Final = r"^[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}$"
UUID_RE: Final = re.compile(UUID_PATTERN)
ID_MAX_BYTES: Final = 256  # ids, model names, tags: fixed, not a Limit (indexes and joins rely on it)
MAX_INT_FLOAT: Final = 10**308  # JSON integers beyond a double's range (10**400) are refused


@dataclass(frozen=True)
class Limits:
    """Size limits applied by :func:`preflog.events.validate_event`; each has a ``PREFLOG_``
    variable in :mod:`preflog.config` (``max_tags`` ↔ ``PREFLOG_MAX_TAGS``).

    ``max_prompt_bytes`` counts the UTF-8 bytes of the prompt (all messages) plus ``system``;
    ``max_metadata_bytes`` counts the JSON encoding of each free-form object (``metadata``,
    ``features``, ``params``, ``usage``) separately.
    """

    max_prompt_bytes: int = 256 * 1024
    max_output_bytes: int = 256 * 1024
    max_candidates: int = 16
    max_metadata_bytes: int = 16 * 1024
    max_text_bytes: int = 16 * 1024  # rationale, reason, criterion and other short texts
    max_tags: int = 64

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Limits:
        """The limits set by ``PREFLOG_MAX_PROMPT_BYTES``, ``PREFLOG_MAX_OUTPUT_BYTES``, ... in
        ``environ`` (default: the process environment), read through :func:`preflog.config.get`;
        a value that does not parse is a :class:`~preflog.errors.ConfigError` naming it.

        >>> Limits.from_env({"PREFLOG_MAX_TAGS": "8"}).max_tags
        8
        """
        return cls(**{f.name: config.get("PREFLOG_" + f.name.upper(), environ) for f in fields(cls)})


DEFAULT_LIMITS: Final = Limits()
