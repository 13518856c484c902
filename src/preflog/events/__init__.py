"""The event model (the wire contract): vocabulary, ids and time, validation, upcasting, helpers.

Events travel as plain JSON objects (``dict``); this package says what a valid one is and does no
I/O. Its modules follow the contract's sections, and everything is re-exported here, so code
imports from ``preflog.events``:

- :mod:`~preflog.events.contract`: ``SCHEMA_VERSION``, the event types and field names, enums,
  id rules and the size :class:`Limits`;
- :mod:`~preflog.events.ids`: :func:`new_id` (time-ordered UUIDs) and the normalized timestamps;
- :mod:`~preflog.events.validation`: :func:`validate_event` and :func:`check_event`, built on
  :mod:`~preflog.events.checker` (primitives and fast paths), :mod:`~preflog.events.inference`,
  :mod:`~preflog.events.candidates`, :mod:`~preflog.events.messages` (chat turns and tool calls)
  and :mod:`~preflog.events.judgments` (the payloads);
- :mod:`~preflog.events.upcast`: :data:`UPCASTERS` and :func:`upcast` (older versions, on read);
- :mod:`~preflog.events.helpers`: reading valid events (:func:`candidate_ids`,
  :func:`candidate_messages`, :func:`candidate_text`, :func:`is_empty_answer`, ...).
"""

from __future__ import annotations

from preflog.events.contract import (
    CANDIDATE_FIELDS,
    CANDIDATE_KEYS,
    DEFAULT_LIMITS,
    ENVELOPE_FIELDS,
    EVENT_TYPES,
    FINISH_REASONS,
    FUNCTION_FIELDS,
    ID_MAX_BYTES,
    JUDGMENT_TYPES,
    MESSAGE_FIELDS,
    MESSAGE_ROLES,
    MODEL_FIELDS,
    MODEL_KEYS,
    OMITTED_SCHEMA_VERSION,
    OUTCOMES,
    PAYLOAD_FIELDS,
    PROJECT_PATTERN,
    PROJECT_RE,
    PROJECT_RULE,
    SCHEMA_VERSION,
    SCORER_KINDS,
    SIGNAL_KINDS,
    SOURCE_KINDS,
    TOOL_CALL_FIELDS,
    TOOL_CALL_TYPES,
    UUID_PATTERN,
    UUID_RE,
    Limits,
)
from preflog.events.helpers import (
    candidate_ids,
    candidate_messages,
    candidate_text,
    canonical_json,
    chat_turn,
    is_continuation,
    is_empty_answer,
    ranking_groups,
)
from preflog.events.ids import format_datetime, format_time, new_id, normalize_time, now, parse_time
from preflog.events.upcast import UPCASTERS, upcast
from preflog.events.validation import check_event, validate_event

# The names these had when the contract was one module; kept so that old imports keep working.
_PROJECT_RE = PROJECT_RE
_ID_MAX = ID_MAX_BYTES

__all__ = [
    "CANDIDATE_FIELDS",
    "CANDIDATE_KEYS",
    "DEFAULT_LIMITS",
    "ENVELOPE_FIELDS",
    "EVENT_TYPES",
    "FINISH_REASONS",
    "FUNCTION_FIELDS",
    "ID_MAX_BYTES",
    "JUDGMENT_TYPES",
    "MESSAGE_FIELDS",
    "MESSAGE_ROLES",
    "MODEL_FIELDS",
    "MODEL_KEYS",
    "OMITTED_SCHEMA_VERSION",
    "OUTCOMES",
    "PAYLOAD_FIELDS",
    "PROJECT_PATTERN",
    "PROJECT_RE",
    "PROJECT_RULE",
    "SCHEMA_VERSION",
    "SCORER_KINDS",
    "SIGNAL_KINDS",
    "SOURCE_KINDS",
    "TOOL_CALL_FIELDS",
    "TOOL_CALL_TYPES",
    "UPCASTERS",
    "UUID_PATTERN",
    "UUID_RE",
    "Limits",
    "candidate_ids",
    "candidate_messages",
    "candidate_text",
    "canonical_json",
    "chat_turn",
    "check_event",
    "format_datetime",
    "format_time",
    "is_continuation",
    "is_empty_answer",
    "new_id",
    "normalize_time",
    "now",
    "parse_time",
    "ranking_groups",
    "upcast",
    "validate_event",
]
