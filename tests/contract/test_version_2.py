"""Contract version 2, case by case: what it accepts (empty answers, tool calls, refusals, finish
reasons, continuations, tool turns in prompts), how it normalizes them, the field path and reason
of everything malformed, and the helpers that read candidates."""

from __future__ import annotations

from typing import Any

import pytest

from preflog.events import (
    Limits,
    candidate_messages,
    candidate_text,
    check_event,
    is_continuation,
    is_empty_answer,
    validate_event,
)
from tests import factories as f

MODEL = {"name": "m"}
CALL = f.tool_call()


def with_candidates(*cands: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return f.inference(
        candidates=[{"candidate_id": f"c{i}", "model": MODEL, **c} for i, c in enumerate(cands)], **extra
    )


def asking(*turns: dict[str, Any]) -> dict[str, Any]:
    return f.inference(prompt=[{"role": "user", "content": "q"}, *turns])


DEFAULT = Limits()
SHAPE = 'id, type: "function", function: {name, arguments}'


def errors(event: dict[str, Any], limits: Limits = DEFAULT) -> list[str]:
    return [str(e) for e in check_event(event, limits=limits)]


def test_the_every_field_event_is_valid_and_kept_as_sent() -> None:
    event = f.tool_inference()
    assert validate_event(event, project="p") == {**event, "project": "p"}


@pytest.mark.parametrize(
    "cand",
    [
        {"output": ""},
        {"output": "  \n"},
        {"output": "", "finish_reason": "length"},
        {"output": "Let me check.", "tool_calls": [CALL], "finish_reason": "tool_calls"},
        {"output": "", "tool_calls": []},
        {"output": "", "refusal": "I can't help with that."},
        {"output": "x", "finish_reason": "end_turn"},  # another provider's reason: data
        {"tool_calls": [CALL, f.tool_call("call_2", arguments="")]},  # arguments as produced: even empty
        {"tool_calls": [f.tool_call(arguments='{"city": "Par')]},  # or malformed JSON
        {"messages": [{"role": "assistant", "content": "Hi."}]},
        {"messages": [{"role": "assistant", "content": None, "refusal": "No."}]},
    ],
)
def test_answers_that_real_models_give_are_accepted(cand: dict[str, Any]) -> None:
    assert errors(with_candidates(cand)) == []


def test_a_tool_call_or_refusal_without_output_is_normalized_to_an_empty_output() -> None:
    event = with_candidates(
        {"output": None, "tool_calls": [CALL]},
        {"tool_calls": [CALL], "finish_reason": "tool_calls"},
        {"refusal": "No.", "output": None},
        {"messages": [{"role": "assistant", "content": "ok"}]},
    )
    got = validate_event(event)["candidates"]
    assert [c.get("output") for c in got] == ["", "", "", None]
    assert got[1] == {
        "candidate_id": "c1",
        "tool_calls": [CALL],
        "finish_reason": "tool_calls",
        "model": MODEL,
        "output": "",
    }
    assert "output" not in got[3] and validate_event(validate_event(event)) == validate_event(event)


def test_prompts_with_tool_turns_are_accepted() -> None:
    assert errors(f.inference(prompt=f.tool_prompt())) == []
    assert errors(asking({"role": "assistant", "content": "", "tool_calls": [CALL]})) == []
    assert errors(asking({"role": "assistant", "content": ""})) == []  # an empty earlier reply
    assert errors(asking({"role": "tool", "content": ""})) == []  # a tool that answered nothing
    assert errors(asking({"role": "assistant", "content": None, "refusal": "No."})) == []


MALFORMED: list[tuple[dict[str, Any], str]] = [
    (with_candidates({}), "candidates[0].output: required (or messages, for a multi-message continuation)"),
    (
        with_candidates({"output": None}),
        "candidates[0].output: required (or messages, for a multi-message continuation)",
    ),
    (with_candidates({"output": 3}), "candidates[0].output: must be a string, got integer"),
    (with_candidates({"output": "a\x00"}), "candidates[0].output: contains a NUL character"),
    (
        with_candidates({"output": "", "tool_calls": CALL}),
        "candidates[0].tool_calls: must be a list of tool calls {" + SHAPE + "}, got object",
    ),
    (
        with_candidates({"output": "", "tool_calls": ["x"]}),
        "candidates[0].tool_calls[0]: must be a tool call object {" + SHAPE + "}, got string",
    ),
    (
        with_candidates(
            {
                "output": "",
                "tool_calls": [
                    CALL,
                    {**CALL, "id": "call_2", "function": {"name": "f", "arguments": {"a": 1}}},
                ],
            }
        ),
        "candidates[0].tool_calls[1].function.arguments: must be a string, got object",
    ),
    (
        with_candidates({"output": "", "tool_calls": [{**CALL, "function": {"name": "f"}}]}),
        "candidates[0].tool_calls[0].function.arguments: required",
    ),
    (
        with_candidates({"output": "", "tool_calls": [{**CALL, "function": {"arguments": "{}"}}]}),
        "candidates[0].tool_calls[0].function.name: required",
    ),
    (
        with_candidates({"output": "", "tool_calls": [{**CALL, "function": "f()"}]}),
        "candidates[0].tool_calls[0].function: must be an object {name, arguments}, got string",
    ),
    (
        with_candidates({"output": "", "tool_calls": [{"type": "function", "function": CALL["function"]}]}),
        "candidates[0].tool_calls[0].id: required",
    ),
    (
        with_candidates({"output": "", "tool_calls": [{**CALL, "type": "code_interpreter"}]}),
        "candidates[0].tool_calls[0].type: must be \"function\", got 'code_interpreter'",
    ),
    (
        with_candidates({"output": "", "tool_calls": [{k: v for k, v in CALL.items() if k != "type"}]}),
        'candidates[0].tool_calls[0].type: required ("function")',
    ),
    (
        with_candidates({"output": "", "tool_calls": [{**CALL, "index": 0}]}),
        "candidates[0].tool_calls[0].index: unknown field",
    ),
    (
        with_candidates({"output": "", "tool_calls": [CALL, CALL]}),
        "candidates[0].tool_calls[1].id: duplicate tool call id 'call_1'",
    ),
    (with_candidates({"output": "", "refusal": 1}), "candidates[0].refusal: must be a string, got integer"),
    (with_candidates({"output": "", "finish_reason": ""}), "candidates[0].finish_reason: empty"),
    (
        with_candidates({"output": "", "finish_reason": "a\tb"}),
        "candidates[0].finish_reason: must not contain control characters",
    ),
    (
        with_candidates({"output": "a", "messages": [{"role": "assistant", "content": "b"}]}),
        "candidates[0].output: not allowed with messages: a candidate has exactly one of output or messages",
    ),
    (
        with_candidates({"messages": [{"role": "assistant", "content": "b"}], "tool_calls": [CALL]}),
        "candidates[0].tool_calls: not allowed with messages: it belongs on the assistant turn in messages",
    ),
    (
        with_candidates({"messages": []}),
        "candidates[0].messages: empty: a continuation has at least one assistant turn",
    ),
    (
        with_candidates({"messages": "hi"}),
        "candidates[0].messages: must be a list of chat messages, got string",
    ),
    (
        with_candidates({"messages": [{"role": "user", "content": "b"}]}),
        "candidates[0].messages[0].role: a continuation starts with an assistant turn, got 'user'",
    ),
    (
        with_candidates(
            {
                "messages": [
                    {"role": "assistant", "content": "", "tool_calls": [CALL]},
                    {"role": "tool", "content": "1"},
                ]
            }
        ),
        "candidates[0].messages[1].role: a continuation ends with an assistant turn, got 'tool'",
    ),
    (
        with_candidates(
            {
                "messages": [
                    {
                        "role": "assistant",
                        "content": "",
                        "tool_calls": [{**CALL, "function": {"name": "f", "arguments": 1}}],
                    }
                ]
            }
        ),
        "candidates[0].messages[0].tool_calls[0].function.arguments: must be a string, got integer",
    ),
    (
        asking({"role": "assistant", "content": None}),
        "prompt[1].content: required (null only with tool_calls or a refusal)",
    ),
    (
        asking({"role": "assistant", "content": None, "tool_calls": []}),
        "prompt[1].content: required (null only with tool_calls or a refusal)",
    ),
    (asking({"role": "assistant"}), "prompt[1].content: required (null only with tool_calls or a refusal)"),
    (asking({"role": "tool", "tool_call_id": "call_1"}), "prompt[1].content: required"),
    (asking({"role": "user", "content": " "}), "prompt[1].content: empty"),
    (
        asking({"role": "user", "content": "x", "tool_calls": [CALL]}),
        "prompt[1].tool_calls: only on assistant turns",
    ),
    (
        asking({"role": "system", "content": "x", "refusal": "no"}),
        "prompt[1].refusal: only on assistant turns",
    ),
    (
        asking({"role": "assistant", "content": "x", "tool_call_id": "call_1"}),
        "prompt[1].tool_call_id: only on tool turns (the id of the call a tool answers)",
    ),
    (
        asking({"role": "tool", "content": "x", "tool_call_id": "a\nb"}),
        "prompt[1].tool_call_id: must not contain control characters",
    ),
    (asking({"role": "assistant", "content": "x", "audio": None}), "prompt[1].audio: unknown field"),
]


@pytest.mark.parametrize(("event", "message"), MALFORMED, ids=[m.split(":")[0] for _, m in MALFORMED])
def test_malformed_parts_are_named_by_their_field_path(event: dict[str, Any], message: str) -> None:
    assert errors(event) == [message]


def test_sizes_count_every_text_a_candidate_produced() -> None:
    limits = Limits(max_output_bytes=20, max_prompt_bytes=30)
    fits = with_candidates({"output": "x" * 8, "tool_calls": [f.tool_call(name="f", arguments="y" * 10)]})
    assert errors(fits, limits) == []
    both = with_candidates({"output": "x" * 12, "tool_calls": [f.tool_call(name="f", arguments="y" * 12)]})
    assert errors(both, limits) == [
        "candidates[0]: too long: 25 bytes of output, tool calls and turns, limit 20"
    ]
    one = with_candidates({"tool_calls": [f.tool_call(name="f", arguments="y" * 21)]})
    assert errors(one, limits) == ["candidates[0].tool_calls[0].function.arguments: too long: over 20 bytes"]
    turns = [
        {"role": "assistant", "content": "é" * 6},
        {"role": "tool", "content": "z" * 9},
        {"role": "assistant", "content": ""},
    ]
    assert errors(with_candidates({"messages": turns}), limits) == [
        "candidates[0]: too long: 21 bytes of output, tool calls and turns, limit 20"
    ]
    prompt = asking(
        {"role": "assistant", "content": None, "tool_calls": [f.tool_call(name="f", arguments="a" * 40)]}
    )
    assert "prompt[1].tool_calls[0].function.arguments: too long: over 30 bytes" in errors(prompt, limits)


def test_helpers_read_every_kind_of_candidate() -> None:
    answer, empty, refusal, agent = (
        {"output": "", "tool_calls": [CALL]},
        {"output": " "},
        {"output": "", "refusal": "No."},
        f.tool_inference()["candidates"][3],
    )
    assert [is_continuation(c) for c in (answer, empty, refusal, agent)] == [False, False, False, True]
    assert [is_empty_answer(c) for c in (answer, empty, refusal, agent)] == [False, True, False, False]
    assert candidate_messages(answer) == [{"role": "assistant", "content": "", "tool_calls": [CALL]}]
    assert candidate_messages(refusal) == [{"role": "assistant", "content": "", "refusal": "No."}]
    assert (
        candidate_messages(agent) == agent["messages"] and candidate_messages(agent) is not agent["messages"]
    )
    assert candidate_text(agent) == "Paris: 14 °C, Lyon: 12 °C. Paris is warmer."
    assert candidate_text(answer) == "" and candidate_text({"output": "hi"}) == "hi"
    null = {"messages": [{"role": "assistant", "content": None, "tool_calls": [CALL]}]}
    assert candidate_messages(null) == [{"role": "assistant", "content": "", "tool_calls": [CALL]}]
    assert not is_empty_answer(null) and is_empty_answer({"messages": [{"role": "assistant", "content": ""}]})


def test_version_1_events_are_read_as_version_1_when_the_version_is_left_out() -> None:
    event = f.inference()
    assert "schema_version" not in event
    assert validate_event(event)["schema_version"] == 2
    assert validate_event({**event, "schema_version": 1}) == validate_event(event)
    assert errors({**event, "schema_version": 3}) == [
        "schema_version: unsupported version 3; this preflog reads up to 2"
    ]
