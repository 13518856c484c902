"""What every importer shares: options, deterministic ids, and checks of one input row's fields.

An importer is a pure function ``(row, options) -> list of events`` (an inference and one or more
judgments). It never does I/O and never invents randomness: every id is a UUID version 5 over
:data:`IMPORT_NAMESPACE` and the row's *identity* (its content), so importing the same file twice
gives the same events, which the store answers as duplicates.

A row that cannot be imported raises :class:`~preflog.errors.ValidationError` naming the field.

>>> a = stable_id("arena", "request", {"question_id": "q1"})
>>> a == stable_id("arena", "request", {"question_id": "q1"}), a == stable_id("arena", "request", "q2")
(True, False)
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final, TypeAlias

from preflog.errors import ValidationError
from preflog.events import MESSAGE_ROLES, SOURCE_KINDS, format_time, normalize_time

Event: TypeAlias = dict[str, Any]
Message: TypeAlias = dict[str, Any]
Reply: TypeAlias = str | list[Message]  # a candidate's text, or its continuation messages
Row: TypeAlias = Mapping[str, Any]

#: The namespace of every id an importer makes (uuid5). Never change it: ids would change with it.
IMPORT_NAMESPACE: Final = uuid.UUID("5b0c7a0e-4a1f-5e2b-9d3c-70726566c06f")

#: ``occurred_at`` of rows that carry no time of their own (TRL, HH-RLHF, UltraFeedback): a fixed
#: instant, so that a second import gives byte-identical events. ``--occurred-at`` overrides it.
DEFAULT_OCCURRED_AT: Final = "1970-01-01T00:00:00.000000Z"

#: The model name of candidates whose model the input does not name.
UNKNOWN_MODEL: Final = "unknown"


@dataclass(frozen=True)
class ImportOptions:
    """How rows become events. ``source_kind``/``source_id`` override the format's default judge;
    ``criterion`` is set on every preference; ``occurred_at`` is the time of rows without one."""

    source_kind: str | None = None
    source_id: str | None = None
    criterion: str | None = None
    occurred_at: str = DEFAULT_OCCURRED_AT

    def __post_init__(self) -> None:
        if self.source_kind is not None and self.source_kind not in SOURCE_KINDS:
            raise ValidationError(
                f"must be one of {', '.join(SOURCE_KINDS)}, got {self.source_kind!r}", path="source_kind"
            )
        try:
            object.__setattr__(self, "occurred_at", normalize_time(self.occurred_at))
        except (TypeError, ValueError) as exc:
            raise ValidationError(f"not an RFC 3339 time with offset ({exc})", path="occurred_at") from exc

    def source(self, kind: str, source_id: str | None = None) -> dict[str, str]:
        """The preference's ``source``: the format's ``kind``/``source_id`` unless overridden."""
        out = {"kind": self.source_kind or kind}
        chosen_id = self.source_id if self.source_id is not None else source_id
        if chosen_id:
            out["id"] = chosen_id
        return out


Converter: TypeAlias = Callable[[Row, ImportOptions], list[Event]]


# ---------------------------------------------------------------------------------------------- ids


def identity(value: Any) -> str:
    """A canonical text of ``value`` (sorted keys, no spaces) to hash into an id."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def stable_id(*parts: Any) -> str:
    """A UUID version 5 over :data:`IMPORT_NAMESPACE` and ``parts`` (strings or JSON values)."""
    text = "\x1f".join(p if isinstance(p, str) else identity(p) for p in parts)
    return str(uuid.uuid5(IMPORT_NAMESPACE, text))


# ---------------------------------------------------------------------------------------------- fields


def text_field(row: Row, key: str, *, allow_empty: bool = False) -> str:
    """``row[key]`` as a string, or a ValidationError naming ``key``."""
    if key not in row or row[key] is None:
        raise ValidationError("required", path=key)
    value = row[key]
    if not isinstance(value, str):
        raise ValidationError(f"must be a string, got {type(value).__name__}", path=key)
    if not allow_empty and not value.strip():
        raise ValidationError("empty", path=key)
    return value


def optional_text(row: Row, key: str) -> str | None:
    value = row.get(key)
    if value is None or value == "":
        return None
    if isinstance(value, list | tuple) and all(isinstance(v, str) for v in value):
        return "/".join(value)  # MT-bench's GPT-4 judge is ["gpt-4", "pair-v2"]
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise ValidationError(f"must be a string, got {type(value).__name__}", path=key)
    return str(value)


