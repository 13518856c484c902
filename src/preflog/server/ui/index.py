"""An in-memory summary of one project's requests, kept current by tailing the store by position.

The annotation queue and the request explorer need to filter every request of a project (by
judgments so far, reward scores, user, model, tag, time). Reading the whole log on each click would
not scale, so each process keeps, per project, one small :class:`RequestSummary` per request and
reads only the events after the last position it has seen (``Store.read(after=...)``): no event is
skipped because positions follow commit order. Full content (prompt, outputs) is never kept here;
it is read with ``Store.get_request`` when an item is shown.

Memory is a few hundred bytes per request; a project of millions of requests wants a database
index instead (documented in docs/ui.md).
"""

from __future__ import annotations

import json
import threading
from collections import defaultdict
from dataclasses import dataclass, field
from itertools import pairwise
from typing import Any, Final

from preflog.events import candidate_ids
from preflog.store.base import Store, StoredEvent

PAGE: Final = 5000
#: A candidate's reply (contract v2): what makes two replies the same, and what the arena shows.
REPLY_KEYS: Final = ("output", "messages", "tool_calls", "refusal")


def distinct_candidates(inference: dict[str, Any]) -> list[dict[str, Any]]:
    """The candidates worth judging: the first of each group whose replies are the same text. Two
    identical replies make no preference (compile drops such a pair as ``identical_outputs``), so
    the arena never shows both.

    >>> event = {"candidates": [{"candidate_id": "a", "output": "4"}, {"candidate_id": "b", "output": "4"},
    ...                         {"candidate_id": "c", "output": "five"}]}
    >>> [c["candidate_id"] for c in distinct_candidates(event)]
    ['a', 'c']
    >>> call = {"candidate_id": "t", "output": "", "tool_calls": [{"id": "1"}]}
    >>> empty = {"candidate_id": "e", "output": ""}
    >>> [c["candidate_id"] for c in distinct_candidates({"candidates": [call, empty]})]
    ['t', 'e']
    """
    seen: set[str] = set()
    out = []
    for candidate in inference.get("candidates") or []:
        if not isinstance(candidate, dict):
            continue
        reply = {k: candidate[k] for k in REPLY_KEYS if candidate.get(k) is not None}
        key = json.dumps(reply, sort_keys=True, ensure_ascii=False)  # a tool call is not an empty answer
        if key not in seen:
            seen.add(key)
            out.append(candidate)
    return out


@dataclass
class Judgment:
    """A human preference the queue counts: who gave it and whether it still stands."""

    event_id: str
    request_id: str
    annotator: str
    key_id: str | None
    position: int
    retracted: bool = False


@dataclass
class RequestSummary:
    request_id: str
    position: int = 0  # of the inference (0 until it arrives)
    occurred_at: str = ""
    candidates: tuple[str, ...] = ()
    shown: tuple[str, ...] = ()  # the candidates with distinct replies: what the arena shows
    models: dict[str, str] = field(default_factory=dict)  # candidate id -> model name
    user_id: str | None = None
    tags: tuple[str, ...] = ()
    scores: dict[str, float] = field(default_factory=dict)  # latest score per candidate
    judgments: int = 0  # every judgment event (any source)
    humans: dict[str, Judgment] = field(default_factory=dict)  # event id -> human preference
    erased: bool = False

    @property
    def has_inference(self) -> bool:
        return bool(self.candidates)

    def annotators(self) -> set[str]:
        return {j.annotator for j in self.humans.values() if not j.retracted}

    def model_pairs(self) -> list[tuple[str, str]]:
        names = sorted(self.models.get(c, "?") for c in self.candidates)
        return [(a, b) for i, a in enumerate(names) for b in names[i + 1 :]]

    def score_gap(self) -> float | None:
        """The smallest reward-score gap between two candidates (None unless all are scored)."""
        values = sorted(self.scores[c] for c in self.candidates if c in self.scores)
        if len(values) < max(2, len(self.candidates)):
            return None
        return min(b - a for a, b in pairwise(values))

    def to_dict(self) -> dict[str, Any]:
        return {
            "request_id": self.request_id,
            "occurred_at": self.occurred_at or None,
            "user_id": None if self.erased else self.user_id,
            "models": sorted(set(self.models.values())),
            "candidates": len(self.candidates),
            "tags": list(self.tags),
            "judgments": self.judgments,
            "annotators": sorted(self.annotators()),
            "erased": self.erased,
            "orphaned": not self.has_inference and self.judgments > 0,
        }


