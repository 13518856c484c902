"""Erasure end to end: erase a request or a user, find the compiled datasets that held them, and
rewrite those datasets without them.

:func:`erase` appends one ``erasure`` event (the store blanks the content in the same
transaction, see docs/store.md) and reports which requests it touched. With ``rewrite`` it first
reads those requests' texts, then rewrites every earlier dataset under those directories that
holds them (:mod:`preflog.rewrite`: rows removed, manifest and card updated).
:func:`manifests_holding` walks directories for ``manifest.json`` files of earlier compiles and
lists those that contain (or may contain) those requests, so their owners know which datasets to
rebuild:

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
from preflog.rewrite import Rewritten, erased_texts, rewrite_dataset
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
    rewritten: list[Rewritten] = field(default_factory=list)
    texts_unknown: int = 0  # requests already blanked before: their rows cannot be found

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["manifests"] = [m.to_dict() for m in self.manifests]
        out["rewritten"] = [r.to_dict() for r in self.rewritten]
        return out


def requests_of_user(store: Store, project: str, user_id: str) -> list[str]:
    """The requests an erasure of ``user_id`` blanks: those whose inference or signals carry it.
    Read before erasing, since erasure removes the user id from the stored rows."""
    found: set[str] = set()
    for item in store.iter_events(project=project, types=["inference", "signal"]):
        if item.event.get("user_id") == user_id and item.request_id:
            found.add(item.request_id)
    return sorted(found)


def judgments_of_user(store: Store, project: str, user_id: str) -> list[int]:
    """The positions of the judgments the user gave (``source.id``) on requests that are not
    theirs: an erasure of the user blanks them too (the request stays)."""
    found = []
    for item in store.iter_events(project=project, types=["preference", "retraction"]):
        source = item.event.get("source")
        if isinstance(source, dict) and source.get("id") == user_id and not item.erased:
            found.append(item.position)
    return found


def erase(
    store: Store,
    *,
    project: str,
    request_id: str | None = None,
    user_id: str | None = None,
    reason: str | None = None,
    manifests: Sequence[Path | str] = (),
    rewrite: Sequence[Path | str] = (),
) -> ErasureReport:
    """Append an erasure of ``request_id`` or of ``user_id`` (exactly one) to ``project``.

    ``manifests``: directories (or manifest files) of earlier compiles to list when they hold an
    erased request. ``rewrite``: the same, and those datasets are rewritten without the erased
    requests' rows (their texts are read before the erasure blanks them)."""
    if (request_id is None) == (user_id is None):
        raise ValidationError("name exactly one of a request id or a user id", path="request_id")
    event: dict[str, Any] = {"event_id": new_id(), "type": "erasure", "occurred_at": now()}
    judged: list[int] = []
    if user_id is not None:
        event["user_id"] = user_id
        requests = requests_of_user(store, project, user_id)
        judged = judgments_of_user(store, project, user_id)
    else:
        event["request_id"] = request_id
        requests = [str(request_id)]
    if reason:
        event["reason"] = reason
    texts = erased_texts(store, project, requests) if rewrite else []
    (result,) = store.append([event], project=project)
    if result.status == "rejected":
        raise ValidationError(result.reason or "rejected", path=result.field or "")
    report = ErasureReport(
        kind="user" if user_id is not None else "request",
        event_id=str(event["event_id"]),
        status=result.status,
        position=result.position,
        request_ids=requests,
        events_blanked=_blanked(store, project, requests, judged),
        texts_unknown=sum(1 for t in texts if not t.known()),
    )
    if manifests or rewrite:
        dirs = [*manifests, *rewrite]
        report.manifests = manifests_holding(store, project, requests, dirs, erased_at=result.position)
    to_rewrite = {str(p) for p in find_manifests(rewrite)}
    erasure = {"event_id": report.event_id, "position": report.position, "kind": report.kind}
    for hit in report.manifests:
        if hit.path in to_rewrite:
            report.rewritten.append(rewrite_dataset(hit.path, texts, erasure, erased_user=user_id))
    return report


def _blanked(store: Store, project: str, requests: Sequence[str], judged: Sequence[int]) -> int:
    """The events of ``requests`` now blanked, and of the judgments at positions ``judged``."""
    of_requests = {
        item.position
        for rid in requests
        for item in _events_of(store, project, rid)
        if item.erased and item.type != "erasure"
    }
    wanted = set(judged) - of_requests
    if wanted:
        for item in store.iter_events(project=project, types=["preference", "retraction"]):
            if item.position in wanted and item.erased:
                of_requests.add(item.position)
    return len(of_requests)


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
