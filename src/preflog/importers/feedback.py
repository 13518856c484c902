"""What the tool importers share: times as those tools write them, and their scores or feedback as
preflog judgments.

A tool's score or feedback about one generation becomes:

* a **signal** ``thumbs_up`` / ``thumbs_down`` when its name is one of :data:`THUMBS_NAMES`
  (``user-feedback``, ``user_score``, ``thumbs``... compared ignoring case, ``-`` and ``_``): a
  positive value is a thumbs up, zero or less a thumbs down — the end user's verdict, the input of
  KTO datasets;
* otherwise a **score** of the generation's first candidate (``c0``), its name as the scorer and
  the criterion, the scorer's kind from who gave it (an evaluator → ``ai_judge``, an annotator →
  ``human``).

A score without a number (a categorical label, a free text) has no preflog form and is rejected
with its reason. A comment goes to the judgment's ``metadata.comment``.

>>> utc_time("2026-05-01T12:00:00.5", "t"), utc_time(1_790_000_000, "t")
('2026-05-01T12:00:00.500000Z', '2026-09-21T14:13:20.000000Z')
>>> is_thumbs("User-Feedback"), is_thumbs("helpfulness")
(True, False)
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Final

from preflog.errors import ValidationError
from preflog.events import format_datetime, format_time
from preflog.importers.base import Event, stable_id

THUMBS_NAMES: Final = frozenset(
    {"userfeedback", "userscore", "thumbs", "thumbsup", "thumb", "feedback", "userrating", "enduserfeedback"}
)
#: Beyond this a number is milliseconds, not seconds (1e11 s is the year 5138).
_MILLISECONDS_FROM: Final = 1e11


def is_thumbs(name: str) -> bool:
    return name.lower().replace("-", "").replace("_", "").replace(" ", "") in THUMBS_NAMES


def utc_time(value: Any, path: str) -> str | None:
    """A time as the tools write it — RFC 3339 with or without an offset (none means UTC, as
    LangSmith writes), or Unix seconds or milliseconds — normalized; None when absent."""
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise ValidationError("must be a time", path=path)
    if isinstance(value, int | float):
        if not math.isfinite(value):
            raise ValidationError("must be a time", path=path)
        return format_time(value / 1000 if value > _MILLISECONDS_FROM else value)
    if not isinstance(value, str):
        raise ValidationError("must be a time", path=path)
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise ValidationError(f"not a time ({exc})", path=path) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return format_datetime(moment)


def mapping(value: Any) -> Mapping[str, Any]:
    """``value`` when it is a JSON object, else an empty one: optional nested objects read safely."""
    return value if isinstance(value, Mapping) else {}


def numeric(value: Any) -> float | None:
    """A finite number, booleans as 1 and 0, numeric strings read; None otherwise."""
    if isinstance(value, bool):
        return 1.0 if value else 0.0
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            return None
    if isinstance(value, int | float) and math.isfinite(value):
        return float(value)
    return None


def judgment(
    fmt: str,
    source_id: str,
    *,
    request_id: str,
    name: str,
    value: float,
    occurred_at: str,
    scorer_kind: str | None = None,
    user_id: str | None = None,
    comment: str | None = None,
    metadata: dict[str, Any] | None = None,
    candidate_id: str = "c0",
) -> Event:
    """The signal or score event of one tool score (see the module doc); its id derives from the
    tool's own id of the score (``source_id``)."""
    meta = dict(metadata or {})
    if comment:
        meta["comment"] = comment
    event: Event = {
        "event_id": stable_id(fmt, "judgment", source_id),
        "request_id": request_id,
        "occurred_at": occurred_at,
        "candidate_id": candidate_id,
    }
    if is_thumbs(name):
        event.update(type="signal", signal="thumbs_up" if value > 0 else "thumbs_down")
        if user_id:
            event["user_id"] = user_id
    else:
        scorer: dict[str, Any] = {"name": name}
        if scorer_kind:
            scorer["kind"] = scorer_kind
        event.update(type="score", score=value, scorer=scorer, criterion=name)
    if meta:
        event["metadata"] = meta
    return event
