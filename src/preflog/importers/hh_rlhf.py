"""HH-RLHF rows ``{"chosen": transcript, "rejected": transcript}`` → an inference and a preference.

Each transcript is split at its last ``\\n\\nAssistant:`` (see
:func:`preflog.formats.hh_rlhf.parse_transcript`): the turns before it are the prompt (chat
messages, or the raw turns when messages would not render back byte-equal), the replies after it
are candidates ``a`` (chosen) and ``b`` (rejected). Rows whose transcripts differ before the last
assistant turn, or whose last reply is empty, are rejected: they do not describe one prompt with
two replies. The judge is ``human``; the model is ``unknown``.

>>> events = hh_rlhf_events({"chosen": "\\n\\nHuman: Hi\\n\\nAssistant: Hello",
...                          "rejected": "\\n\\nHuman: Hi\\n\\nAssistant: Go away"}, ImportOptions())
>>> events[0]["prompt"], [c["output"] for c in events[0]["candidates"]]
([{'role': 'user', 'content': 'Hi'}], ['Hello', 'Go away'])
"""

from __future__ import annotations

from preflog.errors import ValidationError
from preflog.formats.hh_rlhf import parse_transcript
from preflog.importers.base import Event, ImportOptions, Row, pair_events, text_field


def hh_rlhf_events(row: Row, options: ImportOptions) -> list[Event]:
    chosen, rejected = text_field(row, "chosen"), text_field(row, "rejected")
    try:
        system, prompt, chosen_text = parse_transcript(chosen)
    except ValueError as exc:
        raise ValidationError(str(exc), path="chosen") from None
    try:
        other_system, other_prompt, rejected_text = parse_transcript(rejected)
    except ValueError as exc:
        raise ValidationError(str(exc), path="rejected") from None
    if (system, prompt) != (other_system, other_prompt):
        raise ValidationError("differs from chosen before the last assistant turn", path="rejected")
    for key, text in (("chosen", chosen_text), ("rejected", rejected_text)):
        if not text.strip():
            raise ValidationError("the last assistant turn is empty", path=key)
    return pair_events(
        "hh-rlhf",
        {"chosen": chosen, "rejected": rejected},
        prompt=prompt,
        system=system,
        chosen=chosen_text,
        rejected=rejected_text,
        options=options,
        source_kind="human",
    )
