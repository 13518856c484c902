"""Hypothesis strategies of valid contract-version-2 events, using every new field, and of the
normalized form the validator must give them. Version-1 strategies live in tests/store/test_roundtrip.py."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import strategies as st

from preflog.events import SCHEMA_VERSION
from tests.store.test_roundtrip import envelope, ids, metadata, scalars, texts

# What a model or a tool produces: any text, empty and blank included (never NUL: PostgreSQL's
# JSON cannot hold it, and the contract refuses it everywhere).
produced = st.text(max_size=60).filter(lambda s: "\x00" not in s) | st.sampled_from(["", " ", "\n"])
arguments = (
    st.sampled_from(["", "{}", '{"city": "Paris"'])  # empty, and malformed JSON: kept as the model wrote it
    | st.dictionaries(ids, scalars, max_size=3).map(json.dumps)
    | produced
)
finish_reasons = st.sampled_from(["stop", "length", "content_filter", "tool_calls", "end_turn", "SAFETY"])


def tool_calls(min_size: int = 0) -> st.SearchStrategy[list[dict[str, Any]]]:
    call = st.builds(
        lambda call_id, name, args: {
            "id": call_id,
            "type": "function",
            "function": {"name": name, "arguments": args},
        },
        ids,
        ids,
        arguments,
    )
    return st.lists(call, min_size=min_size, max_size=3, unique_by=lambda c: c["id"])


assistant_turns = st.one_of(
    st.fixed_dictionaries({"role": st.just("assistant"), "content": produced}),
    st.fixed_dictionaries(
        {"role": st.just("assistant"), "content": st.none() | produced, "tool_calls": tool_calls(min_size=1)}
    ),
    st.fixed_dictionaries(
        {"role": st.just("assistant"), "content": st.none() | produced, "refusal": produced}
    ),
)
tool_turns = st.fixed_dictionaries(
    {"role": st.just("tool"), "content": produced}, optional={"tool_call_id": ids, "name": ids}
)
person_turns = st.fixed_dictionaries({"role": st.sampled_from(["system", "user"]), "content": texts})
prompts = texts | st.lists(st.one_of(person_turns, assistant_turns, tool_turns), min_size=1, max_size=5)

answers = st.one_of(
    st.fixed_dictionaries(
        {"output": produced},
        optional={"tool_calls": tool_calls(), "refusal": produced, "finish_reason": finish_reasons},
    ),
    st.fixed_dictionaries(  # OpenAI's tool-call answer: content null, or left out
        {"tool_calls": tool_calls()}, optional={"output": st.none(), "finish_reason": finish_reasons}
    ),
    st.fixed_dictionaries({"refusal": produced}, optional={"output": st.none()}),
)


@st.composite
def continuations(draw: st.DrawFn) -> dict[str, Any]:
    between = draw(st.lists(st.one_of(tool_turns, person_turns, assistant_turns), max_size=3))
    turns = [draw(assistant_turns), *between]
    if len(turns) > 1 or draw(st.booleans()):
        turns.append(draw(assistant_turns))
    cand: dict[str, Any] = {"messages": turns}
    if draw(st.booleans()):
        cand["finish_reason"] = draw(finish_reasons)
    return cand


@st.composite
def inferences_v2(draw: st.DrawFn) -> dict[str, Any]:
    event = draw(envelope("inference"))
    if draw(st.booleans()):
        event["schema_version"] = SCHEMA_VERSION  # else left out: read as version 1, upcast
    event["prompt"] = draw(prompts)
    cids = draw(st.lists(ids, min_size=1, max_size=4, unique=True))
    event["candidates"] = []
    for cid in cids:
        reply = draw(st.one_of(answers, continuations()))
        extra = draw(
            st.fixed_dictionaries(
                {},
                optional={
                    "usage": st.fixed_dictionaries({"input_tokens": st.integers(0, 10**6)}),
                    "latency_ms": st.floats(0, 1e6),
                    "metadata": metadata,
                },
            )
        )
        model = draw(st.fixed_dictionaries({"name": ids}, optional={"version": ids, "provider": ids}))
        event["candidates"].append({"candidate_id": cid, **reply, "model": model, **extra})
    if draw(st.booleans()):
        event["presented"] = draw(st.permutations(cids))
    if draw(st.booleans()):
        event["system"] = draw(texts)
    return event


def normalized(event: dict[str, Any], project: str) -> dict[str, Any]:
    """What validate_event must return for a valid ``event``: every field as sent, the current
    version, the project; a tool call or refusal without output gets ``output: ""``."""
    out = {**event, "project": project, "schema_version": SCHEMA_VERSION}
    if event["type"] == "inference":
        out["candidates"] = [
            {**c, "output": ""}
            if c.get("output") is None and c.get("messages") is None and ("tool_calls" in c or "refusal" in c)
            else c
            for c in event["candidates"]
        ]
    return out
