"""The redaction rules on their own: what each kind catches and what it leaves alone, custom
patterns, configuration errors, and (hypothesis) determinism and idempotence on any text."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from preflog.errors import ConfigError
from preflog.redact import Redactor

ALL = Redactor.from_names(["all"], {"employee": r"EMP-\d{6}"})

CAUGHT = [
    ("write to ann.lee+x@mail.example.co.uk today", "email"),
    ("call +1 (555) 123-4567", "phone"),
    ("ring 06 12 34 56 78", "phone"),
    ("+44 20 7946 0958", "phone"),
    ("555.123.4567", "phone"),
    ("OPENAI_API_KEY=sk-proj-abcdefghijklmnopqrstuvwxyz012345", "secret"),
    ("aws AKIAIOSFODNN7EXAMPLE", "secret"),
    ("aws secret wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "secret"),
    ("Authorization: Bearer abcdefghijklmnop1234", "secret"),
    ("token ghp_" + "a1B2" * 9, "secret"),
    ("hex 3f786850e387550fdab836ed7e6dc881de23001b", "secret"),
    (
        "jwt eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c",
        "secret",
    ),
    ("-----BEGIN RSA PRIVATE KEY-----\nMIIEow\n-----END RSA PRIVATE KEY-----", "secret"),
    ("preflog key pfl_0123456789ab_" + "x" * 43, "secret"),
    ("badge EMP-123456", "employee"),
]
KEPT = [
    "on 2026-11-26 at 10:00:00",
    "version 1.2.3, host 192.168.100.200",
    "ts 1700000000, order 123456789",
    "pi is 3.14159265358",
    "price $1,299.00",
    "uuid 0f8fad5b-d9cb-469f-a165-70867728950e",
    "What is the capital of France? Paris.",
    "def f(x): return x ** 2  # squares",
]


@pytest.mark.parametrize(("text", "label"), CAUGHT)
def test_each_kind_is_caught(text: str, label: str) -> None:
    out, counts = ALL.redact_text(text)
    assert f"[REDACTED:{label}]" in out
    assert counts.get(label, 0) >= 1


@pytest.mark.parametrize("text", KEPT)
def test_ordinary_text_is_kept(text: str) -> None:
    assert ALL.redact_text(text) == (text, {})


def test_only_the_kinds_asked_for() -> None:
    text = "ann@example.com, +1 555 123 4567, sk-abcdefghijklmnopqrstuvwxyz"
    out, counts = Redactor.from_names(["email"]).redact_text(text)
    assert counts == {"email": 1} and "+1 555 123 4567" in out and "sk-abc" in out
    assert not Redactor.from_names([]).enabled


def test_from_env() -> None:
    r = Redactor.from_env(
        {"PREFLOG_REDACT": "email, phone", "PREFLOG_REDACT_PATTERNS": '{"ticket": "TCK-\\\\d+"}'}
    )
    assert r.redact_text("a@b.io TCK-42")[0] == "[REDACTED:email] [REDACTED:ticket]"
    assert not Redactor.from_env({}).enabled
    assert not Redactor.from_env({"PREFLOG_REDACT": "off"}).enabled


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"PREFLOG_REDACT": "emails"}, "unknown kind 'emails'"),
        ({"PREFLOG_REDACT_PATTERNS": "{not json"}, "not JSON"),
        ({"PREFLOG_REDACT_PATTERNS": '["x"]'}, "JSON object"),
        ({"PREFLOG_REDACT_PATTERNS": '{"Bad Name": "x"}'}, "name 'Bad Name'"),
        ({"PREFLOG_REDACT_PATTERNS": '{"x": "("}'}, "not a regular expression"),
        ({"PREFLOG_REDACT_PATTERNS": '{"x": "a*"}'}, "matches the empty string"),
    ],
)
def test_bad_configuration_is_a_clear_error(env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        Redactor.from_env(env)


def test_event_walk_redacts_text_content_and_leaves_ids_and_input_alone() -> None:
    event = {
        "type": "inference",
        "request_id": "r-ann@example.com",
        "user_id": "ann@example.com",
        "prompt": [{"role": "user", "content": "I am ann@example.com"}],
        "system": "key sk-abcdefghijklmnopqrstuvwxyz",
        "candidates": [
            {"candidate_id": "a", "output": "mail ann@example.com", "metadata": {"n": ["a@b.io", 1]}}
        ],
        "metadata": {"ann@example.com": "x"},
        "features": {"contact": "+1 555 123 4567"},
    }
    before = repr(event)
    out = ALL.redact_event(event)
    assert repr(event) == before  # the caller's event is untouched
    assert out["user_id"] == event["user_id"] and out["request_id"] == event["request_id"]
    assert out["prompt"][0]["content"] == "I am [REDACTED:email]"
    assert out["system"] == "key [REDACTED:secret]"
    assert out["candidates"][0] == {
        "candidate_id": "a",
        "output": "mail [REDACTED:email]",
        "metadata": {"n": ["[REDACTED:email]", 1]},
    }
    assert out["metadata"] == {"ann@example.com": "x"}  # keys are not content
    assert out["features"] == {"contact": "[REDACTED:phone]"}


texts = st.text(st.characters(codec="utf-8"), max_size=200) | st.lists(
    st.sampled_from(["ann@example.com", " ", "+1 555 123 4567", "sk-" + "a1" * 12, "x", "7", "-", "."]),
    max_size=12,
).map("".join)


@settings(max_examples=300, deadline=None)
@given(texts)
def test_redaction_is_deterministic_and_idempotent(text: str) -> None:
    once, _ = ALL.redact_text(text)
    assert ALL.redact_text(text)[0] == once
    assert ALL.redact_text(once) == (once, {})
