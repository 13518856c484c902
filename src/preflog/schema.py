"""The JSON Schema (draft 2020-12) of the event contract (version 2), built from :mod:`preflog.events`.

The schema is generated from the same constants the validator uses (field names, enums, limits), so
the two cannot drift apart. It is an interchange document for producers in other languages and for
editors; :func:`preflog.events.validate_event` stays the authority. Where JSON Schema cannot say what
the validator checks (sizes in UTF-8 bytes, ``chosen`` differing from ``rejected``, ranking ids being
unique across tie groups), the schema is looser, never stricter, and the ``description`` says so.
Optional fields may be ``null``, which means absent.
"""

from __future__ import annotations

from typing import Any, Final

from preflog.events import (
    DEFAULT_LIMITS,
    EVENT_TYPES,
    FINISH_REASONS,
    ID_MAX_BYTES,
    MESSAGE_ROLES,
    MODEL_FIELDS,
    OUTCOMES,
    PROJECT_PATTERN,
    SCHEMA_VERSION,
    SCORER_KINDS,
    SIGNAL_KINDS,
    SOURCE_KINDS,
    TOOL_CALL_TYPES,
    UUID_PATTERN,
    Limits,
)

__all__ = ["SCHEMA_ID", "event_json_schema"]

SCHEMA_ID: Final = f"urn:preflog:event:v{SCHEMA_VERSION}"
DRAFT: Final = "https://json-schema.org/draft/2020-12/schema"
_REQUIRED: Final = ("event_id", "type", "request_id", "occurred_at")
DESCRIPTION: Final = (
    "One preflog event. preflog.events.validate_event is the authority: where JSON Schema cannot "
    "express a rule (sizes in UTF-8 bytes, chosen differing from rejected, ids unique across ranking "
    "tie groups, presented ids being candidates), this schema is looser, never stricter. Optional "
    "fields may be null, which means absent."
)

Schema = dict[str, Any]


def _ref(name: str) -> Schema:
    return {"$ref": f"#/$defs/{name}"}


def _nullable(schema: Schema) -> Schema:
    """An optional field: ``null`` is accepted and means the same as leaving the field out."""
    return {"anyOf": [schema, {"type": "null"}]}


def _absent() -> Schema:
    """A field that must be left out (or be ``null``) in this form of the event."""
    return {"type": "null"}


def _limit_note(limit: int, field: str) -> str:
    env = "PREFLOG_" + field.upper()
    return f"at most {limit} UTF-8 bytes (Limits.{field}, env {env}; maxLength counts characters)"


def _common_defs(limits: Limits) -> dict[str, Schema]:
    return {
        "uuid": {
            "type": "string",
            "pattern": UUID_PATTERN,
            "description": "A UUID (hyphens optional).",
        },
        "id": {
            "type": "string",
            "pattern": "\\S",
            "not": {"pattern": "[\\r\\n\\t\\x00]"},
            "maxLength": ID_MAX_BYTES,
            "description": f"An identifier: not blank, no tab, newline or NUL, at most {ID_MAX_BYTES} bytes.",
        },
        "text": {
            "type": "string",
            "pattern": "\\S",
            "not": {"pattern": "\\x00"},
            "maxLength": limits.max_text_bytes,
            "description": "Free text, not blank, no NUL; "
            + _limit_note(limits.max_text_bytes, "max_text_bytes"),
        },
        "object": {
            "type": "object",
            "description": "A free-form JSON object; its JSON encoding is "
            + _limit_note(limits.max_metadata_bytes, "max_metadata_bytes"),
        },
        "id_list": {
            "type": "array",
            "items": _ref("id"),
            "uniqueItems": True,
            "minItems": 1,
            "description": "Candidate ids, each at most once.",
        },
        "source": {
            "type": "object",
            "properties": {
                "kind": {"enum": list(SOURCE_KINDS)},
                "id": _nullable(_ref("id")),
                "version": _nullable(_ref("id")),
            },
            "required": ["kind"],
            "additionalProperties": False,
            "description": "Who judged: the kind, and the annotator, user or model id and version.",
        },
    }


def _envelope(etype: str) -> Schema:
    return {
        "event_id": {**_ref("uuid"), "description": "Producer-made UUID; the idempotency key."},
        "type": {"const": etype},
        "request_id": {**_ref("id"), "description": "The join key: the id of the inference request."},
        "project": _nullable(
            {
                "type": "string",
                "pattern": PROJECT_PATTERN,
                "description": "The tenant; filled in from the write's scope when left out. "
                "An event naming another project is rejected.",
            }
        ),
        "occurred_at": {
            "type": "string",
            "format": "date-time",
            "description": "When it happened: RFC 3339 with a UTC offset; stored normalized to UTC.",
        },
        "received_at": _nullable(
            {"type": "string", "description": "Set by the store on append; ignored when sent."}
        ),
        "schema_version": _nullable(
            {
                "type": "integer",
                "minimum": 1,
                "maximum": SCHEMA_VERSION,
                "description": f"Contract version, {SCHEMA_VERSION} when left out; older versions are "
                "upcast on read.",
            }
        ),
    }


