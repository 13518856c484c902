"""Step 1 of a compile, the judgment side: read judgments, retractions and erasures once, in
position order, and turn each judgment into the votes it casts, waiting per request for the join.

A *vote* is one judgment's say on one candidate pair: ``winner`` over ``loser``, or a tie. A chosen/
rejected preference casts one vote; a ranking of k candidates casts one vote per pair of candidates
(a tie vote inside a tie group), so a strict ranking casts k(k-1)/2; an outcome ``tie`` casts tie
votes. A *label* is a good/bad mark on one candidate: thumbs up/down, and ``both_bad``. Reward
scores wait as *scores* and become votes at the join, once all of a request's scores are known.
"""

from __future__ import annotations

import heapq
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from itertools import combinations
from typing import Any, Final

from preflog.events import normalize_time, ranking_groups
from preflog.store.base import Store, StoredEvent
from preflog.store.common import source_kind

JUDGMENT_EVENT_TYPES: Final = ("preference", "score", "signal", "retraction", "erasure")
LABEL_SIGNALS: Final = {"thumbs_up": True, "thumbs_down": False}


@dataclass(slots=True)
class Vote:
    """``winner`` preferred over ``loser`` (or a tie between them) by the judgments ``event_ids``."""

    winner: str
    loser: str
    tie: bool
    event_ids: tuple[str, ...]
    position: int
    occurred_at: str
    source: str
    criterion: str | None
    margin: float | None = None  # a score gap, or a preference's strength
    presented: tuple[str, ...] | None = None


@dataclass(slots=True)
class Label:
    """``candidate_id`` marked good or bad by one judgment."""

    candidate_id: str
    good: bool
    event_ids: tuple[str, ...]
    position: int
    occurred_at: str
    source: str
    signal: str
    criterion: str | None = None
    user_id: str | None = None


@dataclass(slots=True)
class Score:
    candidate_id: str
    score: float
    scorer: str
    event_id: str
    position: int
    occurred_at: str
    source: str
    criterion: str | None = None


@dataclass(frozen=True, slots=True)
class Signal:
    """A behaviour signal kept for the implicit-pair rules (:mod:`preflog.compile.implicit`)."""

    candidate_id: str
    kind: str
    event_id: str
    position: int
    occurred_at: str


@dataclass(slots=True)
class Pending:
    """What one request's judgments say, waiting for its inference."""

    votes: list[Vote] = field(default_factory=list)
    labels: list[Label] = field(default_factory=list)
    scores: list[Score] = field(default_factory=list)
    signals: list[Signal] = field(default_factory=list)
    erased: int = 0  # judgments whose content the store erased


Waiting = list[Vote | Label | Score | Signal | None]  # None: a judgment the store erased


def to_pending(items: Waiting) -> Pending:
    """A request's waiting judgments sorted by kind (kept as one plain list until the join, which
    saves memory when a million requests wait)."""
    out = Pending()
    if len(items) == 1 and type(items[0]) is Vote:  # the common case
        out.votes.append(items[0])
        return out
    for x in items:
        if type(x) is Vote:
            out.votes.append(x)
        elif type(x) is Label:
            out.labels.append(x)
        elif type(x) is Score:
            out.scores.append(x)
        elif type(x) is Signal:
            out.signals.append(x)
        else:
            out.erased += 1
    return out


@dataclass
class Judgments:
    """The result of reading the judgment side of a project up to a watermark."""

    pending: dict[str, Waiting] = field(default_factory=dict)
    retracted: dict[str, int] = field(default_factory=dict)  # event id → position of its retraction
    erased_requests: set[str] = field(default_factory=set)
    read: Counter[str] = field(default_factory=Counter)  # events read, by type
    drops: Counter[str] = field(default_factory=Counter)


@dataclass(frozen=True)
class JudgmentFilter:
    sources: frozenset[str] = frozenset()
    criteria: frozenset[str] = frozenset()
    since: str | None = None
    until: str | None = None
    keep_signals: frozenset[str] = frozenset()  # signal kinds an implicit-pair rule reads

    def reason(self, source: str | None, criterion: str | None, occurred_at: str) -> str | None:
        """Why a judgment is filtered out, or None to keep it."""
        if self.sources and source not in self.sources:
            return "filtered_source"
        if self.criteria and criterion not in self.criteria:
            return "filtered_criterion"
        if self.since is not None and occurred_at < self.since:
            return "filtered_time"
        if self.until is not None and occurred_at >= self.until:
            return "filtered_time"
        return None


def iter_judgment_events(store: Store, *, project: str, until_position: int) -> Iterator[StoredEvent]:
    """Judgments, retractions and erasures in position order. One query per type, merged: a
    single ``type IN (...)`` query pages badly on SQLite (it re-sorts the rest at every page)."""
    streams = [
        store.iter_events(project=project, types=[t], until_position=until_position)
        for t in JUDGMENT_EVENT_TYPES
    ]
    return heapq.merge(*streams, key=lambda e: e.position)


