"""Reading helpers over valid events, for the parts that consume them (compile, formats, analytics,
the UI), so that none of them re-derives the contract."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any


def candidate_ids(event: Mapping[str, Any]) -> list[str]:
    """The candidate ids an inference offers, or that a judgment names, in order."""
    etype = event.get("type")
    if etype == "inference":
        return [c["candidate_id"] for c in event.get("candidates", [])]
    if etype == "preference":
        if event.get("chosen") is not None:
            return [event["chosen"], event["rejected"]]
        if event.get("ranking") is not None:
            out: list[str] = []
            for item in event["ranking"]:
                out.extend(item if isinstance(item, list) else [item])
            return out
        return list(event.get("candidates", []))
    if etype in ("score", "signal"):
        return [event["candidate_id"]]
    return []


def ranking_groups(ranking: list[str | list[str]]) -> list[list[str]]:
    """A ranking as tie groups, best first: ``["a", ["b", "c"]]`` → ``[["a"], ["b", "c"]]``."""
    return [list(item) if isinstance(item, list) else [item] for item in ranking]


def canonical_json(event: Mapping[str, Any]) -> str:
    """The bytes the store keeps and compares: sorted keys, no spaces, UTF-8 text."""
    return json.dumps(event, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
