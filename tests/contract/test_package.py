"""``preflog.events`` is a package whose public names are pinned, and whose limits come from the
configuration table, not from a reader of its own."""

from __future__ import annotations

import pytest

import preflog.events as events
from preflog import config
from preflog.errors import ConfigError
from preflog.events import Limits

# The public names of preflog.events: adding or removing one is a change of the contract's API.
EXPORTED = {
    "CANDIDATE_FIELDS",
    "CANDIDATE_KEYS",
    "DEFAULT_LIMITS",
    "ENVELOPE_FIELDS",
    "EVENT_TYPES",
    "TOOL_CALL_TYPES",
    "TOOL_CALL_FIELDS",
    "OMITTED_SCHEMA_VERSION",
    "FUNCTION_FIELDS",
    "FINISH_REASONS",
    "ID_MAX_BYTES",
    "JUDGMENT_TYPES",
    "MESSAGE_FIELDS",
    "MESSAGE_ROLES",
    "MODEL_FIELDS",
    "MODEL_KEYS",
    "OUTCOMES",
    "PAYLOAD_FIELDS",
    "PROJECT_PATTERN",
    "PROJECT_RE",
    "PROJECT_RULE",
    "SCHEMA_VERSION",
    "SCORER_KINDS",
    "SIGNAL_KINDS",
    "SOURCE_KINDS",
    "UPCASTERS",
    "UUID_PATTERN",
    "UUID_RE",
    "Limits",
    "candidate_ids",
    "is_empty_answer",
    "is_continuation",
    "chat_turn",
    "candidate_text",
    "candidate_messages",
    "canonical_json",
    "check_event",
    "format_datetime",
    "format_time",
    "new_id",
    "normalize_time",
    "now",
    "parse_time",
    "ranking_groups",
    "upcast",
    "validate_event",
}


def test_all_is_pinned_and_every_name_exists() -> None:
    assert set(events.__all__) == EXPORTED
    assert len(events.__all__) == len(EXPORTED)
    for name in events.__all__:
        assert getattr(events, name) is not None, name


def test_the_names_of_the_single_module_still_import() -> None:
    from preflog.events import _ID_MAX, _PROJECT_RE

    assert _ID_MAX == 256 and _PROJECT_RE.match("demo") and not _PROJECT_RE.match("-x")


def test_contract_constants_are_defined_once() -> None:
    """The SDK, the JSON Schema and the API keys use the contract's own objects, not copies."""
    from preflog import schema
    from preflog.sdk import args, build, client
    from preflog.server import keys

    assert args.CANDIDATE_KEYS is events.CANDIDATE_KEYS and args.MODEL_KEYS is events.MODEL_KEYS
    assert args.ID_MAX_BYTES is build.ID_MAX_BYTES is schema.ID_MAX_BYTES
    assert schema.SCORER_KINDS is events.SCORER_KINDS
    assert keys.PROJECT_RE is client.PROJECT_RE is events.PROJECT_RE
    for module in (args, build, keys, schema, client):
        assert not hasattr(module, "_ID_MAX") and not hasattr(module, "_PROJECT_RE"), module.__name__


def test_limits_defaults_match_the_configuration_table() -> None:
    assert Limits.from_env({}) == Limits()
    for name, value in Limits().__dict__.items():
        assert config.get("PREFLOG_" + name.upper(), {}) == value, name


def test_limits_from_an_explicit_mapping() -> None:
    limits = Limits.from_env({"PREFLOG_MAX_TAGS": "3", "PREFLOG_MAX_OUTPUT_BYTES": "100"})
    assert (limits.max_tags, limits.max_output_bytes, limits.max_candidates) == (3, 100, 16)


def test_limits_from_the_process_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PREFLOG_MAX_CANDIDATES", "5")
    assert Limits.from_env().max_candidates == 5


def test_a_bad_limit_is_a_config_error_naming_the_variable() -> None:
    with pytest.raises(ConfigError, match="PREFLOG_MAX_TAGS: must be an integer, got 'many'"):
        Limits.from_env({"PREFLOG_MAX_TAGS": "many"})