def messages_field(value: Any, path: str) -> list[Message]:
    """A list of chat messages ``{role, content}`` (extra keys dropped), checked message by message."""
    if not isinstance(value, list):
        raise ValidationError(f"must be a list of chat messages, got {type(value).__name__}", path=path)
    out: list[Message] = []
    for i, message in enumerate(value):
        where = f"{path}[{i}]"
        if not isinstance(message, Mapping):
            raise ValidationError("must be a chat message {role, content}", path=where)
        role, content = message.get("role"), message.get("content")
        if role not in MESSAGE_ROLES:
            raise ValidationError(f"role must be one of {', '.join(MESSAGE_ROLES)}, got {role!r}", path=where)
        if not isinstance(content, str):
            raise ValidationError("content must be a string", path=where)
        out.append({"role": str(role), "content": content})
    return out


def split_last_assistant(messages: list[Message], path: str) -> tuple[list[Message], str]:
    """A conversation split at its last assistant turn: (the messages before it, its text).

    >>> split_last_assistant([{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Yo"}], "c")
    ([{'role': 'user', 'content': 'Hi'}], 'Yo')
    """
    if not messages or messages[-1]["role"] != "assistant":
        raise ValidationError("must end with an assistant message", path=path)
    return messages[:-1], messages[-1]["content"]


def split_system(messages: list[Message]) -> tuple[str | None, list[Message]]:
    """A leading system message taken out of a prompt: (system text or None, the rest)."""
    if messages and messages[0]["role"] == "system":
        return messages[0]["content"], messages[1:]
    return None, messages


def unix_time(value: Any, path: str) -> str | None:
    """A Unix time in seconds (number) or an RFC 3339 string as a normalized time; None if absent."""
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise ValidationError("must be a Unix time in seconds or an RFC 3339 string", path=path)
    if isinstance(value, int | float):
        return format_time(float(value))
    if isinstance(value, str):
        try:
            return normalize_time(value)
        except ValueError as exc:
            raise ValidationError(f"not a time ({exc})", path=path) from exc
    raise ValidationError("must be a Unix time in seconds or an RFC 3339 string", path=path)


def number_field(row: Row, key: str) -> float | None:
    value = row.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValidationError(f"must be a number, got {type(value).__name__}", path=key)
    return float(value)


# ---------------------------------------------------------------------------------------------- events


def candidate(candidate_id: str, output: Reply, model: str | None = None) -> dict[str, Any]:
    """A candidate with ``output`` (a text, possibly empty) or, for a reply of several turns, the
    continuation ``messages``."""
    key = "output" if isinstance(output, str) else "messages"
    return {"candidate_id": candidate_id, key: output, "model": {"name": model or UNKNOWN_MODEL}}


def pair_events(
    fmt: str,
    row_identity: Any,
    *,
    prompt: str | list[Message],
    system: str | None,
    chosen: Reply,
    rejected: Reply,
    options: ImportOptions,
    source_kind: str,
    source_id: str | None = None,
    scores: tuple[float, float] | None = None,
    metadata: dict[str, Any] | None = None,
) -> list[Event]:
    """The two events of a row that says "``chosen`` beat ``rejected`` for ``prompt``": an inference
    with candidates ``a`` (the chosen text) and ``b`` and a preference ``a`` over ``b``. The order in
    which the two were shown is unknown, so ``presented`` is left out."""
    request_id = stable_id(fmt, "request", row_identity)
    inference: Event = {
        "event_id": stable_id(fmt, "inference", request_id),
        "type": "inference",
        "request_id": request_id,
        "occurred_at": options.occurred_at,
        "prompt": prompt,
        "candidates": [candidate("a", chosen), candidate("b", rejected)],
        "metadata": {"imported_from": fmt, **(metadata or {})},
    }
    if system is not None:
        inference["system"] = system
    preference: Event = {
        "event_id": stable_id(fmt, "preference", request_id),
        "type": "preference",
        "request_id": request_id,
        "occurred_at": options.occurred_at,
        "chosen": "a",
        "rejected": "b",
        "source": options.source(source_kind, source_id),
    }
    if scores is not None:
        preference["scores"] = {"a": scores[0], "b": scores[1]}
    if options.criterion:
        preference["criterion"] = options.criterion
    return [inference, preference]


__all__ = [
    "DEFAULT_OCCURRED_AT",
    "IMPORT_NAMESPACE",
    "UNKNOWN_MODEL",
    "Converter",
    "Event",
    "ImportOptions",
    "Message",
    "Row",
    "candidate",
    "identity",
    "messages_field",
    "number_field",
    "optional_text",
    "pair_events",
    "split_last_assistant",
    "split_system",
    "stable_id",
    "text_field",
    "unix_time",
]
