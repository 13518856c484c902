"""The records compile emits and format writers consume: :class:`Pair` and :class:`Unpaired`.

They live apart from both ``preflog.compile`` and ``preflog.formats`` so that compile depends on
formats and never the other way round (formats read and write records; compile makes them).

Both are frozen, JSON-able (:meth:`Pair.to_dict` / :meth:`Pair.from_dict` round-trip exactly) and
carry everything a format needs: the prompt as logged (a string, or chat messages before the
reply), the optional system prompt, the exact candidate outputs that were shown, and provenance
(request and candidate ids, models, judge kinds, agreement). A format writer turns one record into
one row and never looks anything up.

>>> p = Pair(prompt="2+2?", system=None, chosen="4", rejected="5", request_id="r1",
...          chosen_id="a", rejected_id="b", chosen_model="m1", rejected_model="m2")
>>> Pair.from_dict(p.to_dict()) == p
True
>>> as_messages("Hi", "Be brief.")
[{'role': 'system', 'content': 'Be brief.'}, {'role': 'user', 'content': 'Hi'}]
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields
from typing import Any, Final, TypeAlias

Message: TypeAlias = dict[str, str]
Prompt: TypeAlias = str | list[Message]


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
    chosen: str
    rejected: str
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

    def with_texts(self, prompt: Prompt, system: str | None, chosen: str, rejected: str) -> Pair:
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
    completion: str
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

    def with_texts(self, prompt: Prompt, system: str | None, completion: str) -> Unpaired:
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
        elif f.name == "prompt" and isinstance(value, list):
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


def as_messages(prompt: Prompt, system: str | None = None) -> list[Message]:
    """The prompt as chat messages, with ``system`` first when given (and not already there).

    >>> as_messages([{"role": "user", "content": "Hi"}])
    [{'role': 'user', 'content': 'Hi'}]
    """
    if isinstance(prompt, str):
        messages: list[Message] = [{"role": "user", "content": prompt}]
    else:
        messages = [{"role": m["role"], "content": m["content"]} for m in prompt]
    if system is not None and not (messages and messages[0]["role"] == "system"):
        messages.insert(0, {"role": "system", "content": system})
    return messages


def is_conversational(prompt: Prompt) -> bool:
    return not isinstance(prompt, str)


def any_conversational(items: Sequence[Pair] | Sequence[Unpaired] | Sequence[Record]) -> bool:
    """Whether any item's prompt is chat messages or carries a system prompt (then a file-wide
    conversational shape is needed). Cheap on compile's lazy record sequences, which answer
    through their ``conversational`` attribute without reading texts."""
    hint = getattr(items, "conversational", None)
    if isinstance(hint, bool):
        return hint
    return any(not isinstance(item.prompt, str) or item.system is not None for item in items)


def last_user_text(prompt: Prompt) -> str:
    """The text of the last user turn (the whole prompt when it is a string).

    >>> last_user_text([{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"},
    ...                 {"role": "user", "content": "c"}])
    'c'
    """
    if isinstance(prompt, str):
        return prompt
    for message in reversed(prompt):
        if message["role"] == "user":
            return message["content"]
    return prompt[-1]["content"] if prompt else ""


def normalized_prompt(prompt: Prompt, system: str | None = None) -> str:
    """The prompt reduced for comparison and splitting: every message's role and whitespace-
    collapsed, lower-cased content. Two prompts differing only in case or spacing are the same.

    >>> a = normalized_prompt("  What is  2+2? ")
    >>> a == normalized_prompt([{"role": "user", "content": "what is 2+2?"}])
    True
    """
    if isinstance(prompt, str) and system is None:
        return "user:" + " ".join(prompt.split()).lower()
    parts = []
    for message in as_messages(prompt, system):
        parts.append(message["role"] + ":" + " ".join(message["content"].split()).lower())
    return "\n".join(parts)


__all__ = [
    "Message",
    "Pair",
    "Prompt",
    "Record",
    "Unpaired",
    "any_conversational",
    "as_messages",
    "is_conversational",
    "last_user_text",
    "normalized_prompt",
]
