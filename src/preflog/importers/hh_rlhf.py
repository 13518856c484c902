"""HH-RLHF rows ``{"chosen": transcript, "rejected": transcript}`` → an inference and a preference.

Each transcript is split at its last ``\\n\\nAssistant:`` (see
:func:`preflog.formats.hh_rlhf.parse_pair`): the turns before it are the prompt (chat messages, or
the raw turns when messages would not render back byte-equal), the replies after it are
candidates ``a`` (chosen) and ``b`` (rejected); an empty last reply is an empty output. When the
two transcripts part before their last assistant turn, the prompt is the turns they share and each
candidate is the rest of its transcript as a multi-message continuation (``messages``). The judge
is ``human``; the model is ``unknown``.

>>> events = hh_rlhf_events({"chosen": "\\n\\nHuman: Hi\\n\\nAssistant: Hello",
...                          "rejected": "\\n\\nHuman: Hi\\n\\nAssistant: Go away"}, ImportOptions())
>>> events[0]["prompt"], [c["output"] for c in events[0]["candidates"]]
([{'role': 'user', 'content': 'Hi'}], ['Hello', 'Go away'])
"""

from __future__ import annotations

from preflog.errors import ValidationError
from preflog.formats.hh_rlhf import parse_pair, parse_transcript
from preflog.importers.base import Event, ImportOptions, Row, pair_events, text_field


def hh_rlhf_events(row: Row, options: ImportOptions) -> list[Event]:
    chosen, rejected = text_field(row, "chosen"), text_field(row, "rejected")
    for key, text in (("chosen", chosen), ("rejected", rejected)):
        try:
            parse_transcript(text)
        except ValueError as exc:
            raise ValidationError(str(exc), path=key) from None
    try:
        system, prompt, chosen_reply, rejected_reply = parse_pair(chosen, rejected)
    except ValueError as exc:
        raise ValidationError(str(exc), path="rejected") from None
    return pair_events(
        "hh-rlhf",
        {"chosen": chosen, "rejected": rejected},
        prompt=prompt,
        system=system,
        chosen=chosen_reply,
        rejected=rejected_reply,
        options=options,
        source_kind="human",
    )
