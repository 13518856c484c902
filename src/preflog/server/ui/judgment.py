"""Turn what an annotator clicked into the preference (or retraction) event the API would take.

Pure functions: one submitted form in, one event dict out, or a :class:`ValidationError` naming the
field. The event goes through :func:`preflog.server.ingest.ingest`, the same path as ``POST
/v1/events``, so scope checks, validation and idempotency are the API's own.

>>> event = preference_event({"choice": "b", "presented": ["y", "x"]}, request_id="r1",
...     candidates=["x", "y"], annotator="ann-1", key_id="0123456789ab")
>>> event["chosen"], event["rejected"], event["presented"], event["source"]
('x', 'y', ['y', 'x'], {'kind': 'human', 'id': 'ann-1'})
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final

from preflog.errors import ValidationError
from preflog.events import new_id, now

CHOICES: Final = ("a", "b", "tie", "both_bad")
MAX_RATIONALE: Final = 4000


def _presented(raw: Any, candidates: Sequence[str]) -> list[str]:
    if not isinstance(raw, list) or not all(isinstance(c, str) for c in raw):
        raise ValidationError("must be the list of candidate ids in the order shown", "presented")
    if sorted(raw) != sorted(candidates):
        raise ValidationError("must name every candidate of the request exactly once", "presented")
    return list(raw)


def _ranking(raw: Any, presented: list[str]) -> list[str | list[str]]:
    if not isinstance(raw, list) or not raw:
        raise ValidationError("must be candidate ids best first (tie groups as lists)", "ranking")
    groups: list[str | list[str]] = []
    seen: list[str] = []
    for item in raw:
        group = item if isinstance(item, list) else [item]
        if not group or not all(isinstance(c, str) for c in group):
            raise ValidationError("each entry is a candidate id or a list of them", "ranking")
        seen.extend(group)
        groups.append(list(group) if len(group) > 1 else group[0])
    if sorted(seen) != sorted(presented):
        raise ValidationError("must rank every candidate shown exactly once", "ranking")
    return groups


def _options(form: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    strength = form.get("strength")
    if strength not in (None, ""):
        if isinstance(strength, bool) or not isinstance(strength, int | float) or not 0 <= strength <= 1:
            raise ValidationError("must be a number from 0 to 1", "strength")
        out["strength"] = float(strength)
    criterion = form.get("criterion")
    if isinstance(criterion, str) and criterion.strip():
        out["criterion"] = criterion.strip()[:100]
    rationale = form.get("rationale")
    if isinstance(rationale, str) and rationale.strip():
        out["rationale"] = rationale.strip()[:MAX_RATIONALE]
    return out


def preference_event(
    form: Mapping[str, Any],
    *,
    request_id: str,
    candidates: Sequence[str],
    annotator: str,
    key_id: str,
    policy: str | None = None,
) -> dict[str, Any]:
    """The preference event for ``form``: ``{presented, choice | ranking, strength?, criterion?,
    rationale?}``. ``choice`` a/b means the first/second candidate *as presented* was better."""
    presented = _presented(form.get("presented"), candidates)
    event: dict[str, Any] = {
        "event_id": new_id(),
        "type": "preference",
        "request_id": request_id,
        "occurred_at": now(),
        "presented": presented,
        "source": {"kind": "human", "id": annotator},
    }
    choice = form.get("choice")
    if form.get("ranking") is not None:
        event["ranking"] = _ranking(form["ranking"], presented)
    elif choice not in CHOICES:
        raise ValidationError(f"must be one of {', '.join(CHOICES)} (or send a ranking)", "choice")
    elif len(presented) != 2:
        raise ValidationError("a request with more than two candidates needs a ranking", "choice")
    elif choice in ("a", "b"):
        first, second = presented
        event["chosen"], event["rejected"] = (first, second) if choice == "a" else (second, first)
    else:
        event["outcome"], event["candidates"] = choice, presented
    event.update(_options(form))
    metadata = {"via": "web-ui", "key_id": key_id}
    if policy:
        metadata["queue_policy"] = policy
    event["metadata"] = metadata
    return event


def retraction_event(
    judgment_id: str, *, request_id: str, annotator: str, key_id: str, reason: str = "undone in the web UI"
) -> dict[str, Any]:
    return {
        "event_id": new_id(),
        "type": "retraction",
        "request_id": request_id,
        "occurred_at": now(),
        "retracts": judgment_id,
        "reason": reason,
        "source": {"kind": "human", "id": annotator},
        "metadata": {"via": "web-ui", "key_id": key_id},
    }
