"""TRL preference rows → an inference and a preference; TRL unpaired (KTO) rows → an inference and
a thumbs signal.

Accepted shapes (as in TRL's dataset-format guide):

- standard, explicit prompt: ``{"prompt": str, "chosen": str, "rejected": str}``;
- conversational, explicit prompt: ``{"prompt": [messages], "chosen": [assistant message],
  "rejected": [assistant message]}`` (a completion that repeats the prompt first is accepted too);
- implicit prompt: ``{"chosen", "rejected"}`` only. Conversations are split at the last assistant
  turn (the turns before it must be equal); strings are split at their longest common prefix, as
  TRL's ``extract_prompt`` does (a space just before the split goes to the completions);
- unpaired: ``{"prompt", "completion", "label": bool}`` → a ``thumbs_up``/``thumbs_down`` signal.

An empty completion is an empty answer, imported as such. Optional keys kept:
``score_chosen``/``score_rejected`` (the preference's ``scores``), ``margin`` and ``id``/``prompt_id``
(in ``metadata``). A leading system message becomes the inference's ``system``. The judge is
``human`` unless ``--source-kind`` says otherwise; the model ``unknown``.

>>> inf, pref = trl_events({"prompt": "2+2?", "chosen": "4", "rejected": "5"}, ImportOptions())
>>> inf["prompt"], pref["chosen"], pref["rejected"]
('2+2?', 'a', 'b')
>>> trl_events({"chosen": "Q: 2+2? A: 4", "rejected": "Q: 2+2? A: 5"}, ImportOptions())[0]["prompt"]
'Q: 2+2? A:'
"""

from __future__ import annotations

from typing import Any

from preflog.errors import ValidationError
from preflog.importers.base import (
    Event,
    ImportOptions,
    Message,
    Row,
    candidate,
    messages_field,
    number_field,
    optional_text,
    pair_events,
    split_last_assistant,
    split_system,
    stable_id,
    text_field,
)

Prompt = str | list[Message]


def common_prefix_prompt(chosen: str, rejected: str) -> str:
    """The prompt of an implicit-prompt standard row: the longest common prefix, without the
    space that ends it (the completions keep it), as TRL's ``extract_prompt`` does.

    >>> common_prefix_prompt("Sky is blue.", "Sky is green.")
    'Sky is'
    """
    limit = min(len(chosen), len(rejected))
    idx = next((i for i in range(limit) if chosen[i] != rejected[i]), limit)
    if idx > 0 and chosen[idx - 1] == " " and idx < limit:
        idx -= 1
    return chosen[:idx]


def _completion(value: Any, prompt: list[Message], key: str) -> str:
    """The reply of a conversational completion: one assistant message, or prompt + that message."""
    messages = messages_field(value, key)
    if len(messages) > 1 and messages[: len(prompt)] == prompt:
        messages = messages[len(prompt) :]
    if len(messages) != 1 or messages[0]["role"] != "assistant":
        raise ValidationError("a completion must be one assistant message", path=key)
    return str(messages[0]["content"])


def split_pair(row: Row) -> tuple[Prompt, str, str]:
    """``(prompt, chosen text, rejected text)`` of a TRL preference row in any accepted shape."""
    chosen, rejected, prompt = row.get("chosen"), row.get("rejected"), row.get("prompt")
    if isinstance(chosen, list) or isinstance(prompt, list):
        if prompt is None:
            chosen_prompt, chosen_text = split_last_assistant(messages_field(chosen, "chosen"), "chosen")
            rejected_prompt, rejected_text = split_last_assistant(
                messages_field(rejected, "rejected"), "rejected"
            )
            if chosen_prompt != rejected_prompt:
                raise ValidationError("differs from chosen before the last assistant turn", path="rejected")
            return chosen_prompt, chosen_text, rejected_text
        messages = messages_field(prompt, "prompt")
        return messages, _completion(chosen, messages, "chosen"), _completion(rejected, messages, "rejected")
    chosen_text = text_field(row, "chosen", allow_empty=True)
    rejected_text = text_field(row, "rejected", allow_empty=True)
    if prompt is None:
        implicit = common_prefix_prompt(chosen_text, rejected_text)
        return implicit, chosen_text[len(implicit) :], rejected_text[len(implicit) :]
    return text_field(row, "prompt"), chosen_text, rejected_text


def _system(prompt: Prompt) -> tuple[str | None, Prompt]:
    return split_system(prompt) if isinstance(prompt, list) else (None, prompt)


def _metadata(row: Row) -> dict[str, Any] | None:
    out: dict[str, Any] = {}
    for key in ("id", "prompt_id"):
        value = optional_text(row, key)
        if value is not None:
            out[key] = value
    margin = number_field(row, "margin")
    if margin is not None:
        out["margin"] = margin
    return out or None


def trl_events(row: Row, options: ImportOptions) -> list[Event]:
    if "completion" in row and "label" in row and "chosen" not in row:
        return unpaired_events(row, options)
    prompt, chosen, rejected = split_pair(row)
    system, prompt = _system(prompt)
    if not prompt:
        raise ValidationError("no prompt before the completions", path="prompt")
    score_chosen, score_rejected = number_field(row, "score_chosen"), number_field(row, "score_rejected")
    scores = (
        (score_chosen, score_rejected) if score_chosen is not None and score_rejected is not None else None
    )
    metadata = _metadata(row)
    return pair_events(
        "trl",
        {
            "prompt": prompt,
            "system": system,
            "chosen": chosen,
            "rejected": rejected,
            "scores": scores,
            "metadata": metadata,
        },
        prompt=prompt,
        system=system,
        chosen=chosen,
        rejected=rejected,
        options=options,
        source_kind="human",
        scores=scores,
        metadata=metadata,
    )


def unpaired_events(row: Row, options: ImportOptions) -> list[Event]:
    """A KTO row ``{prompt, completion, label}``: an inference with candidate ``a`` and a
    ``thumbs_up`` (label true) or ``thumbs_down`` signal on it."""
    label = row.get("label")
    if not isinstance(label, bool):
        raise ValidationError("must be true or false", path="label")
    prompt_value = row.get("prompt")
    completion = row.get("completion")
    prompt: Prompt
    if isinstance(prompt_value, list):
        messages = messages_field(prompt_value, "prompt")
        prompt, text = messages, _completion(completion, messages, "completion")
    else:
        prompt, text = text_field(row, "prompt"), text_field(row, "completion", allow_empty=True)
    system, prompt = _system(prompt)
    request_id = stable_id("trl-kto", "request", {"prompt": prompt, "system": system, "completion": text})
    inference: Event = {
        "event_id": stable_id("trl-kto", "inference", request_id),
        "type": "inference",
        "request_id": request_id,
        "occurred_at": options.occurred_at,
        "prompt": prompt,
        "candidates": [candidate("a", text)],
        "metadata": {"imported_from": "trl"},
    }
    if system is not None:
        inference["system"] = system
    signal: Event = {
        "event_id": stable_id("trl-kto", "signal", request_id, label),
        "type": "signal",
        "request_id": request_id,
        "occurred_at": options.occurred_at,
        "candidate_id": "a",
        "signal": "thumbs_up" if label else "thumbs_down",
    }
    return [inference, signal]
