"""The store contract every backend implements (:mod:`.sqlite`, :mod:`.postgres`, both on :mod:`.sql`).

A store is an append-only log of events per project. Each stored event gets a ``position`` that
increases in commit order, so a reader asking for events after position N never skips one.
Nothing is updated in place except erasure, which blanks content and keeps envelopes.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

# The answer type is the SDK's too; it lives in preflog.answers so the SDK needs no store code.
from preflog.answers import AppendResult as AppendResult
from preflog.answers import AppendStatus as AppendStatus
from preflog.events import DEFAULT_LIMITS, Limits
from preflog.redact import Redactor


@dataclass(frozen=True)
class StoredEvent:
    """An event as read back: the normalized event dict (upcast to the current version, with
    ``received_at`` and ``project`` filled in) and its position. ``erased`` events keep only the
    envelope and the ids needed to join (``candidate_id``, ``chosen``...): text content is gone."""

    position: int
    event: dict[str, Any]
    erased: bool = False

    @property
    def type(self) -> str:
        return str(self.event["type"])

    @property
    def event_id(self) -> str:
        return str(self.event["event_id"])

    @property
    def request_id(self) -> str | None:
        return self.event.get("request_id")


#: A stored event and its whole JSON text when the store gives it as it is (else None):
#: :meth:`Store.scan_texts`, what the archive's rows are made of.
Scanned = tuple[StoredEvent, str | None]


@dataclass
class RequestView:
    """Everything known about one request, joined: the inference (None until it arrives) and the
    events about it, each list in position order. When ``inference`` is None, the judgments are
    orphans waiting for it. ``retracted`` holds the event ids withdrawn by a retraction."""

    request_id: str
    inference: StoredEvent | None = None
    preferences: list[StoredEvent] = field(default_factory=list)
    scores: list[StoredEvent] = field(default_factory=list)
    signals: list[StoredEvent] = field(default_factory=list)
    retractions: list[StoredEvent] = field(default_factory=list)
    erasures: list[StoredEvent] = field(default_factory=list)

    @property
    def retracted(self) -> set[str]:
        return {str(r.event["retracts"]) for r in self.retractions}

    @property
    def erased(self) -> bool:
        return bool(self.erasures) or (self.inference is not None and self.inference.erased)

    @property
    def orphaned(self) -> bool:
        return self.inference is None and bool(self.preferences or self.scores or self.signals)

    def to_dict(self) -> dict[str, Any]:
        def rows(items: list[StoredEvent]) -> list[dict[str, Any]]:
            return [dict(e.event, position=e.position, erased=e.erased) for e in items]

        return {
            "request_id": self.request_id,
            "inference": rows([self.inference])[0] if self.inference else None,
            "preferences": rows(self.preferences),
            "scores": rows(self.scores),
            "signals": rows(self.signals),
            "retractions": rows(self.retractions),
            "erasures": rows(self.erasures),
            "retracted": sorted(self.retracted),
            "orphaned": self.orphaned,
            "erased": self.erased,
        }


@dataclass(frozen=True)
class StoreStats:
    """Counts for ``preflog stats``: events by type, judgments by source kind, candidates by model,
    and the orphans (requests with judgments but no inference yet)."""

    events: int
    by_type: dict[str, int]
    by_source: dict[str, int]
    by_model: dict[str, int]
    requests: int
    orphan_requests: int
    last_position: int

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


class Store(ABC):
    """The interface of every backend. All methods are scoped to one ``project``.

    Backends translate their driver's errors into :mod:`preflog.errors` (``StoreUnavailable``,
    ``StoreFull``, ``StoreError``). Instances are safe to use from several threads.
    """

    limits: Limits = DEFAULT_LIMITS

    # --- redaction (preflog.redact): applied by append() before anything is written -------------
    _redactor: Redactor | None = None

    @property
    def redactor(self) -> Redactor:
        """What ``append`` redacts: nothing unless a redactor was given (the stores' ``redactor=``
        argument; :func:`preflog.store.open_store` and the service build it from ``PREFLOG_REDACT``)."""
        if self._redactor is None:
            self._redactor = Redactor()
        return self._redactor

    @redactor.setter
    def redactor(self, value: Redactor) -> None:
        self._redactor = value

    def redaction_counts(self) -> dict[str, int]:
        """Replacements made by this store object's appends, by kind (``email``, ``secret``...)."""
        return self.redactor.counts()

    @abstractmethod
    def append(
        self, events: Sequence[Mapping[str, Any]], *, project: str, validated: bool = False
    ) -> list[AppendResult]:
        """Validate and append ``events`` atomically (one transaction) and answer per event, in
        order. Invalid events are ``rejected`` and the valid ones still stored. An event naming
        another project is rejected. ``validated=True`` skips validation for events already built
        by :func:`preflog.events.validate_event` (the SDK's path); they are still normalized.
        Events for a request or user already erased are stored blanked."""

    @abstractmethod
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
        """Events with position > ``after``, in position order, at most ``limit``; optionally only
        some types, and ``since <= occurred_at < until`` (RFC 3339)."""

    def iter_events(
        self,
        *,
        project: str,
        after: int = 0,
        types: Iterable[str] | None = None,
        batch: int = 5000,
        until_position: int | None = None,
    ) -> Iterator[StoredEvent]:
        """All events after ``after`` (up to ``until_position`` inclusive), paged in position order."""
        wanted = list(types) if types is not None else None
        while True:
            page = self.read(project=project, after=after, limit=batch, types=wanted)
            for item in page:
                if until_position is not None and item.position > until_position:
                    return
                yield item
            if len(page) < batch:
                return
            after = page[-1].position

    def scan(
        self, *, project: str, after: int, until_position: int, batch: int = 5000
    ) -> Iterator[StoredEvent]:
        """Every event with ``after < position <= until_position``, in position order, for a reader
        that takes them all (the archive). Same events as :meth:`iter_events`; a store with a
        faster whole-range plan than paging :meth:`read` overrides it."""
        return self.iter_events(project=project, after=after, batch=batch, until_position=until_position)

    def scan_texts(
        self, *, project: str, after: int, until_position: int, batch: int = 5000
    ) -> Iterator[Scanned]:
        """:meth:`scan`'s events, each with its JSON text (``project`` and ``received_at``
        included) when the store can give it without writing the event again, else None. The
        archive's ``event`` column: a store whose rows hold the text as it is overrides this."""
        for item in self.scan(project=project, after=after, until_position=until_position, batch=batch):
            yield item, None

    @abstractmethod
    def get_request(self, request_id: str, *, project: str) -> RequestView:
        """The joined view of one request (empty lists when nothing is known about it)."""

    @abstractmethod
    def get_event(self, event_id: str, *, project: str) -> StoredEvent | None:
        """One event by id, or None."""

    @abstractmethod
    def last_position(self, *, project: str | None = None) -> int:
        """The highest position stored (in ``project``, or in the whole store); 0 when empty."""

    @abstractmethod
    def stats(self, *, project: str) -> StoreStats:
        """Counts by type, source kind and model."""

    @abstractmethod
    def projects(self) -> list[str]:
        """Every project with at least one event."""

    @abstractmethod
    def close(self) -> None:
        """Release connections. Further calls raise ``StoreError``."""

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