def _branch(etype: str, payload: Schema, required: list[str], **extra: Any) -> Schema:
    props = {**_envelope(etype), **payload}
    base_required = ["event_id", "type", "occurred_at"] if etype == "erasure" else list(_REQUIRED)
    return {
        "type": "object",
        "properties": props,
        "required": base_required + required,
        "additionalProperties": False,
        **extra,
    }


def _tool_call() -> Schema:
    function = {
        "type": "object",
        "properties": {
            "name": _ref("id"),
            "arguments": {
                "type": "string",
                "description": "The arguments as the model wrote them (a JSON string, not parsed; may be "
                "empty or malformed).",
            },
        },
        "required": ["name", "arguments"],
        "additionalProperties": False,
    }
    return {
        "type": "object",
        "description": "A tool call, in the OpenAI shape; ids unique within one list.",
        "properties": {"id": _ref("id"), "type": {"enum": list(TOOL_CALL_TYPES)}, "function": function},
        "required": ["id", "type", "function"],
        "additionalProperties": False,
    }


def _message(limits: Limits) -> Schema:
    text = {"type": "string", "maxLength": max(limits.max_prompt_bytes, limits.max_output_bytes)}
    no_tools = {"tool_calls": _absent(), "refusal": _absent()}
    by_role = [
        {
            "if": {"properties": {"role": {"enum": ["system", "user"]}}},
            "then": {
                "required": ["content"],
                "properties": {
                    "content": {"type": "string", "pattern": "\\S"},
                    "tool_call_id": _absent(),
                    **no_tools,
                },
            },
        },
        {
            "if": {"properties": {"role": {"const": "tool"}}},
            "then": {"required": ["content"], "properties": {"content": {"type": "string"}, **no_tools}},
        },
        {
            "if": {"properties": {"role": {"const": "assistant"}}},
            "then": {
                "properties": {"tool_call_id": _absent()},
                "anyOf": [
                    {"required": ["content"], "properties": {"content": {"type": "string"}}},
                    {
                        "required": ["tool_calls"],
                        "properties": {"tool_calls": {"type": "array", "minItems": 1}},
                    },
                    {"required": ["refusal"], "properties": {"refusal": {"type": "string"}}},
                ],
            },
        },
    ]
    return {
        "type": "object",
        "description": "A chat message. System and user turns have text; a tool result may be empty; "
        "an assistant's content may be empty, or null when the turn has tool_calls or a refusal.",
        "properties": {
            "role": {"enum": list(MESSAGE_ROLES)},
            "content": _nullable(text),
            "name": _nullable(_ref("id")),
            "tool_calls": _nullable({"type": "array", "items": _ref("tool_call")}),
            "tool_call_id": _nullable({**_ref("id"), "description": "On a tool turn: the call it answers."}),
            # No maxLength on refusals: counted in the candidate's or prompt's bytes by the
            # validator, and each maxLength near 256 KiB is a string Hypothesis-based fuzzers
            # (schemathesis' negative cases) cannot build.
            "refusal": _nullable(
                {"type": "string", "description": "On an assistant turn: the model's refusal."}
            ),
        },
        "required": ["role"],
        "additionalProperties": False,
        "allOf": by_role,
    }


def _candidate_forms() -> list[Schema]:
    return [
        {
            "title": "one answer",
            "required": ["output"],
            "properties": {"output": {"type": "string"}, "messages": _absent()},
        },
        {
            "title": "a tool call or a refusal, output left out",
            "properties": {"output": _absent(), "messages": _absent()},
            "anyOf": [
                {"required": ["tool_calls"], "properties": {"tool_calls": {"type": "array"}}},
                {"required": ["refusal"], "properties": {"refusal": {"type": "string"}}},
            ],
        },
        {
            "title": "a continuation",
            "required": ["messages"],
            "properties": {
                "messages": {"type": "array"},
                "output": _absent(),
                "tool_calls": _absent(),
                "refusal": _absent(),
            },
        },
    ]


