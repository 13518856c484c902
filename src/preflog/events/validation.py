"""Validation and normalization of one event: :func:`check_event` and :func:`validate_event`.

:func:`validate_event` checks an event against the contract and returns its *normalized* form:
defaults filled in (``schema_version``, ``project``), ``occurred_at`` rewritten to UTC with
microseconds (``2026-11-26T21:37:14.123456Z``) and ``received_at`` removed (only the store sets
it). Every problem is reported with the field path, e.g. ``candidates[1].output: empty``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Final

from preflog.errors import FieldError, ValidationError
from preflog.events.candidates import normalize_candidates
from preflog.events.checker import Checker, kind_of
from preflog.events.contract import (
    DEFAULT_LIMITS,
    ENVELOPE_FIELDS,
    EVENT_TYPES,
    PAYLOAD_FIELDS,
    PROJECT_RE,
    PROJECT_RULE,
    SCHEMA_VERSION,
    UUID_RE,
    Limits,
)
from preflog.events.ids import normalize_time, parse_time
from preflog.events.inference import check_inference
from preflog.events.judgments import (
    check_erasure,
    check_preference,
    check_retraction,
    check_score,
    check_signal,
)
from preflog.events.upcast import needs_upcast, upcast


def _check_envelope(c: Checker, event: Mapping[str, Any], project: str | None) -> str | None:
    event_id = c.ident(event, "event_id", "event_id", required=True)
    if event_id is not None and not UUID_RE.match(event_id):
        c.fail("event_id", "must be a UUID")
    etype = event.get("type")
    if etype is None:
        c.fail("type", "required")
    elif etype not in EVENT_TYPES:
        c.fail("type", f"must be one of {', '.join(EVENT_TYPES)}, got {etype!r}")
        etype = None
    version = event.get("schema_version", SCHEMA_VERSION)
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        c.fail("schema_version", "must be a positive integer")
    elif version > SCHEMA_VERSION:
        c.fail("schema_version", f"unsupported version {version}; this preflog reads up to {SCHEMA_VERSION}")
    if etype != "erasure" or event.get("user_id") is None:  # user_id: null is no user: by request
        c.ident(event, "request_id", "request_id", required=True)
    elif event.get("request_id") is not None:
        c.fail("request_id", "an erasure names either request_id or user_id, not both")
    own = c.ident(event, "project", "project")
    if own is not None and not PROJECT_RE.match(own):
        c.fail("project", PROJECT_RULE)
    if project is not None and own is not None and own != project:
        c.fail("project", f"names project {own!r}, but this write is scoped to {project!r}")
    occurred = event.get("occurred_at")
    if occurred is None:
        c.fail("occurred_at", "required")
    elif not isinstance(occurred, str):
        c.fail("occurred_at", f"must be an RFC 3339 string, got {kind_of(occurred)}")
    else:
        try:
            parse_time(occurred)
        except ValueError as exc:
            c.fail("occurred_at", f"not an RFC 3339 timestamp with offset ({exc})")
    return etype if isinstance(etype, str) else None


_PAYLOAD_CHECKS: Final[dict[str, Callable[[Checker, Mapping[str, Any]], None]]] = {
    "inference": check_inference,
    "preference": check_preference,
    "score": check_score,
    "signal": check_signal,
    "retraction": check_retraction,
    "erasure": check_erasure,
}


def check_event(raw: Any, *, limits: Limits = DEFAULT_LIMITS, project: str | None = None) -> list[FieldError]:
    """Every problem with ``raw`` as a current-version event (after upcasting); empty when it is valid."""
    return _checked(raw, limits, project)[0]


def _checked(raw: Any, limits: Limits, project: str | None) -> tuple[list[FieldError], dict[str, Any]]:
    """The problems with ``raw``, and the event they were found in: ``raw`` upcast (a new dict),
    or ``raw`` itself when it was written under the current version."""
    if not isinstance(raw, dict):
        return [FieldError("", f"an event must be a JSON object, got {kind_of(raw)}")], {}
    c = Checker(limits)
    event = upcast(raw) if needs_upcast(raw) else raw
    etype = _check_envelope(c, event, project)
    if etype is not None:
        c.unknown(event, ENVELOPE_FIELDS + PAYLOAD_FIELDS[etype], "")
        _PAYLOAD_CHECKS[etype](c, event)
    return c.errors, event


def validate_event(
    raw: Any, *, limits: Limits = DEFAULT_LIMITS, project: str | None = None
) -> dict[str, Any]:
    """Return the normalized event, or raise :class:`ValidationError` naming every bad field.

    ``project`` is the scope of the write: an event without ``project`` takes it, an event naming
    another project is rejected.

    >>> e = validate_event({"event_id": "0f8fad5b-d9cb-469f-a165-70867728950e", "type": "signal",
    ...     "request_id": "r1", "occurred_at": "2026-11-26T10:00:00+01:00", "candidate_id": "a",
    ...     "signal": "thumbs_up"}, project="demo")
    >>> e["occurred_at"], e["project"], e["schema_version"]
    ('2026-11-26T09:00:00.000000Z', 'demo', 2)
    """
    errors, event = _checked(raw, limits, project)
    if errors:
        raise ValidationError(errors)
    if event is raw:  # written under the current version: not yet copied, nor normalized
        event = dict(raw)
        if event["type"] == "inference":
            event["candidates"] = normalize_candidates(event["candidates"])
    event["schema_version"] = SCHEMA_VERSION
    event["occurred_at"] = normalize_time(event["occurred_at"])
    event.pop("received_at", None)
    if project is not None:
        event["project"] = project
    return {k: v for k, v in event.items() if v is not None}