def collect_judgments(events: Iterable[StoredEvent], flt: JudgmentFilter) -> Judgments:
    out = Judgments()
    filtering = bool(flt.sources or flt.criteria or flt.since or flt.until)
    shared: dict[str, str] = {}  # one copy of each source kind string
    for item in events:
        event = item.event
        etype = event["type"]
        out.read[etype] += 1
        if etype == "retraction":
            out.retracted[str(event["retracts"])] = item.position
            continue
        if etype == "erasure":
            if event.get("request_id") is not None:
                out.erased_requests.add(str(event["request_id"]))
            continue
        request_id = str(event["request_id"])
        occurred = _norm_time(str(event["occurred_at"]))
        source = source_kind(event) or "unknown"
        if filtering:
            reason = flt.reason(source, event.get("criterion"), occurred)
            if reason is not None:
                out.drops[reason] += 1
                continue
        source = shared.setdefault(source, source)
        waiting = out.pending.get(request_id)
        if waiting is None:
            waiting = out.pending[request_id] = []
        if item.erased:
            waiting.append(None)
        elif etype == "preference":
            add_preference(waiting, event, item.position, occurred, source)
        elif etype == "score":
            waiting.append(score_of(event, item.position, occurred, source))
        elif event.get("signal") in LABEL_SIGNALS:
            waiting.append(label_of_signal(event, item.position, occurred, source))
        elif event.get("signal") in flt.keep_signals:
            kind = str(event["signal"])
            waiting.append(
                Signal(str(event["candidate_id"]), kind, str(event["event_id"]), item.position, occurred)
            )
        else:
            out.drops["signal_not_used"] += 1
    return out


def _norm_time(value: str) -> str:
    return value if len(value) == 27 and value.endswith("Z") else normalize_time(value)


def add_preference(
    waiting: Waiting, event: dict[str, Any], position: int, occurred: str, source: str
) -> None:
    """The votes (and both-bad labels) of one preference event."""
    event_id = str(event["event_id"])
    criterion = event.get("criterion")
    presented = tuple(event["presented"]) if event.get("presented") else None
    strength = event.get("strength")

    def vote(winner: str, loser: str, tie: bool) -> Vote:
        return Vote(
            winner, loser, tie, (event_id,), position, occurred, source, criterion, strength, presented
        )

    if event.get("chosen") is not None:
        waiting.append(vote(str(event["chosen"]), str(event["rejected"]), False))
    elif event.get("ranking") is not None:
        waiting.extend(vote(w, lo, t) for w, lo, t in ranking_votes(event["ranking"]))
    elif event.get("outcome") == "tie":
        waiting.extend(vote(a, b, True) for a, b in combinations(event["candidates"], 2))
    elif event.get("outcome") == "both_bad":
        waiting.extend(
            Label(str(cid), False, (event_id,), position, occurred, source, "both_bad", criterion)
            for cid in event["candidates"]
        )


def ranking_votes(ranking: list[str | list[str]]) -> list[tuple[str, str, bool]]:
    """(winner, loser, tie) for every pair of candidates a ranking orders; tie groups give ties.

    >>> ranking_votes(["a", ["b", "c"]])
    [('a', 'b', False), ('a', 'c', False), ('b', 'c', True)]
    """
    groups = ranking_groups(ranking)
    out: list[tuple[str, str, bool]] = []
    for i, group in enumerate(groups):
        for lower in groups[i + 1 :]:
            out.extend((w, lo, False) for w in group for lo in lower)
        out.extend((a, b, True) for a, b in combinations(group, 2))
    out.sort(key=lambda v: (v[2], v[0], v[1]))
    return out


def score_of(event: dict[str, Any], position: int, occurred: str, source: str) -> Score:
    scorer = event.get("scorer") or {}
    name = f"{scorer.get('name', '')}@{scorer.get('version', '')}"
    return Score(
        str(event["candidate_id"]),
        float(event["score"]),
        name,
        str(event["event_id"]),
        position,
        occurred,
        source,
        event.get("criterion"),
    )


def label_of_signal(event: dict[str, Any], position: int, occurred: str, source: str) -> Label:
    kind = str(event["signal"])
    return Label(
        str(event["candidate_id"]),
        LABEL_SIGNALS[kind],
        (str(event["event_id"]),),
        position,
        occurred,
        source,
        kind,
        None,
        event.get("user_id"),
    )


def score_votes(scores: list[Score], min_margin: float, drops: Counter[str]) -> list[Vote]:
    """Votes from reward scores: per scorer and criterion, the latest score of each candidate; a
    pair whose gap is at least ``min_margin`` (and above zero) votes for the higher score with the
    gap as margin. Equal scores are a tie vote; smaller gaps are dropped as ``below_min_margin``."""
    latest: dict[tuple[str, str | None], dict[str, Score]] = {}
    for s in sorted(scores, key=lambda s: s.position):
        latest.setdefault((s.scorer, s.criterion), {})[s.candidate_id] = s
    votes: list[Vote] = []
    for (_, criterion), by_candidate in sorted(latest.items(), key=lambda kv: (kv[0][0], kv[0][1] or "")):
        for a, b in combinations(sorted(by_candidate), 2):
            sa, sb = by_candidate[a], by_candidate[b]
            gap = sa.score - sb.score
            hi, lo = (sa, sb) if gap >= 0 else (sb, sa)
            ids = tuple(sorted((sa.event_id, sb.event_id)))
            when = max(sa.occurred_at, sb.occurred_at)
            position = max(sa.position, sb.position)
            if gap == 0:
                votes.append(Vote(a, b, True, ids, position, when, sa.source, criterion))
            elif abs(gap) < min_margin:
                drops["below_min_margin"] += 1
            else:
                votes.append(
                    Vote(
                        hi.candidate_id,
                        lo.candidate_id,
                        False,
                        ids,
                        position,
                        when,
                        hi.source,
                        criterion,
                        abs(gap),
                    )
                )
    return votes
