"""The annotation queue: which request an annotator sees next, and in which left/right order.

A request *needs human judgment* when its inference has at least two candidates with different
replies (identical ones are shown once: :func:`~preflog.server.ui.index.distinct_candidates`), its
content is not erased, fewer than ``annotators`` distinct people have judged it (retracted judgments do not
count), and this annotator has not judged it yet. Among those, a policy picks:

* ``random`` — uniformly at random;
* ``uncertain`` — the smallest reward-score gap between two candidates first (unscored last);
* ``balanced`` — the model pair with the fewest human judgments so far first (arena-style), so
  every pair of models collects comparisons at a similar rate;
* ``oldest`` — in log order.

An item shown to someone is *leased* to them for :data:`LEASE_S` seconds, so two annotators working
at once rarely get the same item (other items go first; a leased one is still given when nothing
else is left). The order in which candidates are shown is shuffled per item with the OS random
source and sent back with the judgment as its ``presented`` order.
"""

from __future__ import annotations

import random
import secrets
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Final, Literal, get_args

from preflog.events import chat_turn
from preflog.server.ui.index import REPLY_KEYS, ProjectIndex, RequestSummary, distinct_candidates
from preflog.store.base import RequestView

Policy = Literal["random", "uncertain", "balanced", "oldest"]
POLICIES: Final[tuple[str, ...]] = get_args(Policy)
LEASE_S: Final = 300.0
_shuffle = secrets.SystemRandom()


class Leases:
    """request id → (holder, until): who is looking at which item right now."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._held: dict[tuple[str, str], tuple[str, float]] = {}

    def take(self, project: str, request_id: str, holder: str) -> None:
        now = time.monotonic()
        with self._lock:
            if len(self._held) > 10_000:
                self._held = {k: v for k, v in self._held.items() if v[1] > now}
            self._held[(project, request_id)] = (holder, now + LEASE_S)

    def release(self, project: str, request_id: str) -> None:
        with self._lock:
            self._held.pop((project, request_id), None)

    def held_by_other(self, project: str, request_id: str, holder: str) -> bool:
        found = self._held.get((project, request_id))
        return found is not None and found[0] != holder and found[1] > time.monotonic()


def eligible(index: ProjectIndex, annotator: str, annotators: int) -> list[RequestSummary]:
    """Requests this annotator may judge now, in log order."""
    out = []
    for summary in index.requests.values():
        if len(summary.shown) < 2 or summary.erased:
            continue
        people = summary.annotators()
        if annotator in people or len(people) >= annotators:
            continue
        out.append(summary)
    out.sort(key=lambda s: s.position)
    return out


def _order(items: list[RequestSummary], policy: Policy, index: ProjectIndex) -> list[RequestSummary]:
    if policy == "random":
        return random.sample(items, len(items))
    if policy == "uncertain":

        def gap(s: RequestSummary) -> tuple[int, float, int]:
            g = s.score_gap()
            return (1, 0.0, s.position) if g is None else (0, g, s.position)

        return sorted(items, key=gap)
    if policy == "balanced":

        def seen(s: RequestSummary) -> tuple[int, float]:
            counts = [index.pair_counts.get(p, 0) for p in s.model_pairs()]
            return (min(counts) if counts else 0, random.random())

        return sorted(items, key=seen)
    return items


def pick(
    index: ProjectIndex,
    leases: Leases,
    *,
    annotator: str,
    policy: Policy,
    annotators: int,
    exclude: Iterable[str] = (),
) -> tuple[RequestSummary | None, int]:
    """``(next item or None, how many items this annotator could still judge)``."""
    skipped = set(exclude)
    pool = eligible(index, annotator, annotators)
    remaining = len(pool)
    pool = [s for s in pool if s.request_id not in skipped]
    if not pool:
        return None, remaining
    ordered = _order(pool, policy, index)
    free = [s for s in ordered if not leases.held_by_other(index.project, s.request_id, annotator)]
    chosen = (free or ordered)[0]
    leases.take(index.project, chosen.request_id, annotator)
    return chosen, remaining


@dataclass(frozen=True)
class Item:
    """What the arena shows: the prompt as a conversation and the candidates in a shuffled order.
    Model names are left out on purpose — annotators judge blind."""

    request_id: str
    messages: list[dict[str, str]]
    system: str | None
    candidates: list[dict[str, str]]

    @property
    def presented(self) -> list[str]:
        return [c["candidate_id"] for c in self.candidates]

    def to_dict(self) -> dict[str, Any]:
        return {
            "request_id": self.request_id,
            "messages": self.messages,
            "system": self.system,
            "candidates": self.candidates,
            "presented": self.presented,
            "mode": "pair" if len(self.candidates) == 2 else "ranking",
        }


def prompt_messages(prompt: Any) -> list[dict[str, Any]]:
    """A plain prompt as one user message; a chat prompt as its messages (tool calls and tool
    turns kept, a null content shown as empty).

    >>> prompt_messages([{"role": "assistant", "content": None, "tool_calls": []}])
    [{'role': 'assistant', 'content': '', 'tool_calls': []}]
    """
    if isinstance(prompt, str):
        return [{"role": "user", "content": prompt}]
    if isinstance(prompt, list):
        return [chat_turn(m) for m in prompt if isinstance(m, dict)]
    return []


def arena_candidate(candidate: dict[str, Any]) -> dict[str, Any]:
    """A candidate as the arena shows it: its id and its reply's fields, nothing about its model.

    >>> arena_candidate({"candidate_id": "a", "output": "", "tool_calls": [], "model": {"name": "m"}})
    {'candidate_id': 'a', 'output': '', 'tool_calls': []}
    """
    shown: dict[str, Any] = {"candidate_id": str(candidate["candidate_id"])}
    shown.update((k, candidate[k]) for k in REPLY_KEYS if candidate.get(k) is not None)
    if "output" not in shown and "messages" not in shown:
        shown["output"] = ""
    return shown


def build_item(view: RequestView) -> Item | None:
    """The arena item of a request, shuffled; None when it cannot be judged (missing, erased, fewer
    than two different answers)."""
    inference = view.inference
    if inference is None or view.erased:
        return None
    event = inference.event
    candidates = [arena_candidate(c) for c in distinct_candidates(event)]
    if len(candidates) < 2:
        return None
    _shuffle.shuffle(candidates)
    for label, cand in zip("ABCDEFGHIJKLMNOP", candidates, strict=False):
        cand["label"] = label
    return Item(view.request_id, prompt_messages(event.get("prompt")), event.get("system"), candidates)
