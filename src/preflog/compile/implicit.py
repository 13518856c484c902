"""Implicit signals as weak preferences: what a user did with two candidates of one request.

Off by default; ``CompileOptions.implicit_pairs`` names the rules to apply (pair formats only —
unpaired formats take thumbs as labels, as always):

- ``thumbs``: a candidate whose thumbs add up to at least ``implicit_min_evidence`` (ups minus
  downs) is preferred over every candidate of the same request whose thumbs add up to at most
  minus that;
- ``regenerate``: a user who asked to regenerate candidate Y and then accepted candidate X (an
  ``implicit_accept`` signal on X, ``copy`` by default, at least ``implicit_min_evidence`` of them,
  after the regenerate) prefers X over Y — unless Y was accepted too.

Each such pair is one vote with source kind ``implicit``, made of the signals' event ids. It is
weak: a candidate pair that also has an explicit judgment (a person, a judge, a reward score) is
decided by those alone, and the implicit vote is counted as ``implicit_superseded``.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Final

from preflog.compile.judgments import Label, Signal, Vote
from preflog.compile.options import IMPLICIT_RULES, CompileOptions

THUMBS: Final = {"thumbs_up": 1, "thumbs_down": -1}
IMPLICIT_SOURCE: Final = "implicit"


@dataclass(frozen=True, slots=True)
class WeakPair:
    """``winner`` preferred over ``loser`` by the signals ``evidence`` (sorted by position)."""

    winner: str
    loser: str
    evidence: tuple[Signal, ...]


def _at(cid: str, kind: str, event_id: str, when: str) -> Signal:
    return Signal(cid, kind, event_id, int(event_id[1:]), f"2026-11-26T10:0{when}:00.000000Z")


def thumbs_pairs(signals: Iterable[Signal], *, min_evidence: int = 1) -> list[WeakPair]:
    """Every (liked, disliked) pair of candidates of one request, by net thumbs.

    >>> up, down = _at("a", "thumbs_up", "e1", "1"), _at("b", "thumbs_down", "e2", "2")
    >>> [(p.winner, p.loser, len(p.evidence)) for p in thumbs_pairs([up, down])]
    [('a', 'b', 2)]
    >>> thumbs_pairs([up, down], min_evidence=2)  # one thumb each way is not enough
    []
    >>> thumbs_pairs([up, _at("a", "thumbs_down", "e3", "3"), down])  # a's thumbs cancel out
    []
    """
    net: Counter[str] = Counter()
    seen: dict[str, list[Signal]] = defaultdict(list)
    for s in signals:
        if s.kind in THUMBS:
            net[s.candidate_id] += THUMBS[s.kind]
            seen[s.candidate_id].append(s)
    liked = sorted(c for c, v in net.items() if v >= min_evidence)
    disliked = sorted(c for c, v in net.items() if v <= -min_evidence)
    return [WeakPair(w, lo, _evidence(seen[w], seen[lo])) for w in liked for lo in disliked]


def regenerate_pairs(
    signals: Iterable[Signal], *, accept: Sequence[str] = ("copy",), min_evidence: int = 1
) -> list[WeakPair]:
    """(accepted, regenerated) pairs: an accept of X after a regenerate of Y, Y never accepted.

    >>> regen, copy = _at("a", "regenerate", "e1", "1"), _at("b", "copy", "e2", "2")
    >>> [(p.winner, p.loser) for p in regenerate_pairs([regen, copy])]
    [('b', 'a')]
    >>> regenerate_pairs([copy, _at("a", "regenerate", "e3", "3")])  # the copy came first
    []
    >>> regenerate_pairs([regen, copy, _at("a", "copy", "e4", "4")])  # a was accepted too
    []
    """
    items = sorted(signals, key=lambda s: (s.occurred_at, s.position))
    accepted = {s.candidate_id for s in items if s.kind in accept}
    out = []
    for regen in (s for s in items if s.kind == "regenerate" and s.candidate_id not in accepted):
        later: dict[str, list[Signal]] = defaultdict(list)
        for s in items:
            if (
                s.kind in accept
                and s.candidate_id != regen.candidate_id
                and s.occurred_at > regen.occurred_at
            ):
                later[s.candidate_id].append(s)
        for cid in sorted(later):
            if len(later[cid]) >= min_evidence:
                out.append(WeakPair(cid, regen.candidate_id, _evidence([regen], later[cid])))
    return _unique(out)


def weak_pairs(
    signals: Sequence[Signal],
    *,
    rules: Iterable[str],
    accept: Sequence[str] = ("copy",),
    min_evidence: int = 1,
) -> list[WeakPair]:
    """The pairs every rule in ``rules`` finds in one request's signals, one per candidate pair and
    direction (the first rule's evidence kept); a pair found both ways cancels out.

    >>> signals = [_at("a", "thumbs_up", "e1", "1"), _at("b", "thumbs_down", "e2", "2")]
    >>> [(p.winner, p.loser) for p in weak_pairs(signals, rules=["thumbs", "regenerate"])]
    [('a', 'b')]
    """
    found: list[WeakPair] = []
    wanted = set(rules)
    if "thumbs" in wanted:
        found += thumbs_pairs(signals, min_evidence=min_evidence)
    if "regenerate" in wanted:
        found += regenerate_pairs(signals, accept=accept, min_evidence=min_evidence)
    pairs = _unique(found)
    directions = {(p.winner, p.loser) for p in pairs}
    return [p for p in pairs if (p.loser, p.winner) not in directions]


def rule_signals(rules: Iterable[str], accept: Sequence[str]) -> frozenset[str]:
    """The signal kinds the rules read (besides thumbs, which compile always keeps as labels).

    >>> sorted(rule_signals(["regenerate"], ["copy", "conversion"]))
    ['conversion', 'copy', 'regenerate']
    """
    return frozenset(("regenerate", *accept)) if "regenerate" in set(rules) else frozenset()


def _evidence(*groups: Iterable[Signal]) -> tuple[Signal, ...]:
    return tuple(sorted({s for g in groups for s in g}, key=lambda s: s.position))


def _unique(pairs: list[WeakPair]) -> list[WeakPair]:
    first: dict[tuple[str, str], WeakPair] = {}
    for p in pairs:
        first.setdefault((p.winner, p.loser), p)
    return list(first.values())


@dataclass(frozen=True, slots=True)
class ImplicitVotes:
    """What the rules made of one request's signals: the weak ``votes``, the event ids of the
    thumbs labels they used, and how many kept signals no rule used."""

    votes: list[Vote]
    used_labels: frozenset[str]
    unused_signals: int


def implicit_votes(labels: Sequence[Label], signals: Sequence[Signal], opts: CompileOptions) -> ImplicitVotes:
    """The weak votes of one request under ``opts.implicit_pairs`` (thumbs come as labels)."""
    thumbs = [
        Signal(x.candidate_id, x.signal, x.event_ids[0], x.position, x.occurred_at)
        for x in labels
        if x.signal in THUMBS
    ]
    pairs = weak_pairs(
        thumbs + list(signals),
        rules=opts.implicit_pairs,
        accept=opts.implicit_accept,
        min_evidence=opts.implicit_min_evidence,
    )
    votes = [
        Vote(
            p.winner,
            p.loser,
            False,
            tuple(sorted(s.event_id for s in p.evidence)),
            max(s.position for s in p.evidence),
            max(s.occurred_at for s in p.evidence),
            IMPLICIT_SOURCE,
            None,
        )
        for p in pairs
    ]
    used = frozenset(s.event_id for p in pairs for s in p.evidence)
    return ImplicitVotes(votes, used, sum(1 for s in signals if s.event_id not in used))


def supersede(explicit: Sequence[Vote], weak: Sequence[Vote]) -> tuple[list[Vote], int]:
    """``explicit`` and the ``weak`` votes on candidate pairs no explicit vote judged; the count of
    weak votes left out (an explicit judgment of the pair decides it alone)."""
    judged = {frozenset((v.winner, v.loser)) for v in explicit}
    kept = [v for v in weak if frozenset((v.winner, v.loser)) not in judged]
    return [*explicit, *kept], len(weak) - len(kept)


__all__ = [
    "IMPLICIT_RULES",
    "ImplicitVotes",
    "WeakPair",
    "implicit_votes",
    "regenerate_pairs",
    "rule_signals",
    "supersede",
    "thumbs_pairs",
    "weak_pairs",
]