def _candidate(limits: Limits) -> Schema:
    model = {
        "type": "object",
        "properties": {k: _ref("id") if k == "name" else _nullable(_ref("id")) for k in MODEL_FIELDS},
        "required": ["name"],
        "additionalProperties": False,
    }
    params = {
        "type": "object",
        "description": "Sampling parameters (OpenTelemetry GenAI names); other keys are kept as given.",
        "properties": {
            "temperature": _nullable({"type": "number", "minimum": 0}),
            "top_p": _nullable({"type": "number", "minimum": 0, "maximum": 1}),
            "max_tokens": _nullable({"type": "integer", "minimum": 1}),
            "seed": _nullable({"type": "integer"}),
        },
    }
    usage = {
        "type": "object",
        "description": "Token counts (input_tokens, output_tokens, ...): numbers, at least 0.",
        "additionalProperties": _nullable({"type": "number", "minimum": 0}),
    }
    output_note = _limit_note(limits.max_output_bytes, "max_output_bytes")
    text = {"type": "string", "maxLength": limits.max_output_bytes}
    continuation = {
        "type": "array",
        "items": _ref("message"),
        "minItems": 1,
        "prefixItems": [{"properties": {"role": {"const": "assistant"}}}],
        "description": "A multi-message continuation instead of output: the model's turns and what came "
        "between them (tool results, user turns), first and last an assistant turn; " + output_note,
    }
    return {
        "type": "object",
        "description": "One candidate: exactly one of output (with tool_calls, refusal) or messages.",
        "properties": {
            "candidate_id": _ref("id"),
            "output": _nullable(
                {
                    **text,
                    "description": "The text produced (for a chat prompt, the assistant's reply), "
                    "maybe empty; with tool_calls or a refusal it may be left out. "
                    + output_note
                    + ", counted with tool_calls and refusal",
                }
            ),
            "messages": _nullable(continuation),
            "tool_calls": _nullable({"type": "array", "items": _ref("tool_call")}),
            "refusal": _nullable(
                {"type": "string", "description": "The model's refusal (OpenAI's message.refusal)."}
            ),
            "finish_reason": _nullable(
                {
                    **_ref("id"),
                    "description": "Why generation stopped: "
                    + ", ".join(FINISH_REASONS)
                    + " or another short string.",
                }
            ),
            "model": model,
            "params": _nullable({"allOf": [params, _ref("object")]}),
            "usage": _nullable({"allOf": [usage, _ref("object")]}),
            "latency_ms": _nullable({"type": "number", "minimum": 0}),
            "metadata": _nullable(_ref("object")),
        },
        "required": ["candidate_id", "model"],
        "additionalProperties": False,
        "anyOf": _candidate_forms(),
    }


def _inference_defs(limits: Limits) -> dict[str, Schema]:
    prompt_note = _limit_note(limits.max_prompt_bytes, "max_prompt_bytes") + ", counted with system"
    prompt = {
        "description": "A string, or the chat conversation before the reply; " + prompt_note,
        "oneOf": [
            {"type": "string", "pattern": "\\S", "maxLength": limits.max_prompt_bytes},
            {"type": "array", "items": _ref("message"), "minItems": 1},
        ],
    }
    return {
        "tool_call": _tool_call(),
        "message": _message(limits),
        "candidate": _candidate(limits),
        "prompt": prompt,
    }


def _inference(limits: Limits) -> Schema:
    payload = {
        "prompt": _ref("prompt"),
        "system": _nullable({**_ref("text"), "maxLength": limits.max_prompt_bytes}),
        "candidates": {
            "type": "array",
            "items": _ref("candidate"),
            "minItems": 1,
            "maxItems": limits.max_candidates,
            "description": f"The outputs produced; at most {limits.max_candidates} "
            "(Limits.max_candidates, env PREFLOG_MAX_CANDIDATES); candidate ids unique.",
        },
        "presented": _nullable(
            {**_ref("id_list"), "description": "Candidate ids in the order shown (for position bias)."}
        ),
        "user_id": _nullable(_ref("id")),
        "session_id": _nullable(_ref("id")),
        "features": _nullable(_ref("object")),
        "tags": _nullable(
            {
                "type": "array",
                "items": {"type": "string", "minLength": 1, "maxLength": ID_MAX_BYTES},
                "maxItems": limits.max_tags,
                "description": f"At most {limits.max_tags} (Limits.max_tags, env PREFLOG_MAX_TAGS).",
            }
        ),
        "metadata": _nullable(_ref("object")),
    }
    return _branch("inference", payload, ["prompt", "candidates"])