class ProjectIndex:
    """Summaries of one project's requests; :meth:`refresh` reads what was appended since."""

    def __init__(self, project: str) -> None:
        self.project = project
        self.position = 0
        self.requests: dict[str, RequestSummary] = {}
        self.judgments: dict[str, Judgment] = {}  # human preferences by event id
        self.pending_retractions: set[str] = set()
        self.pair_counts: dict[tuple[str, str], int] = defaultdict(int)
        self.criteria: set[str] = set()
        self.lock = threading.RLock()

    def refresh(self, store: Store) -> None:
        with self.lock:
            while True:
                page = store.read(project=self.project, after=self.position, limit=PAGE)
                for item in page:
                    self._apply(item)
                    self.position = item.position
                if len(page) < PAGE:
                    return

    def _summary(self, request_id: str) -> RequestSummary:
        found = self.requests.get(request_id)
        if found is None:
            found = self.requests[request_id] = RequestSummary(request_id)
        return found

    def _apply(self, item: StoredEvent) -> None:
        event = item.event
        kind = item.type
        if kind == "erasure":
            self._erase(event)
            return
        request_id = item.request_id
        if request_id is None:
            return
        summary = self._summary(request_id)
        if kind == "inference":
            self._inference(summary, item)
        elif kind == "retraction":
            self._retract(str(event.get("retracts", "")))
        elif kind in ("preference", "score", "signal"):
            summary.judgments += 1
            if kind == "score" and isinstance(event.get("score"), int | float):
                summary.scores[str(event["candidate_id"])] = float(event["score"])
            if kind == "preference":
                self._preference(summary, item)
        if item.erased:
            summary.erased = True

    def _inference(self, summary: RequestSummary, item: StoredEvent) -> None:
        event = item.event
        summary.position = item.position
        summary.occurred_at = str(event.get("occurred_at", ""))
        summary.candidates = tuple(candidate_ids(event))
        summary.shown = tuple(str(c.get("candidate_id")) for c in distinct_candidates(event))
        summary.models = {
            str(c["candidate_id"]): str((c.get("model") or {}).get("name", "?"))
            for c in event.get("candidates", [])
        }
        summary.user_id = event.get("user_id")
        summary.tags = tuple(str(t) for t in event.get("tags") or ())
        for judgment in summary.humans.values():  # judgments that arrived before the inference
            if not judgment.retracted:
                self._count_pairs(summary, +1)

    def _preference(self, summary: RequestSummary, item: StoredEvent) -> None:
        event = item.event
        if event.get("criterion"):
            self.criteria.add(str(event["criterion"]))
        source = event.get("source") or {}
        if source.get("kind") != "human":
            return
        metadata = event.get("metadata") or {}
        judgment = Judgment(
            item.event_id,
            summary.request_id,
            str(source.get("id") or "(anonymous)"),
            metadata.get("key_id") if isinstance(metadata.get("key_id"), str) else None,
            item.position,
        )
        summary.humans[item.event_id] = judgment
        self.judgments[item.event_id] = judgment
        if item.event_id in self.pending_retractions:
            judgment.retracted = True
        elif summary.has_inference:
            self._count_pairs(summary, +1)

    def _retract(self, event_id: str) -> None:
        judgment = self.judgments.get(event_id)
        if judgment is None:
            self.pending_retractions.add(event_id)
            return
        if not judgment.retracted:
            judgment.retracted = True
            summary = self.requests[judgment.request_id]
            if summary.has_inference:
                self._count_pairs(summary, -1)

    def _count_pairs(self, summary: RequestSummary, step: int) -> None:
        for pair in summary.model_pairs():
            self.pair_counts[pair] += step

    def _erase(self, event: dict[str, Any]) -> None:
        if event.get("request_id"):
            self._summary(str(event["request_id"])).erased = True
        user = event.get("user_id")
        if user:
            for summary in self.requests.values():
                if summary.user_id == user:
                    summary.erased = True
                    summary.user_id = None

    def last_judgment_by(self, key_id: str, annotator: str) -> Judgment | None:
        """This user's latest human preference that still stands (for undo across page loads)."""
        mine = [
            j
            for j in self.judgments.values()
            if not j.retracted and (j.key_id == key_id or (j.key_id is None and j.annotator == annotator))
        ]
        return max(mine, key=lambda j: j.position) if mine else None

    def count_by(self, annotator: str) -> int:
        return sum(1 for j in self.judgments.values() if j.annotator == annotator and not j.retracted)


class IndexRegistry:
    """One :class:`ProjectIndex` per project, created on first use."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._indexes: dict[str, ProjectIndex] = {}

    def get(self, store: Store, project: str) -> ProjectIndex:
        with self._lock:
            index = self._indexes.get(project)
            if index is None:
                index = self._indexes[project] = ProjectIndex(project)
        index.refresh(store)
        return index
