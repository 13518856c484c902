"""``FlakyStore`` wraps a real store so a test can make it unavailable on demand, which a real
SQLite file cannot do deterministically (an open file survives its directory, and root ignores
permissions). Everything else in the server tests runs on real stores (SQLite files, PostgreSQL)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from preflog.errors import StoreUnavailable
from preflog.store.base import AppendResult, RequestView, Store, StoredEvent, StoreStats


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