def _preference_forms() -> list[Schema]:
    ranking_item = {"anyOf": [_ref("id"), {"type": "array", "items": _ref("id"), "minItems": 1}]}
    return [
        {
            "title": "pairwise",
            "description": "chosen over rejected (they must differ).",
            "required": ["chosen", "rejected"],
            "properties": {"ranking": _absent(), "outcome": _absent(), "candidates": _absent()},
        },
        {
            "title": "ranking",
            "description": "Candidate ids best first; a nested list is a group of ties. "
            "At least two ids in all, each once.",
            "required": ["ranking"],
            "properties": {
                "ranking": {"type": "array", "items": ranking_item, "minItems": 1},
                "chosen": _absent(),
                "rejected": _absent(),
                "outcome": _absent(),
                "candidates": _absent(),
            },
        },
        {
            "title": "outcome",
            "description": "A tie or both bad, over the candidates judged.",
            "required": ["outcome", "candidates"],
            "properties": {
                "candidates": {**_ref("id_list"), "minItems": 2},
                "chosen": _absent(),
                "rejected": _absent(),
                "ranking": _absent(),
            },
        },
    ]


def _preference() -> Schema:
    payload = {
        "chosen": _nullable(_ref("id")),
        "rejected": _nullable(_ref("id")),
        "ranking": _nullable({"type": "array"}),
        "outcome": _nullable({"enum": list(OUTCOMES)}),
        "candidates": _nullable(_ref("id_list")),
        "strength": _nullable({"type": "number", "minimum": 0, "maximum": 1}),
        "criterion": _nullable({**_ref("id"), "description": "helpfulness, harmlessness, ..."}),
        "rationale": _nullable(_ref("text")),
        "scores": _nullable(
            {"type": "object", "additionalProperties": {"type": "number"}, "description": "Per candidate id."}
        ),
        "source": _ref("source"),
        "presented": _nullable(_ref("id_list")),
        "metadata": _nullable(_ref("object")),
    }
    return _branch("preference", payload, ["source"], oneOf=_preference_forms())


def _score() -> Schema:
    scorer = {
        "type": "object",
        "properties": {
            "name": _ref("id"),
            "version": _nullable(_ref("id")),
            "kind": _nullable({"enum": list(SCORER_KINDS)}),
        },
        "required": ["name"],
        "additionalProperties": False,
    }
    payload = {
        "candidate_id": _ref("id"),
        "score": {"type": "number"},
        "scorer": scorer,
        "criterion": _nullable(_ref("id")),
        "metadata": _nullable(_ref("object")),
    }
    return _branch("score", payload, ["candidate_id", "score", "scorer"])


def _signal() -> Schema:
    payload = {
        "candidate_id": _ref("id"),
        "signal": {"enum": list(SIGNAL_KINDS)},
        "value": _nullable({"type": "number", "description": "Required for dwell_ms (milliseconds, >= 0)."}),
        "user_id": _nullable(_ref("id")),
        "session_id": _nullable(_ref("id")),
        "metadata": _nullable(_ref("object")),
    }
    dwell = {
        "if": {"properties": {"signal": {"const": "dwell_ms"}}},
        "then": {"required": ["value"], "properties": {"value": {"type": "number", "minimum": 0}}},
    }
    return _branch("signal", payload, ["candidate_id", "signal"], **dwell)


def _retraction() -> Schema:
    payload = {
        "retracts": {**_ref("uuid"), "description": "The event_id of the judgment withdrawn."},
        "reason": _nullable(_ref("text")),
        "source": _nullable(_ref("source")),
        "metadata": _nullable(_ref("object")),
    }
    return _branch("retraction", payload, ["retracts"])


def _erasure() -> Schema:
    payload = {
        "user_id": _nullable(_ref("id")),
        "reason": _nullable(_ref("text")),
        "metadata": _nullable(_ref("object")),
    }
    either = [
        {"title": "by request", "required": ["request_id"], "not": {"required": ["user_id"]}},
        {
            "title": "by user",
            "required": ["user_id"],
            "properties": {"user_id": _ref("id"), "request_id": _absent()},
        },
    ]
    return _branch("erasure", payload, [], oneOf=either)


def event_json_schema(limits: Limits = DEFAULT_LIMITS) -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of one event, current contract version, with ``limits`` as its sizes.

    >>> s = event_json_schema()
    >>> s["$schema"], [b["$ref"] for b in s["oneOf"]][:2]
    ('https://json-schema.org/draft/2020-12/schema', ['#/$defs/inference', '#/$defs/preference'])
    """
    branches = {
        "inference": _inference(limits),
        "preference": _preference(),
        "score": _score(),
        "signal": _signal(),
        "retraction": _retraction(),
        "erasure": _erasure(),
    }
    return {
        "$schema": DRAFT,
        "$id": SCHEMA_ID,
        "title": f"preflog event (contract version {SCHEMA_VERSION})",
        "description": DESCRIPTION,
        "type": "object",
        "required": ["event_id", "type", "occurred_at"],
        "properties": {"type": {"enum": list(EVENT_TYPES)}},
        "oneOf": [_ref(t) for t in EVENT_TYPES],
        "$defs": {**_common_defs(limits), **_inference_defs(limits), **branches},
    }
