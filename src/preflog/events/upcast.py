"""Upcasting: events written under an older ``schema_version`` brought up to the current one on read.

Events are stored as written and upcast when read (and checked after upcasting when appended),
never migrated in place. An event without ``schema_version`` was written under version 1 (the
version producers knew before there was a choice), so it is upcast like one.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from preflog.errors import ValidationError
from preflog.events.candidates import normalize_candidates
from preflog.events.contract import OMITTED_SCHEMA_VERSION, SCHEMA_VERSION


def _v1_to_v2(event: dict[str, Any]) -> dict[str, Any]:
    """Version 2 only adds (empty outputs; tool calls, refusals, finish reasons; continuations;
    tool turns in prompts), so a version-1 event means the same as a version-2 event: every field
    is kept as it is. Only a candidate written without ``output`` (possible when a producer sent
    version-2 fields under version 1, which validation accepts) gets its normalized ``output: ""``."""
    cands = event.get("candidates")
    if type(cands) is list and event.get("type") == "inference":
        event["candidates"] = normalize_candidates(cands)
    return event


# UPCASTERS[v] turns a version-v event into a version-(v+1) event. Events are stored as written and
# upcast when read, never migrated in place.
UPCASTERS: dict[int, Callable[[dict[str, Any]], dict[str, Any]]] = {1: _v1_to_v2}


def needs_upcast(event: Mapping[str, Any]) -> bool:
    """Whether ``event`` was written under an older version (left out: version 1)."""
    version = event.get("schema_version", OMITTED_SCHEMA_VERSION)
    return isinstance(version, int) and not isinstance(version, bool) and version < SCHEMA_VERSION


def upcast(event: Mapping[str, Any]) -> dict[str, Any]:
    """Bring an event written under an older ``schema_version`` up to :data:`SCHEMA_VERSION`."""
    out = dict(event)
    version = out.get("schema_version", OMITTED_SCHEMA_VERSION)
    while isinstance(version, int) and version < SCHEMA_VERSION:
        step = UPCASTERS.get(version)
        if step is None:
            raise ValidationError(f"no upcaster from version {version}", path="schema_version")
        out = step(out)
        version += 1
        out["schema_version"] = version
    return out
