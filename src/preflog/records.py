"""The records compile emits and format writers consume: :class:`Pair` and :class:`Unpaired`.

They live apart from both ``preflog.compile`` and ``preflog.formats`` so that compile depends on
formats and never the other way round (formats read and write records; compile makes them).

Both are frozen, JSON-able (:meth:`Pair.to_dict` / :meth:`Pair.from_dict` round-trip exactly) and
carry everything a format needs: the prompt as logged (a string, or chat messages before the
reply), the optional system prompt, the exact candidate replies that were shown, and provenance
(request and candidate ids, models, judge kinds, agreement). A format writer turns one record into
one row and never looks anything up.

A reply (:data:`Reply`) is the candidate's text when that is all it is — the common case, and the
only one before event contract version 2 — and otherwise the assistant-side chat messages: one
assistant message carrying ``tool_calls`` or a ``refusal``, or the messages of a multi-message
continuation (assistant tool call → tool result → assistant answer, or several turns). What an
item needs a format to carry beyond plain text is :func:`needs` (see :data:`FEATURES`).

>>> p = Pair(prompt="2+2?", system=None, chosen="4", rejected="5", request_id="r1",
...          chosen_id="a", rejected_id="b", chosen_model="m1", rejected_model="m2")
>>> Pair.from_dict(p.to_dict()) == p
True
>>> as_messages("Hi", "Be brief.")
[{'role': 'system', 'content': 'Be brief.'}, {'role': 'user', 'content': 'Hi'}]
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, fields
from typing import Any, Final, TypeAlias

from preflog.events import candidate_messages, is_continuation

#: A chat message: ``role`` and ``content`` (None or empty on an assistant turn that only calls
#: tools), and where they were logged ``tool_calls`` (assistant turns, the OpenAI shape),
#: ``tool_call_id`` and ``name`` (tool turns), ``refusal`` (assistant turns).
Message: TypeAlias = dict[str, Any]
Prompt: TypeAlias = str | list[Message]
#: A candidate's reply: its text, or assistant-side messages when it is more than text.
Reply: TypeAlias = str | list[Message]


@dataclass(frozen=True, slots=True)
class Pair:
    """One preference pair: ``chosen`` was preferred over ``rejected`` for ``prompt``.

    ``margin``: the score gap for pairs resolved from reward scores, or the mean ``strength`` of
    the judgments when they gave one; None otherwise. ``sources``: the judge kinds that voted for
    this pair (sorted, unique: ``human``, ``end_user``, ``reward_model``, ``ai_judge``,
    ``implicit``). ``agreement``: the share of the judgments of this candidate pair that agree with
    this direction (1.0 for a single judgment). ``n_judgments``: how many judgments of this
    candidate pair were aggregated (both directions). ``occurred_at``: the latest agreeing judgment.
    ``judgment_ids``: the event ids of the agreeing judgments, sorted. ``chosen_first``: True when
    the chosen output was presented before the rejected one, False when after, None when unknown.
    """

    prompt: Prompt
    system: str | None
    chosen: Reply
    rejected: Reply
    request_id: str
    chosen_id: str
    rejected_id: str
    chosen_model: str
    rejected_model: str
    margin: float | None = None
    sources: tuple[str, ...] = ()
    criterion: str | None = None
    agreement: float = 1.0
    n_judgments: int = 1
    user_id: str | None = None
    occurred_at: str | None = None
    chosen_first: bool | None = None
    judgment_ids: tuple[str, ...] = ()

    def with_texts(self, prompt: Prompt, system: str | None, chosen: Reply, rejected: Reply) -> Pair:
        """This pair with other texts (like ``dataclasses.replace``, several times faster)."""
        return Pair(
            prompt,
            system,
            chosen,
            rejected,
            self.request_id,
            self.chosen_id,
            self.rejected_id,
            self.chosen_model,
            self.rejected_model,
            self.margin,
            self.sources,
            self.criterion,
            self.agreement,
            self.n_judgments,
            self.user_id,
            self.occurred_at,
            self.chosen_first,
            self.judgment_ids,
        )

    def to_dict(self) -> dict[str, Any]:
        return _to_dict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Pair:
        return cls(**_from_dict(cls, data))


@dataclass(frozen=True, slots=True)
class Unpaired:
    """One unpaired (KTO) example: ``completion`` for ``prompt`` was good (``label`` True) or bad.

    ``signal`` says where the label came from: a signal kind (``thumbs_up``, ``thumbs_down``...),
    ``both_bad`` (a preference outcome), or ``chosen``/``rejected`` when derived from pairs.
    ``source`` is the judge kind (``end_user`` for thumbs, ``implicit`` for other signals).
    """

    prompt: Prompt
    system: str | None
    completion: Reply
    label: bool
    request_id: str
    candidate_id: str
    model: str
    source: str
    signal: str
    criterion: str | None = None
    user_id: str | None = None
    occurred_at: str | None = None
    judgment_ids: tuple[str, ...] = ()

    def with_texts(self, prompt: Prompt, system: str | None, completion: Reply) -> Unpaired:
        """This example with other texts (like ``dataclasses.replace``, several times faster)."""
        return Unpaired(
            prompt,
            system,
            completion,
            self.label,
            self.request_id,
            self.candidate_id,
            self.model,
            self.source,
            self.signal,
            self.criterion,
            self.user_id,
            self.occurred_at,
            self.judgment_ids,
        )

    def to_dict(self) -> dict[str, Any]:
        return _to_dict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Unpaired:
        return cls(**_from_dict(cls, data))


Record: TypeAlias = Pair | Unpaired

_TUPLE_FIELDS: Final = ("sources", "judgment_ids")


def _to_dict(record: Pair | Unpaired) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for f in fields(record):
        value = getattr(record, f.name)
        if isinstance(value, tuple):
            value = list(value)
        elif isinstance(value, list):  # a chat prompt or a structured reply
            value = [dict(m) for m in value]
        out[f.name] = value
    return out


def _from_dict(cls: type[Pair] | type[Unpaired], data: dict[str, Any]) -> dict[str, Any]:
    names = {f.name for f in fields(cls)}
    unknown = set(data) - names
    if unknown:
        raise ValueError(f"{cls.__name__}: unknown fields {sorted(unknown)}")
    kwargs = dict(data)
    for key in _TUPLE_FIELDS:
        if key in kwargs and kwargs[key] is not None:
            kwargs[key] = tuple(kwargs[key])
    return kwargs


# ------------------------------------------------------------------------------------------ prompt helpers

#: The keys a chat message may carry, in the order they are written.
MESSAGE_KEYS: Final = ("role", "content", "tool_calls", "tool_call_id", "name", "refusal")


def message(m: Mapping[str, Any]) -> Message:
    """A copy of chat message ``m`` with its keys in :data:`MESSAGE_KEYS` order (others dropped,
    and the optional ones when None: a columnar file pads every message with every key). ``name``
    is kept on tool turns only (which tool answered); on other turns it was never written.

    >>> message({"content": "Hi", "role": "user", "name": "ann", "refusal": None})
    {'role': 'user', 'content': 'Hi'}
    """
    if len(m) == 2 and "role" in m and "content" in m:  # the common case: a plain turn
        return {"role": m["role"], "content": m["content"]}
    tool = m.get("role") == "tool"
    out = {"role": m.get("role"), "content": m.get("content")}
    out.update((k, m[k]) for k in MESSAGE_KEYS[2:] if m.get(k) is not None and (tool or k != "name"))
    return out


def as_messages(prompt: Prompt, system: str | None = None) -> list[Message]:
    """The prompt as chat messages, with ``system`` first when given (and not already there).

    >>> as_messages([{"role": "user", "content": "Hi"}])
    [{'role': 'user', 'content': 'Hi'}]
    """
    if isinstance(prompt, str):
        messages: list[Message] = [{"role": "user", "content": prompt}]
    else:
        messages = [message(m) for m in prompt]
    if system is not None and not (messages and messages[0]["role"] == "system"):
        messages.insert(0, {"role": "system", "content": system})
    return messages


def is_conversational(prompt: Prompt) -> bool:
    return not isinstance(prompt, str)


def any_conversational(items: Sequence[Pair] | Sequence[Unpaired] | Sequence[Record]) -> bool:
    """Whether any item's prompt is chat messages or carries a system prompt, or any reply is
    messages (then a file-wide conversational shape is needed). Cheap on compile's lazy record
    sequences, which answer through their ``conversational`` attribute without reading texts."""
    hint = getattr(items, "conversational", None)
    if isinstance(hint, bool):
        return hint
    return any(
        not isinstance(item.prompt, str)
        or item.system is not None
        or any(not isinstance(r, str) for r in replies_of(item))
        for item in items
    )


def last_user_text(prompt: Prompt) -> str:
    """The text of the last user turn (the whole prompt when it is a string).

    >>> last_user_text([{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"},
    ...                 {"role": "user", "content": "c"}])
    'c'
    """
    if isinstance(prompt, str):
        return prompt
    for m in reversed(prompt):
        if m["role"] == "user":
            return str(m["content"] or "")
    return str(prompt[-1]["content"] or "") if prompt else ""


def normalized_prompt(prompt: Prompt, system: str | None = None) -> str:
    """The prompt reduced for comparison and splitting: every message's role and whitespace-
    collapsed, lower-cased content (plus, on tool turns and tool calls, those fields as JSON). Two
    prompts differing only in case or spacing are the same.

    >>> a = normalized_prompt("  What is  2+2? ")
    >>> a == normalized_prompt([{"role": "user", "content": "what is 2+2?"}])
    True
    """
    if isinstance(prompt, str) and system is None:
        return "user:" + " ".join(prompt.split()).lower()
    parts = []
    for m in as_messages(prompt, system):
        part = m["role"] + ":" + " ".join((m["content"] or "").split()).lower()
        if len(m) > 2:  # a tool turn or a tool call: which tool and what it said are the prompt too
            part += " " + canonical({k: v for k, v in m.items() if k not in ("role", "content")})
        parts.append(part)
    return "\n".join(parts)


# ------------------------------------------------------------------------------------------ replies

#: What an item may need a format to carry beyond plain text, in the order drops are reported:
#: ``tool_calls`` (tool calls or tool turns in the prompt or a reply), ``continuation`` (a reply of
#: several messages), ``refusal`` (a reply with a refusal).
TOOL_CALLS: Final = "tool_calls"
CONTINUATION: Final = "continuation"
REFUSAL: Final = "refusal"
FEATURES: Final = (TOOL_CALLS, CONTINUATION, REFUSAL)


def canonical(value: Any) -> str:
    """Sorted-key compact JSON: the text two equal values share (for digests and comparison)."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def reply_of(candidate: Mapping[str, Any]) -> Reply:
    """A candidate's reply: its ``output`` when that is all it says, else its chat turns
    (:func:`preflog.events.candidate_messages`: a continuation's ``messages``, or one assistant turn
    with the output and its ``tool_calls`` / ``refusal``). A reply is messages exactly when it needs
    one of :data:`FEATURES`; one plain assistant turn is its text.

    >>> reply_of({"candidate_id": "a", "output": "4", "finish_reason": "stop"})
    '4'
    >>> reply_of({"candidate_id": "a", "output": "", "refusal": "I can't help with that."})
    [{'role': 'assistant', 'content': '', 'refusal': "I can't help with that."}]
    >>> reply_of({"candidate_id": "a", "messages": [{"role": "assistant", "content": "Hi"}]})
    'Hi'
    """
    if (
        not is_continuation(candidate)
        and not candidate.get("tool_calls")
        and candidate.get("refusal") is None
    ):
        output = candidate.get("output")
        return output if isinstance(output, str) else ""
    messages = [message(m) for m in candidate_messages(candidate)]
    if len(messages) == 1 and not needs("", (messages,)):
        return str(messages[0]["content"] or "")
    return messages


def reply_messages(reply: Reply) -> list[Message]:
    """The reply as assistant-side chat messages (a text is one assistant message)."""
    if isinstance(reply, str):
        return [{"role": "assistant", "content": reply}]
    return [message(m) for m in reply]


def reply_length(reply: Reply) -> int:
    """Characters of the reply's text (contents, refusals, tool-call arguments): length balancing."""
    if isinstance(reply, str):
        return len(reply)
    total = 0
    for m in reply:
        total += len(m.get("content") or "") + len(m.get("refusal") or "")
        for call in m.get("tool_calls") or ():
            function = call.get("function") or {}
            total += len(str(function.get("name", ""))) + len(str(function.get("arguments", "")))
    return total


def needs(prompt: Prompt, replies: Iterable[Reply]) -> frozenset[str]:
    """The :data:`FEATURES` an item with this prompt and these replies needs a format to carry.

    >>> sorted(needs("Hi", ["Hello", [{"role": "assistant", "content": "", "refusal": "No."}]]))
    ['refusal']
    """
    out: set[str] = set()
    if not isinstance(prompt, str) and any(_has_tools(m) for m in prompt):
        out.add(TOOL_CALLS)
    for reply in replies:
        if isinstance(reply, str):
            continue
        if len(reply) > 1:
            out.add(CONTINUATION)
        for m in reply:
            if _has_tools(m):
                out.add(TOOL_CALLS)
            if m.get("refusal") is not None:
                out.add(REFUSAL)
    return frozenset(out)


def _has_tools(m: Mapping[str, Any]) -> bool:
    return bool(m.get("tool_calls")) or m.get("role") == "tool" or "tool_call_id" in m


def replies_of(item: Pair | Unpaired) -> tuple[Reply, ...]:
    return (item.chosen, item.rejected) if isinstance(item, Pair) else (item.completion,)


__all__ = [
    "CONTINUATION",
    "FEATURES",
    "MESSAGE_KEYS",
    "REFUSAL",
    "TOOL_CALLS",
    "Message",
    "Pair",
    "Prompt",
    "Record",
    "Reply",
    "Unpaired",
    "any_conversational",
    "as_messages",
    "canonical",
    "is_conversational",
    "last_user_text",
    "message",
    "needs",
    "normalized_prompt",
    "replies_of",
    "reply_length",
    "reply_messages",
    "reply_of",
]
