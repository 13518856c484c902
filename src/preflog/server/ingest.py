"""Writing a batch: check each event against the caller's key, append the rest, answer per event.

Runs in a worker thread (parsing and validation are CPU work; the store call blocks). Each event
gets one result, in input order: ``{"index", "line"?, "status", "event_id"?, "request_id"?,
"position"?, "field"?, "reason"?}``. The status code makes partial success unmistakable:

* **200**: every event was ``stored`` or a ``duplicate`` (an empty batch too);
* **207** (Multi-Status): some were accepted and some were ``rejected`` or in ``conflict``;
  ``partial`` is true and ``counts`` says how many of each;
* **422**: no event was accepted.

An event naming another project than the key's, or of a type the key's scope may not write, is
``rejected`` on its own (field ``project`` or ``type``); the rest of the batch is still stored.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from preflog.events import EVENT_TYPES, new_id, now
from preflog.server.auth import Principal
from preflog.server.body import Item
from preflog.server.state import Sink
from preflog.store.base import AppendResult

STATUSES: Final = ("stored", "duplicate", "conflict", "rejected")
_TYPES: Final = frozenset(EVENT_TYPES)


@dataclass
class BatchOutcome:
    results: list[dict[str, Any]]
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(STATUSES, 0))
    outcomes: list[tuple[str, str]] = field(default_factory=list)  # (event type, status) for metrics

    @property
    def accepted(self) -> int:
        return self.counts["stored"] + self.counts["duplicate"]

    @property
    def status_code(self) -> int:
        if self.accepted == len(self.results):
            return 200
        return 207 if self.accepted else 422

    def to_dict(self) -> dict[str, Any]:
        return {
            "partial": self.status_code == 207,
            "counts": self.counts,
            "results": self.results,
        }


def fill_defaults(value: Any, event_type: str) -> Any:
    """What a convenience route (``POST /v1/inferences``...) adds to an event that lacks it:
    ``type``, a new ``event_id``, ``occurred_at`` = now, and for an inference a new ``request_id``."""
    if not isinstance(value, dict):
        return value
    value.setdefault("type", event_type)
    if value.get("event_id") is None:
        value["event_id"] = new_id()
    if value.get("occurred_at") is None:
        value["occurred_at"] = now()
    if event_type == "inference" and value.get("request_id") is None:
        value["request_id"] = new_id()
    return value


def _precheck(item: Item, principal: Principal, only_type: str | None) -> tuple[str, str] | None:
    """``(field, reason)`` when the event is refused before it reaches the store."""
    if item.error is not None:
        return "", item.error
    value = item.value
    if not isinstance(value, dict):
        return "", f"an event must be a JSON object, got {type(value).__name__}"
    etype = value.get("type")
    if only_type is not None and etype != only_type:
        return "type", f"this route takes {only_type} events, got {etype!r}"
    if isinstance(etype, str) and etype in _TYPES and not principal.may_write(etype):
        return "type", f"a key with scope {principal.scope!r} cannot write {etype} events"
    return None


def _entry(item: Item, result: AppendResult) -> dict[str, Any]:
    entry: dict[str, Any] = {"index": item.index}
    if item.line is not None:
        entry["line"] = item.line
    entry.update(result.to_dict())
    value = item.value
    if isinstance(value, dict):
        event_id, request_id = value.get("event_id"), value.get("request_id")
        if "event_id" not in entry and isinstance(event_id, str):
            entry["event_id"] = event_id
        if isinstance(request_id, str):
            entry["request_id"] = request_id
    return entry


def _type_label(item: Item) -> str:
    etype = item.value.get("type") if isinstance(item.value, dict) else None
    return etype if isinstance(etype, str) and etype in _TYPES else "invalid"


def ingest(
    store: Sink, principal: Principal, items: Sequence[Item], *, only_type: str | None = None
) -> BatchOutcome:
    """Append the events of ``items`` that pass the key's checks; one result per item, in order."""
    answers: list[AppendResult | None] = [None] * len(items)
    passed: list[Item] = []
    for item in items:
        problem = _precheck(item, principal, only_type)
        if problem is None:
            passed.append(item)
        else:
            answers[item.index] = AppendResult("rejected", field=problem[0], reason=problem[1])
    if passed:
        stored = store.append([item.value for item in passed], project=principal.project)
        for item, answer in zip(passed, stored, strict=True):
            answers[item.index] = answer
    outcome = BatchOutcome(results=[])
    for item, maybe in zip(items, answers, strict=True):
        assert maybe is not None
        outcome.results.append(_entry(item, maybe))
        outcome.counts[maybe.status] += 1
        outcome.outcomes.append((_type_label(item), maybe.status))
    return outcome
