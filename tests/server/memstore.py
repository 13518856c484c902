"""A minimal in-memory Store for the few server tests that need to control the store's failures.

Everything else runs on real SQLite files; this store exists so a test can make the store
unavailable on demand (``FlakyStore``), which a real file cannot do deterministically.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from preflog.errors import StoreUnavailable, ValidationError
from preflog.events import canonical_json, validate_event
from preflog.store.base import AppendResult, RequestView, Store, StoredEvent, StoreStats


class MemoryStore(Store):
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._events: list[StoredEvent] = []
        self._by_id: dict[tuple[str, str], StoredEvent] = {}

    def append(
        self, events: Sequence[Mapping[str, Any]], *, project: str, validated: bool = False
    ) -> list[AppendResult]:
        out: list[AppendResult] = []
        with self._lock:
            for raw in events:
                try:
                    event = validate_event(raw, limits=self.limits, project=project)
                except ValidationError as exc:
                    eid = raw.get("event_id") if isinstance(raw, Mapping) else None
                    out.append(
                        AppendResult(
                            "rejected", eid if isinstance(eid, str) else None, None, exc.field, exc.reason
                        )
                    )
                    continue
                key = (project, event["event_id"])
                old = self._by_id.get(key)
                if old is not None:
                    same = canonical_json(
                        {k: v for k, v in old.event.items() if k != "received_at"}
                    ) == canonical_json(event)
                    status = "duplicate" if same else "conflict"
                    out.append(
                        AppendResult(
                            status,
                            event["event_id"],
                            old.position,
                            None if same else "event_id",
                            None if same else "same event_id, other content",
                        )
                    )
                    continue
                stored = StoredEvent(
                    len(self._events) + 1, dict(event, received_at="2026-11-26T10:00:00.000000Z")
                )
                self._events.append(stored)
                self._by_id[key] = stored
                out.append(AppendResult("stored", event["event_id"], stored.position))
        return out

    def read(
        self,
        *,
        project: str,
        after: int = 0,
        limit: int = 1000,
        types: Iterable[str] | None = None,
        since: str | None = None,
        until: str | None = None,
    ) -> list[StoredEvent]:
        wanted = set(types) if types is not None else None
        rows = [
            e
            for e in self._events
            if e.position > after and e.event["project"] == project and (wanted is None or e.type in wanted)
        ]
        return rows[:limit]

    def get_request(self, request_id: str, *, project: str) -> RequestView:
        view = RequestView(request_id)
        for e in self._events:
            if e.event["project"] != project or e.request_id != request_id:
                continue
            if e.type == "inference":
                view.inference = e
            else:
                getattr(
                    view,
                    {
                        "preference": "preferences",
                        "score": "scores",
                        "signal": "signals",
                        "retraction": "retractions",
                        "erasure": "erasures",
                    }[e.type],
                ).append(e)
        return view

    def get_event(self, event_id: str, *, project: str) -> StoredEvent | None:
        return self._by_id.get((project, event_id))

    def last_position(self, *, project: str | None = None) -> int:
        return max(
            (e.position for e in self._events if project is None or e.event["project"] == project), default=0
        )

    def stats(self, *, project: str) -> StoreStats:
        raise NotImplementedError

    def projects(self) -> list[str]:
        return sorted({e.event["project"] for e in self._events})

    def close(self) -> None:
        pass


class FlakyStore(Store):
    """Wraps a store; while ``down`` is set every call raises StoreUnavailable, as a store whose
    database went away does (the real backends translate their driver errors to it)."""

    def __init__(self, inner: Store) -> None:
        self.inner = inner
        self.down = False

    def _check(self) -> None:
        if self.down:
            raise StoreUnavailable("connection refused (test: store is down)")

    def append(
        self, events: Sequence[Mapping[str, Any]], *, project: str, validated: bool = False
    ) -> list[AppendResult]:
        self._check()
        return self.inner.append(events, project=project, validated=validated)

    def read(self, **kwargs: Any) -> list[StoredEvent]:  # type: ignore[override]
        self._check()
        return self.inner.read(**kwargs)

    def get_request(self, request_id: str, *, project: str) -> RequestView:
        self._check()
        return self.inner.get_request(request_id, project=project)

    def get_event(self, event_id: str, *, project: str) -> StoredEvent | None:
        self._check()
        return self.inner.get_event(event_id, project=project)

    def last_position(self, *, project: str | None = None) -> int:
        self._check()
        return self.inner.last_position(project=project)

    def stats(self, *, project: str) -> StoreStats:
        self._check()
        return self.inner.stats(project=project)

    def projects(self) -> list[str]:
        self._check()
        return self.inner.projects()

    def close(self) -> None:
        self.inner.close()
