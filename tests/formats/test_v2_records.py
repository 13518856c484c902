"""Event contract v2 at the format boundary, on hand-built records: every format writes an empty
answer and reads it back; the formats that carry tool calls, continuations or refusals write them
in the shape their trainers read and read them back equal; the others refuse such a reply rather
than flatten it (compile drops those items first, see tests/compile/test_v2_compile.py)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from preflog.formats import available_formats, get_format
from preflog.records import CONTINUATION, FEATURES, REFUSAL, TOOL_CALLS, Pair, Reply, as_messages, needs

WEATHER = {
    "id": "call_1",
    "type": "function",
    "function": {"name": "weather", "arguments": '{"city":"Paris"}'},
}
TOOL_PROMPT = [
    {"role": "user", "content": "Weather in Paris?"},
    {"role": "assistant", "content": None, "tool_calls": [WEATHER]},
    {"role": "tool", "tool_call_id": "call_1", "name": "weather", "content": '{"sky":"sunny"}'},
    {"role": "user", "content": "And tomorrow?"},
]
CALL_AGAIN = [{"role": "assistant", "content": "", "tool_calls": [{**WEATHER, "id": "call_2"}]}]
AGENT = [
    {"role": "assistant", "content": "", "tool_calls": [{**WEATHER, "id": "call_3"}]},
    {"role": "tool", "tool_call_id": "call_3", "name": "weather", "content": '{"sky":"rain"}'},
    {"role": "assistant", "content": "Rain tomorrow."},
]
TURNS = [
    {"role": "assistant", "content": "Which city?"},
    {"role": "user", "content": "Paris."},
    {"role": "assistant", "content": "Sunny."},
]
REFUSED = [{"role": "assistant", "content": "", "refusal": "I can't help with that."}]


def pair(prompt: Any, chosen: Reply, rejected: Reply) -> Pair:
    return Pair(prompt, None, chosen, rejected, "r1", "a", "b", "m1", "m2", sources=("human",))


ITEMS = {
    "empty answer": pair("Say nothing.", "", "Something."),
    "tool call vs empty, tool prompt": pair(TOOL_PROMPT, CALL_AGAIN, ""),
    "agent continuation": pair(TOOL_PROMPT, AGENT, "I don't know."),
    "multi-turn continuation": pair([{"role": "user", "content": "Weather?"}], TURNS, "Sunny."),
    "refusal": pair("How do I pick a lock?", "Use a tension wrench.", REFUSED),
}
NEEDS = {
    "empty answer": set(),
    "tool call vs empty, tool prompt": {TOOL_CALLS},
    "agent continuation": {TOOL_CALLS, CONTINUATION},
    "multi-turn continuation": {CONTINUATION},
    "refusal": {REFUSAL},
}
# formats whose rows keep the prompt as chat messages with system apart, so it reads back equal
PROMPT_EXACT = {
    "trl",
    "trl-reward",
    "openrlhf",
    "hh-rlhf",
    "axolotl",
    "llamafactory",
    "ultrafeedback",
    "openai-dpo",
    "nemo-rl",
    "vertex",
}
PAIR_FORMATS = sorted(n for n in available_formats() if get_format(n).kind == "pairs")


def through_json(rows: Any) -> list[dict[str, Any]]:
    return [json.loads(json.dumps(row)) for row in rows]


def test_needs_names_what_each_item_asks_of_a_format() -> None:
    for name, item in ITEMS.items():
        assert needs(item.prompt, (item.chosen, item.rejected)) == NEEDS[name], name


@pytest.mark.parametrize("fmt", PAIR_FORMATS)
@pytest.mark.parametrize("name", sorted(ITEMS))
def test_carried_items_read_back_equal(fmt: str, name: str) -> None:
    spec = get_format(fmt)
    item = ITEMS[name]
    if not NEEDS[name] <= spec.carries:
        if isinstance(item.chosen, str) and isinstance(item.rejected, str):
            return  # a text-only item with a tool prompt: compile drops it (tested there)
        with pytest.raises(ValueError, match=r"text replies only|conversational|single-turn"):
            list(spec.write_rows([item]))
        return
    rows = through_json(spec.write_rows([item]))
    assert spec.read_rows is not None
    (back,) = list(spec.read_rows(rows))
    assert (back.chosen, back.rejected) == (item.chosen, item.rejected)
    if fmt in PROMPT_EXACT:
        assert as_messages(back.prompt, back.system) == as_messages(item.prompt, item.system)


def test_which_formats_carry_what() -> None:
    carried = {n: get_format(n).carries for n in available_formats()}
    for name in ("trl", "trl-reward", "trl-kto", "openrlhf"):
        assert carried[name] == frozenset(FEATURES)
    assert carried["hh-rlhf"] == {CONTINUATION}
    for name in (
        "axolotl",
        "axolotl-chatml-intel",
        "llamafactory",
        "llamafactory-alpaca",
        "ultrafeedback",
        "arena",
    ):
        assert carried[name] == frozenset(), name


def test_trl_rows_are_what_chat_templates_read() -> None:
    (row,) = through_json(get_format("trl").write_rows([ITEMS["tool call vs empty, tool prompt"]]))
    call = row["prompt"][1]["tool_calls"][0]
    assert call["function"]["arguments"] == {"city": "Paris"}  # a mapping, as HF templates iterate it
    assert row["prompt"][2] == TOOL_PROMPT[2]  # the tool turn as logged
    assert row["chosen"][0]["tool_calls"][0]["function"] == {
        "name": "weather",
        "arguments": {"city": "Paris"},
    }
    assert row["rejected"] == [{"role": "assistant", "content": ""}]
    (refused,) = through_json(get_format("trl").write_rows([ITEMS["refusal"]]))
    # the refusal is what the user saw: the content templates render, with the refusal beside it
    assert refused["rejected"] == [
        {"role": "assistant", "content": "I can't help with that.", "refusal": "I can't help with that."}
    ]
    (agent,) = through_json(get_format("trl").write_rows([ITEMS["agent continuation"]]))
    assert [m["role"] for m in agent["chosen"]] == ["assistant", "tool", "assistant"]


def test_a_file_with_any_structured_reply_is_conversational() -> None:
    plain = pair("Q?", "A.", "B.")
    rows = through_json(get_format("trl").write_rows([plain, ITEMS["refusal"]]))
    assert [type(r["prompt"]).__name__ for r in rows] == ["list", "list"]
    assert rows[0]["chosen"] == [{"role": "assistant", "content": "A."}]


def test_hh_rlhf_continuation_is_a_whole_transcript() -> None:
    (row,) = through_json(get_format("hh-rlhf").write_rows([ITEMS["multi-turn continuation"]]))
    assert (
        row["chosen"] == "\n\nHuman: Weather?\n\nAssistant: Which city?\n\nHuman: Paris.\n\nAssistant: Sunny."
    )
    assert row["rejected"] == "\n\nHuman: Weather?\n\nAssistant: Sunny."
