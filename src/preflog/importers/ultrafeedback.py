"""UltraFeedback-binarized rows → an inference and a preference that keeps the two scores.

Input (``HuggingFaceH4/ultrafeedback_binarized``): ``prompt`` (the user's text), ``prompt_id``,
``chosen`` and ``rejected`` (each the whole conversation as chat messages, ending with the
assistant's reply), ``score_chosen``, ``score_rejected`` and ``messages`` (a copy of ``chosen``,
ignored). The prompt is ``chosen`` before its last assistant message (it must equal ``rejected``'s);
``prompt`` itself is used when the conversations carry only the reply.

The scores are kept on the preference as ``scores: {"a": score_chosen, "b": score_rejected}`` —
not as separate score events, which compile would resolve into a second, duplicate pair. The judge
is ``ai_judge`` (UltraFeedback's ratings come from GPT-4) with id ``ultrafeedback``; ``prompt_id``
goes to the inference's ``metadata``.

>>> row = {"prompt": "2+2?", "prompt_id": "p1", "score_chosen": 9.0, "score_rejected": 2.0,
...        "chosen": [{"role": "user", "content": "2+2?"}, {"role": "assistant", "content": "4"}],
...        "rejected": [{"role": "user", "content": "2+2?"}, {"role": "assistant", "content": "5"}]}
>>> inference, preference = ultrafeedback_events(row, ImportOptions())
>>> inference["prompt"], preference["scores"]
([{'role': 'user', 'content': '2+2?'}], {'a': 9.0, 'b': 2.0})
"""

from __future__ import annotations

from preflog.errors import ValidationError
from preflog.importers.base import (
    Event,
    ImportOptions,
    Message,
    Row,
    messages_field,
    number_field,
    optional_text,
    pair_events,
    split_last_assistant,
    split_system,
)


def ultrafeedback_events(row: Row, options: ImportOptions) -> list[Event]:
    chosen_prompt, chosen = split_last_assistant(messages_field(row.get("chosen"), "chosen"), "chosen")
    rejected_prompt, rejected = split_last_assistant(
        messages_field(row.get("rejected"), "rejected"), "rejected"
    )
    if chosen_prompt != rejected_prompt:
        raise ValidationError("differs from chosen before the last assistant message", path="rejected")
    prompt: list[Message] = chosen_prompt
    if not prompt:
        text = row.get("prompt")
        if not isinstance(text, str) or not text.strip():
            raise ValidationError("required when chosen holds only the reply", path="prompt")
        prompt = [{"role": "user", "content": text}]
    system, prompt = split_system(prompt)
    score_chosen, score_rejected = number_field(row, "score_chosen"), number_field(row, "score_rejected")
    if (score_chosen is None) != (score_rejected is None):
        raise ValidationError("score_chosen and score_rejected go together", path="score_rejected")
    scores = (
        (score_chosen, score_rejected) if score_chosen is not None and score_rejected is not None else None
    )
    prompt_id = optional_text(row, "prompt_id")
    return pair_events(
        "ultrafeedback",
        {"prompt": prompt, "system": system, "chosen": chosen, "rejected": rejected, "scores": scores},
        prompt=prompt,
        system=system,
        chosen=chosen,
        rejected=rejected,
        options=options,
        source_kind="ai_judge",
        source_id="ultrafeedback",
        scores=scores,
        metadata={"prompt_id": prompt_id} if prompt_id else None,
    )
