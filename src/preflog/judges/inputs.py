"""What the judges read from the log: inferences as chat conversations, and what was judged before.

A reward model scores one candidate in the context of its prompt; an AI judge compares two
candidates of one request. Both need the same view of a logged inference: the conversation before
the reply (``system`` and the prompt, a string prompt being one user turn) and each candidate's
reply as assistant turns (its ``output``, or the messages of a multi-message continuation).

>>> event = {"request_id": "r1", "prompt": "2+2?", "system": "Be brief.",
...          "candidates": [{"candidate_id": "a", "output": "4", "model": {"name": "m"}}]}
>>> view = inference_view(event, position=7)
>>> view.context
[{'role': 'system', 'content': 'Be brief.'}, {'role': 'user', 'content': '2+2?'}]
>>> view.candidates[0].reply
[{'role': 'assistant', 'content': '4'}]
>>> view.candidates[0].text
'4'
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Final

from preflog.store import Store

# Derived event ids: uuid5 in a namespace of preflog's own, so the same (request, candidate,
# scorer version) always names the same event and a rerun is answered "duplicate".
JUDGES_NAMESPACE: Final = uuid.UUID("5d0c6f1e-4b7a-5c2e-9f3d-7a1b2c3d4e5f")

Message = dict[str, Any]


def derived_id(*parts: str) -> str:
    """A stable event id for ``parts`` (joined with NUL, which no id may contain).

    >>> derived_id("r1", "a", "rm", "v1") == derived_id("r1", "a", "rm", "v1")
    True
    >>> derived_id("r1", "a", "rm", "v1") == derived_id("r1", "a", "rm", "v2")
    False
    """
    return str(uuid.uuid5(JUDGES_NAMESPACE, "\x00".join(parts)))


@dataclass(frozen=True)
class CandidateView:
    candidate_id: str
    model: str
    reply: list[Message]  # the assistant turn(s) this candidate adds to the context

    @property
    def text(self) -> str:
        """The reply as plain text: its turns' contents, tool calls written as JSON."""
        return "\n\n".join(_message_text(m) for m in self.reply)


@dataclass(frozen=True)
class InferenceView:
    request_id: str
    position: int
    context: list[Message]  # the conversation before the reply
    candidates: tuple[CandidateView, ...]
    erased: bool = False

    @property
    def question(self) -> str:
        """The context as plain text (the last user turn alone when that is all there is)."""
        turns = [m for m in self.context if m.get("role") != "system"]
        if len(turns) == 1:
            return _message_text(turns[0])
        return "\n\n".join(f"{m.get('role', 'user')}: {_message_text(m)}" for m in turns)

    def candidate(self, candidate_id: str) -> CandidateView:
        for cand in self.candidates:
            if cand.candidate_id == candidate_id:
                return cand
        raise KeyError(candidate_id)


def _message_text(message: Mapping[str, Any]) -> str:
    content = message.get("content")
    text = content if isinstance(content, str) else ""
    calls = message.get("tool_calls")
    if calls:
        text = (text + "\n" if text else "") + json.dumps(calls, ensure_ascii=False, sort_keys=True)
    return text


def _context(event: Mapping[str, Any]) -> list[Message]:
    turns: list[Message] = []
    system = event.get("system")
    if isinstance(system, str) and system:
        turns.append({"role": "system", "content": system})
    prompt = event.get("prompt")
    if isinstance(prompt, str):
        turns.append({"role": "user", "content": prompt})
    elif isinstance(prompt, list):
        turns.extend(dict(m) for m in prompt if isinstance(m, Mapping))
    return turns


def _reply(cand: Mapping[str, Any]) -> list[Message]:
    messages = cand.get("messages")
    if isinstance(messages, list):  # a multi-message continuation (contract version 2)
        return [dict(m) for m in messages if isinstance(m, Mapping)]
    reply: Message = {"role": "assistant", "content": cand.get("output") or ""}
    if cand.get("tool_calls"):
        reply["tool_calls"] = cand["tool_calls"]
    return [reply]


def inference_view(event: Mapping[str, Any], *, position: int, erased: bool = False) -> InferenceView:
    candidates = tuple(
        CandidateView(
            candidate_id=str(c["candidate_id"]),
            model=str((c.get("model") or {}).get("name", "")),
            reply=_reply(c),
        )
        for c in event.get("candidates") or ()
    )
    return InferenceView(str(event["request_id"]), position, _context(event), candidates, erased)


def iter_inferences(store: Store, *, project: str, after: int = 0) -> Iterator[InferenceView]:
    """The project's inferences after position ``after``, in log order (erased ones included,
    flagged: their text is gone and nothing should judge them)."""
    for item in store.iter_events(project=project, after=after, types=["inference"]):
        yield inference_view(item.event, position=item.position, erased=item.erased)


def scored_by(store: Store, *, project: str, name: str, version: str) -> set[tuple[str, str]]:
    """(request id, candidate id) of every candidate already scored by this scorer version."""
    done: set[tuple[str, str]] = set()
    for item in store.iter_events(project=project, types=["score"]):
        scorer = item.event.get("scorer") or {}
        if scorer.get("name") == name and scorer.get("version") == version:
            done.add((str(item.event["request_id"]), str(item.event["candidate_id"])))
    return done
