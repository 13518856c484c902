"""The texts version 2 added (tool-call arguments, refusals, continuation turns, tool results in
prompts) are redacted on ingest and blanked by erasure like outputs, on both stores."""

from __future__ import annotations

from typing import Any

from preflog.redact import Redactor
from preflog.store.base import Store
from tests import factories as f
from tests.store.test_redaction import _raw_bodies

EMAIL = "ann@example.com"


def event_full_of_emails() -> dict[str, Any]:
    args = f'{{"to": "{EMAIL}"}}'
    event = f.tool_inference()
    event["prompt"][2]["tool_calls"] = [f.tool_call(arguments=args)]
    event["prompt"][3]["content"] = f"sent to {EMAIL}"
    first, _, refusal, agent = event["candidates"]
    first["tool_calls"] = [f.tool_call("call_2", arguments=args)]
    refusal["refusal"] = f"I won't write to {EMAIL}."
    agent["messages"][0]["tool_calls"] = [f.tool_call("call_3", arguments=args)]
    agent["messages"][1]["content"] = f"{EMAIL}: delivered"
    agent["messages"][2]["content"] = f"Done, {EMAIL} has it."
    return event


def test_every_version_2_text_is_redacted_before_storing(store: Store, project: str) -> None:
    store.redactor = Redactor.from_names(["email"])
    event = event_full_of_emails()
    assert store.append([event], project=project)[0].status == "stored"
    assert EMAIL not in _raw_bodies(store, project)
    view = store.get_request(event["request_id"], project=project)
    assert view.inference is not None
    got = view.inference.event
    assert got["prompt"][2]["tool_calls"][0]["function"]["arguments"] == '{"to": "[REDACTED:email]"}'
    assert got["candidates"][2]["refusal"] == "I won't write to [REDACTED:email]."
    assert got["candidates"][3]["messages"][1]["content"] == "[REDACTED:email]: delivered"
    assert got["candidates"][3]["messages"][0]["tool_calls"][0]["id"] == "call_3"  # ids are kept
    assert store.redaction_counts() == {"email": 7}


def test_erasure_blanks_every_version_2_text(store: Store, project: str) -> None:
    event = event_full_of_emails()
    store.append([event, f.erasure(request_id=event["request_id"])], project=project)
    assert EMAIL not in _raw_bodies(store, project)
    view = store.get_request(event["request_id"], project=project)
    assert view.inference is not None and view.inference.erased
    for cand in view.inference.event["candidates"]:
        assert not {"output", "messages", "tool_calls", "refusal"} & cand.keys()
