"""The event contract's fast paths agree with its full checks, and ids are time-ordered UUIDs.

Validation accepts the usual values (a plain id, a short text, an ordinary candidate or chat
message) without running every field check, and normalizes plain UTC times without ``strftime``;
the SDK's worker checks sizes the same way. A fast path may only ever say "valid" where the full
checks find nothing; these properties try to make one lie, with version-2 parts among them.
"""

from __future__ import annotations

import os
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from preflog.events import DEFAULT_LIMITS, ID_MAX_BYTES, Limits, check_event, new_id, normalize_time
from preflog.events.candidates import _check_candidate_fully, _plain_candidate
from preflog.events.candidates import check_candidate as _check_candidate
from preflog.events.checker import Checker, plain_id, plain_text
from preflog.events.messages import check_message, plain_message_bytes
from preflog.sdk.build import deep_check
from tests.contract.strategies import inferences_v2

# Strings that stress the edges: blanks, NUL, tabs and line breaks, wide characters, lengths near
# the limits (a limit of 40 bytes is 10 characters of up to 4 bytes).
edge_text = st.text(
    alphabet=st.sampled_from(
        ["a", " ", "\t", "\n", "\r", "\x00", "\u00e9", "\u4e2d", "\U0001f600", "\u200b", "\u2028"]
    ),
    max_size=80,
) | st.text(max_size=80)
LIMIT = 40


@settings(max_examples=600, deadline=None)
@given(edge_text)
def test_plain_text_is_only_ever_valid_text(value: str) -> None:
    if plain_text(value, LIMIT):
        assert value.strip() and "\x00" not in value
        assert len(value.encode("utf-8", "surrogatepass")) <= LIMIT


@settings(max_examples=600, deadline=None)
@given(edge_text)
def test_plain_id_is_only_ever_a_valid_id(value: str) -> None:
    c = Checker(DEFAULT_LIMITS)
    found = c.ident({"v": value}, "v", "v")
    if plain_id(value):
        assert found == value and c.errors == []
        assert value.strip() and not any(ch in value for ch in "\x00\t\n\r")
        assert len(value.encode("utf-8", "surrogatepass")) <= ID_MAX_BYTES


model_names = st.none() | edge_text | st.integers()
# Version-2 parts, well and badly formed, so that a fast path that skipped them would be caught.
calls = st.lists(
    st.fixed_dictionaries(
        {
            "id": edge_text,
            "type": st.sampled_from(["function", "code"]),
            "function": st.just({"name": "f", "arguments": "{}"}),
        }
    )
    | st.just({"id": "x", "type": "function", "function": {"name": "f", "arguments": {}}})
    | st.integers(),
    max_size=2,
)
turns = st.lists(
    st.fixed_dictionaries(
        {"role": st.sampled_from(["assistant", "tool", "user", "robot"]), "content": st.none() | edge_text},
        optional={"tool_calls": calls, "tool_call_id": edge_text, "refusal": edge_text},
    ),
    max_size=3,
)
candidates = st.fixed_dictionaries(
    {"candidate_id": edge_text, "output": st.none() | edge_text | st.integers()},
    optional={
        "messages": st.none() | turns,
        "tool_calls": st.none() | calls,
        "refusal": st.none() | edge_text,
        "finish_reason": edge_text,
        "model": st.none()
        | st.integers()
        | st.fixed_dictionaries(
            {"name": model_names}, optional={"version": model_names, "provider": model_names}
        ),
        "params": st.dictionaries(
            st.sampled_from(["temperature", "top_p", "seed"]), st.floats() | st.integers()
        ),
        "latency_ms": st.floats() | st.integers(),
        "unknown": st.integers(),
    },
)


@settings(max_examples=800, deadline=None)
@given(candidates)
def test_a_plain_candidate_gets_the_same_answer_as_the_full_checks(cand: dict[str, Any]) -> None:
    fast, full = Checker(DEFAULT_LIMITS), Checker(DEFAULT_LIMITS)
    fast_id = _check_candidate(fast, cand, "candidates[0]")
    full_id = _check_candidate_fully(full, cand, "candidates[0]")
    assert (fast_id, fast.errors) == (full_id, full.errors)
    if _plain_candidate(fast, cand):
        assert full.errors == [] or all(".params" in e.path or ".latency_ms" in e.path for e in full.errors)


messages = st.fixed_dictionaries(
    {
        "role": st.sampled_from(["system", "user", "assistant", "tool", "robot"]),
        "content": st.none() | edge_text,
    },
    optional={
        "name": st.none() | edge_text,
        "tool_calls": st.none() | calls,
        "tool_call_id": st.none() | edge_text,
        "refusal": st.none() | edge_text,
        "other": st.integers(),
    },
)


@settings(max_examples=800, deadline=None)
@given(messages)
def test_a_plain_message_is_only_ever_a_valid_one(msg: dict[str, Any]) -> None:
    full = Checker(DEFAULT_LIMITS)
    size = check_message(full, msg, "prompt[0]", LIMIT)
    fast = plain_message_bytes(msg, LIMIT)
    if fast is not None:
        assert full.errors == [] and fast == size


@settings(max_examples=500, deadline=None)
@given(
    st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30)),
    st.integers(min_value=0, max_value=6),
    st.sampled_from(["Z", "+00:00", "+05:30", "-08:00"]),
)
def test_normalize_time_fast_path_matches_the_general_one(moment: datetime, digits: int, suffix: str) -> None:
    text = moment.replace(microsecond=0).isoformat()  # zero-padded years, unlike strftime
    if digits:
        text += "." + f"{moment.microsecond:06d}"[:digits]
    value = text + suffix
    general = datetime.fromisoformat(value).astimezone(UTC)
    expected = general.replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"
    assert normalize_time(value) == expected


def test_new_ids_are_unique_time_ordered_version_7_uuids() -> None:
    before = datetime.now(UTC) - timedelta(seconds=1)
    ids = [new_id() for _ in range(50_000)]
    after = datetime.now(UTC) + timedelta(seconds=1)
    assert len(set(ids)) == len(ids)
    parsed = [uuid.UUID(i) for i in ids]
    assert {u.version for u in parsed} == {7} and {u.variant for u in parsed} == {uuid.RFC_4122}
    millis = [u.int >> 80 for u in parsed]
    assert millis == sorted(millis)  # time-ordered to the millisecond
    first = datetime.fromtimestamp(millis[0] / 1000, UTC)
    assert before <= first <= after


def test_a_forked_child_does_not_repeat_the_parents_ids() -> None:
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: its ids, to the parent
        os.close(read)
        os.write(write, "\n".join(new_id() for _ in range(1000)).encode())
        os._exit(0)
    os.close(write)
    mine = {new_id() for _ in range(1000)}
    with os.fdopen(read) as pipe:
        theirs = set(pipe.read().split("\n"))
    os.waitpid(pid, 0)
    assert len(theirs) == 1000 and not mine & theirs


@settings(max_examples=150, deadline=None)
@given(inferences_v2(), st.integers(min_value=1, max_value=80))
def test_the_sdk_worker_accepts_exactly_what_the_contract_accepts(event: dict[str, Any], limit: int) -> None:
    """Events as the SDK builds them (valid shapes, checked at call time), under tight size limits."""
    event = {**event, "project": "p", "schema_version": 2}
    limits = Limits(max_output_bytes=limit, max_prompt_bytes=2 * limit)
    _, problem = deep_check(event, limits)
    assert (problem is None) == (check_event(event, limits=limits) == []), problem
