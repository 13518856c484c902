"""OpenAI stored chat completions (``store=true``) → inference events.

Input, as the API returns it: the completions list (``GET /v1/chat/completions``: ``{"object":
"list", "data": [chat.completion, ...]}``) and, for each completion, its input messages
(``GET /v1/chat/completions/{id}/messages``: ``{"object": "list", "data": [message, ...]}``), in
one file or several. A message's id is ``<completion id>-<n>``, which ties it to its completion;
a page saved with a ``completion_id`` key beside its ``data`` is read too, and so is a completion
object carrying its input under ``messages``.

* Each completion is one **inference**: request id ``metadata.preflog_request_id`` when the
  application set it, else the completion id; ``occurred_at`` its ``created`` time; the input
  messages are the prompt (leading system and developer messages become ``system``); one
  candidate per choice, ``c{index}``, with its ``finish_reason``, ``refusal`` and ``tool_calls``;
  the model as ``model``; usage (``prompt_tokens`` → ``input_tokens``...) on the candidate when
  there is one choice, else in the inference's ``metadata.usage``.
* ``metadata.user_id`` becomes the inference's ``user_id``; the completion's ``metadata``,
  ``service_tier`` and ``system_fingerprint`` go to ``metadata.openai``.
* A completion whose messages are not in the files is rejected: a logged inference needs its
  prompt. Stored completions carry no judgments; log them later against the request id.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import Any, Final

from preflog.errors import ValidationError
from preflog.importers.base import Event, ImportOptions, stable_id
from preflog.importers.bundle import RowOutcome, SourceRow
from preflog.importers.feedback import mapping, utc_time
from preflog.integrations import chat

FORMAT: Final = "openai-stored"
_MESSAGE_ID: Final = re.compile(r"^(?P<completion>.+)-(?P<index>\d+)$")
USAGE_NAMES: Final = {"prompt_tokens": "input_tokens", "completion_tokens": "output_tokens"}


def usage_of(raw: Any) -> dict[str, Any]:
    """OpenAI ``usage`` with OpenTelemetry names; nested details are left out."""
    if not isinstance(raw, Mapping):
        return {}
    out = {}
    for key, value in raw.items():
        if isinstance(value, int | float) and not isinstance(value, bool) and value >= 0:
            out[USAGE_NAMES.get(str(key), str(key))] = value
    return out


def _completion(row: Mapping[str, Any], messages: list[chat.Message], options: ImportOptions) -> Event:
    completion_id = row.get("id")
    if not isinstance(completion_id, str) or not completion_id:
        raise ValidationError("required", path="id")
    choices = row.get("choices")
    if not isinstance(choices, list) or not choices:
        raise ValidationError("no choices", path="choices")
    if not messages:
        raise ValidationError(
            f"no input messages for {completion_id} in these files (export "
            f"GET /v1/chat/completions/{completion_id}/messages too)",
            path="messages",
        )
    metadata = mapping(row.get("metadata"))
    model = {"name": str(row.get("model") or "unknown")}
    candidates = []
    for position, choice in enumerate(choices):
        if not isinstance(choice, Mapping) or not isinstance(choice.get("message"), Mapping):
            raise ValidationError("must be a choice with a message", path=f"choices[{position}]")
        index = choice.get("index", position)
        candidates.append(
            chat.candidate(
                f"c{index}", choice["message"], model=model, finish_reason=choice.get("finish_reason")
            )
        )
    usage = usage_of(row.get("usage"))
    openai_meta = {
        "id": completion_id,
        **{k: row[k] for k in ("service_tier", "system_fingerprint") if row.get(k)},
    }
    if metadata:
        openai_meta["metadata"] = dict(metadata)
    info: dict[str, Any] = {"imported_from": FORMAT, "openai": openai_meta}
    if usage and len(candidates) == 1:
        candidates[0]["usage"] = usage
    elif usage:
        info["usage"] = usage
    system, prompt = chat.split_system(messages)
    request_id = str(metadata.get("preflog_request_id") or completion_id)
    event: Event = {
        "event_id": stable_id(FORMAT, "inference", completion_id),
        "type": "inference",
        "request_id": request_id,
        "occurred_at": utc_time(row.get("created"), "created") or options.occurred_at,
        "prompt": prompt,
        "candidates": candidates,
        "metadata": info,
    }
    if system is not None:
        event["system"] = system
    if isinstance(metadata.get("user_id"), str) and metadata["user_id"]:
        event["user_id"] = metadata["user_id"]
    return event


def _message_key(value: Mapping[str, Any]) -> tuple[str, int] | None:
    match = _MESSAGE_ID.match(str(value.get("id", "")))
    return (match["completion"], int(match["index"])) if match else None


def _index_messages(rows: Sequence[SourceRow]) -> dict[str, list[tuple[int, chat.Message]]]:
    found: dict[str, list[tuple[int, chat.Message]]] = defaultdict(list)
    for source in rows:
        value = source.value
        if not isinstance(value, Mapping) or "choices" in value:
            continue
        page = value.get("data", value.get("messages"))
        if isinstance(value.get("completion_id"), str) and isinstance(page, list):
            for i, m in enumerate(page):
                if isinstance(m, Mapping):
                    found[value["completion_id"]].append((i, chat.chat_message(m)))
        elif "role" in value and (key := _message_key(value)) is not None:
            found[key[0]].append((key[1], chat.chat_message(value)))
    return found


def openai_stored_events(rows: Sequence[SourceRow], options: ImportOptions) -> list[RowOutcome]:
    messages = _index_messages(rows)
    outcomes = []
    for source in rows:
        value = source.value
        outcome = RowOutcome(source)
        if not isinstance(value, Mapping):
            outcome.error = ValidationError("a row must be a JSON object")
        elif "choices" in value:
            own = value.get("messages")
            given = chat.chat_messages(own) if isinstance(own, list) else []
            stored = [m for _, m in sorted(messages.get(str(value.get("id")), []), key=lambda p: p[0])]
            try:
                outcome.events = [_completion(value, given or stored, options)]
            except ValidationError as exc:
                outcome.error = exc
        elif not ("role" in value or "completion_id" in value):
            outcome.error = ValidationError("neither a chat completion (choices) nor a stored message (role)")
        outcomes.append(outcome)  # a message row gives no event of its own: it is its completion's prompt
    return outcomes
