"""Erasure end to end: erase a request or a user, and find the compiled datasets that held them.

:func:`erase` appends one ``erasure`` event (the store blanks the content in the same
transaction, see docs/store.md) and reports which requests it touched. :func:`manifests_holding`
walks directories for ``manifest.json`` files of earlier compiles and lists those that contain
(or may contain) those requests, so their owners know which datasets to rebuild:

* a manifest that lists its request ids (``request_ids``) or their SHA-256 digests
  (``request_id_sha256``) is matched exactly (``reason="listed"``);
* otherwise by position: a compile of the same project read the events up to its
  ``watermark.position`` (and, when incremental, after ``watermark.previous``), so it may contain
  a request with an event in that window (``reason="watermark"``), unless its watermark is at or
  after the erasure itself (that compile saw the erasure and left the request out). That errs on
  the side of listing.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Final, Literal

from preflog.errors import ValidationError
from preflog.events import new_id, now
from preflog.store.base import Store

MANIFEST_NAME: Final = "manifest.json"


@dataclass(frozen=True)
class ManifestHit:
    """A dataset to rebuild: its manifest, why it matched, and the erased requests it holds."""

    path: str
    reason: Literal["listed", "watermark"]
    request_ids: tuple[str, ...]
    watermark: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return dict(asdict(self), request_ids=list(self.request_ids))


@dataclass
class ErasureReport:
    """What :func:`erase` did: the erasure event, its store answer, and the requests it covers."""

    kind: Literal["request", "user"]
    event_id: str
    status: str
    position: int | None
    request_ids: list[str]
    events_blanked: int
    manifests: list[ManifestHit] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["manifests"] = [m.to_dict() for m in self.manifests]
        return out


def requests_of_user(store: Store, project: str, user_id: str) -> list[str]:
    """The requests an erasure of ``user_id`` blanks: those whose inference or signals carry it.
    Read before erasing, since erasure removes the user id from the stored rows."""
    found: set[str] = set()
    for item in store.iter_events(project=project, types=["inference", "signal"]):
        if item.event.get("user_id") == user_id and item.request_id:
            found.add(item.request_id)
    return sorted(found)


def erase(
    store: Store,
    *,
    project: str,
    request_id: str | None = None,
    user_id: str | None = None,
    reason: str | None = None,
) -> ErasureReport:
    """Append an erasure of ``request_id`` or of ``user_id`` (exactly one) to ``project``."""
    if (request_id is None) == (user_id is None):
        raise ValidationError("name exactly one of a request id or a user id", path="request_id")
    event: dict[str, Any] = {"event_id": new_id(), "type": "erasure", "occurred_at": now()}
    if user_id is not None:
        event["user_id"] = user_id
        requests = requests_of_user(store, project, user_id)
    else:
        event["request_id"] = request_id
        requests = [str(request_id)]
    if reason:
        event["reason"] = reason
    (result,) = store.append([event], project=project)
    if result.status == "rejected":
        raise ValidationError(result.reason or "rejected", path=result.field or "")
    blanked = sum(
        1
        for rid in requests
        for item in _events_of(store, project, rid)
        if item.erased and item.type != "erasure"
    )
    return ErasureReport(
        kind="user" if user_id is not None else "request",
        event_id=str(event["event_id"]),
        status=result.status,
        position=result.position,
        request_ids=requests,
        events_blanked=blanked,
    )


def _events_of(store: Store, project: str, request_id: str) -> list[Any]:
    view = store.get_request(request_id, project=project)
    rows = [view.inference] if view.inference else []
    return rows + view.preferences + view.scores + view.signals + view.retractions + view.erasures


def request_positions(store: Store, project: str, request_ids: Iterable[str]) -> dict[str, list[int]]:
    """The positions of each request's events (they keep their positions after erasure)."""
    return {rid: sorted(e.position for e in _events_of(store, project, rid)) for rid in request_ids}


def find_manifests(dirs: Sequence[Path | str]) -> list[Path]:
    """Every ``manifest.json`` under ``dirs`` (a directory, or a manifest file itself), sorted."""
    found: set[Path] = set()
    for entry in map(Path, dirs):
        if entry.is_file():
            found.add(entry)
        elif entry.is_dir():
            found.update(p for p in entry.rglob(MANIFEST_NAME) if p.is_file())
    return sorted(found)


def manifests_holding(
    store: Store,
    project: str,
    request_ids: Sequence[str],
    dirs: Sequence[Path | str],
    *,
    erased_at: int | None = None,
) -> list[ManifestHit]:
    """The manifests under ``dirs`` of compiles of ``project`` that hold any of ``request_ids``.
    ``erased_at`` is the position of the erasure (by default the first erasure event of each
    request): a compile whose watermark reached it did not emit the request."""
    positions = request_positions(store, project, request_ids)
    if erased_at is None:
        erasures = [
            e.position for rid in request_ids for e in _events_of(store, project, rid) if e.type == "erasure"
        ]
        erased_at = min(erasures, default=None)
    hits = []
    for path in find_manifests(dirs):
        hit = _match(path, project, positions, erased_at)
        if hit is not None:
            hits.append(hit)
    return hits


def _match(
    path: Path, project: str, positions: dict[str, list[int]], erased_at: int | None
) -> ManifestHit | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None  # not a readable manifest: nothing to say about it
    if not isinstance(data, dict) or data.get("project") != project:
        return None
    listed = _listed(data, list(positions))
    if listed is not None:
        return ManifestHit(str(path), "listed", tuple(listed)) if listed else None
    mark = data.get("watermark")
    upper = mark.get("position") if isinstance(mark, dict) else None
    if not isinstance(upper, int) or (erased_at is not None and upper >= erased_at):
        return None
    lower = mark.get("previous") if isinstance(mark, dict) else None
    lower = lower if isinstance(lower, int) else 0
    held = [rid for rid, ps in positions.items() if any(lower < p <= upper for p in ps)]
    return ManifestHit(str(path), "watermark", tuple(held), upper) if held else None


def _listed(data: dict[str, Any], request_ids: list[str]) -> list[str] | None:
    """The requests a manifest lists by id or digest; None when it lists none at all."""
    ids, digests = data.get("request_ids"), data.get("request_id_sha256")
    if isinstance(ids, list):
        known = set(map(str, ids))
        return [rid for rid in request_ids if rid in known]
    if isinstance(digests, list):
        known = set(map(str, digests))
        return [rid for rid in request_ids if hashlib.sha256(rid.encode()).hexdigest() in known]
    return None


__all__ = ["ErasureReport", "ManifestHit", "erase", "manifests_holding", "requests_of_user"]
