"""Upcasting: events written under an older ``schema_version`` brought up to the current one on read.

Events are stored as written and upcast when read (and when appended), never migrated in place.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from preflog.errors import ValidationError
from preflog.events.contract import SCHEMA_VERSION

# UPCASTERS[v] turns a version-v event into a version-(v+1) event. Events are stored as written and
# upcast when read, never migrated in place. Version 1 is the first version, so the table is empty
# until the contract changes.
UPCASTERS: dict[int, Callable[[dict[str, Any]], dict[str, Any]]] = {}


def needs_upcast(event: Mapping[str, Any]) -> bool:
    version = event.get("schema_version", SCHEMA_VERSION)
    return isinstance(version, int) and not isinstance(version, bool) and version < SCHEMA_VERSION


def upcast(event: Mapping[str, Any]) -> dict[str, Any]:
    """Bring an event written under an older ``schema_version`` up to :data:`SCHEMA_VERSION`."""
    out = dict(event)
    version = out.get("schema_version", SCHEMA_VERSION)
    while isinstance(version, int) and version < SCHEMA_VERSION:
        step = UPCASTERS.get(version)
        if step is None:
            raise ValidationError(f"no upcaster from version {version}", path="schema_version")
        out = step(out)
        version += 1
        out["schema_version"] = version
    return out
