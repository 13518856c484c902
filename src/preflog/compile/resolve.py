"""Steps 2-4 of a compile for one request: join its judgments to its inference, resolve them into
candidate-pair votes and candidate labels, aggregate several judgments of one pair, validate, and
park the survivors as :class:`~preflog.compile.spill.Draft` items (texts go to the spill).

Every judgment or vote that does not become an item is counted under a reason in ``drops``.
"""

from __future__ import annotations

import hashlib
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from preflog.compile.implicit import implicit_votes, supersede
from preflog.compile.judgments import Label, Pending, Vote, Waiting, score_votes, to_pending
from preflog.compile.options import CompileOptions
from preflog.compile.spill import NO_TEXT, Draft, TextSpill
from preflog.events import is_empty_answer
from preflog.formats.base import ItemKind
from preflog.records import (
    FEATURES,
    Prompt,
    Reply,
    canonical,
    needs,
    normalized_prompt,
    reply_length,
    reply_of,
)


@dataclass(slots=True)
class Decision:
    """The outcome of aggregating one candidate pair's votes (or one candidate's labels)."""

    winner: str
    loser: str
    agreeing: tuple[Vote, ...]
    total: int
    latest: int = 0  # the highest position among all the pair's votes

    @property
    def agreement(self) -> float:
        return len(self.agreeing) / self.total


@dataclass
class JoinContext:
    options: CompileOptions
    kind: ItemKind
    retracted: dict[str, int]  # event id → position of its retraction
    erased_requests: set[str]
    spill: TextSpill
    drops: Counter[str]
    carries: frozenset[str] = frozenset()  # what the format writes beyond text (FormatSpec.carries)
    refuses: Callable[[Prompt, str | None], str | None] | None = None  # FormatSpec.refuses


def digest(*parts: str) -> bytes:
    """A 128-bit digest of the parts (NUL-separated): keys for deduplication and the split."""
    return hashlib.blake2b("\x00".join(parts).encode("utf-8", "surrogatepass"), digest_size=16).digest()


# ---------------------------------------------------------------------------------------------- aggregation


def aggregate_votes(votes: list[Vote], rule: str, min_agreement: float) -> Decision | str:
    """One candidate pair's votes (both directions and ties) → a decision, or the drop reason.

    ``majority``: the direction with more votes wins when it has at least ``min_agreement`` of all
    votes (ties count in the total); equal directions are ``no_majority``. ``unanimous``: every
    vote the same direction. ``latest``: the latest vote (by time, then position) decides.
    Only ties: ``tie`` — ties never become pairs.
    """
    if len(votes) == 1:  # the common case: one judgment of the pair
        v = votes[0]
        return "tie" if v.tie else Decision(v.winner, v.loser, (v,), 1, v.position)
    directed = [v for v in votes if not v.tie]
    if not directed:
        return "tie"
    latest = max(v.position for v in votes)
    first = min(directed, key=lambda v: (v.winner, v.loser))
    a, b = first.winner, first.loser
    for_a = tuple(v for v in directed if v.winner == a)
    for_b = tuple(v for v in directed if v.winner == b)
    total = len(votes)
    if rule == "latest":
        last = max(votes, key=lambda v: (v.occurred_at, v.position))
        if last.tie:
            return "tie"
        side = for_a if last.winner == a else for_b
        return Decision(last.winner, last.loser, side, total, latest)
    if rule == "unanimous":
        if len(for_a) != total and len(for_b) != total:
            return "not_unanimous"
    elif len(for_a) == len(for_b):
        return "no_majority"
    side, (w, lo) = (for_a, (a, b)) if len(for_a) > len(for_b) else (for_b, (b, a))
    decision = Decision(w, lo, side, total, latest)
    if rule == "majority" and decision.agreement < min_agreement:
        return "low_agreement"
    return decision


def aggregate_labels(labels: list[Label], rule: str, min_agreement: float) -> tuple[bool, list[Label]] | str:
    """One candidate's good/bad labels → (label, agreeing labels), or the drop reason."""
    good = [x for x in labels if x.good]
    bad = [x for x in labels if not x.good]
    if rule == "latest":
        last = max(labels, key=lambda x: (x.occurred_at, x.position))
        return last.good, good if last.good else bad
    if rule == "unanimous" and good and bad:
        return "not_unanimous"
    if len(good) == len(bad):
        return "no_majority"
    side = good if len(good) > len(bad) else bad
    if rule == "majority" and len(side) / len(labels) < min_agreement:
        return "low_agreement"
    return bool(side is good), side


# ---------------------------------------------------------------------------------------------- the join


def judgment_count(pending: Pending) -> int:
    ids = {i for v in pending.votes for i in v.event_ids}
    ids.update(i for x in pending.labels for i in x.event_ids)
    ids.update(s.event_id for s in pending.scores)
    ids.update(s.event_id for s in pending.signals)
    return len(ids) + pending.erased


def join_request(
    inference: dict[str, Any], erased: bool, position: int, waiting: Waiting, ctx: JoinContext
) -> list[Draft]:
    """The drafts one request yields. ``inference`` is the stored inference event."""
    drops = ctx.drops
    pending = to_pending(waiting)
    request_id = str(inference["request_id"])
    if erased or request_id in ctx.erased_requests:
        drops["erased"] += judgment_count(pending)
        return []
    if pending.erased:
        drops["erased"] += pending.erased
    opts = ctx.options
    user_id = inference.get("user_id")
    if opts.users and user_id not in opts.users:
        drops["filtered_user"] += judgment_count(pending) - pending.erased
        return []
    touched = _drop_retracted(pending, ctx.retracted, drops)
    candidates = {str(c["candidate_id"]): c for c in inference.get("candidates", [])}
    votes = pending.votes
    if pending.scores:
        votes = votes + score_votes(pending.scores, opts.min_margin, drops)
    votes = _known(votes, candidates, drops)
    labels = [x for x in pending.labels if x.candidate_id in candidates]
    if len(labels) != len(pending.labels):
        drops["unknown_candidate"] += len(pending.labels) - len(labels)
    if pending.signals or (labels and opts.implicit_pairs):
        votes, labels = _with_implicit(votes, labels, pending, candidates, ctx)
    decisions = _decide_pairs(votes, opts, drops)
    request = _Request(inference, max(position, touched), candidates, ctx)
    if ctx.kind == "pairs":
        drops["unpaired_only"] += len(labels)
        return [d for d in (request.pair_draft(x) for x in decisions) if d is not None]
    if opts.unpaired_from_pairs:
        labels = labels + [y for x in decisions for y in _labels_of_pair(x)]
    else:
        drops["paired_only"] += len(decisions)
    return _unpaired_drafts(request, labels, opts, drops)


def _with_implicit(
    votes: list[Vote], labels: list[Label], pending: Pending, candidates: dict[str, Any], ctx: JoinContext
) -> tuple[list[Vote], list[Label]]:
    """Add the weak votes of the implicit-pair rules (pair formats only); the thumbs labels they
    used are spent. Signals kept for a rule that made no pair are ``signal_not_used``."""
    drops = ctx.drops
    signals = [s for s in pending.signals if s.candidate_id in candidates]
    drops["unknown_candidate"] += len(pending.signals) - len(signals)
    if ctx.kind != "pairs" or not ctx.options.implicit_pairs:
        drops["signal_not_used"] += len(signals)
        return votes, labels
    weak = implicit_votes(labels, signals, ctx.options)
    votes, superseded = supersede(votes, weak.votes)
    drops["implicit_superseded"] += superseded
    drops["signal_not_used"] += weak.unused_signals
    return votes, [x for x in labels if not weak.used_labels.intersection(x.event_ids)]


def _drop_retracted(pending: Pending, retracted: dict[str, int], drops: Counter[str]) -> int:
    """Remove retracted judgments; answer the latest position of a retraction that removed one
    (0 if none): the request's items changed then, which an incremental compile must see."""
    if not retracted:
        return 0
    gone: set[str] = set()

    def hit(ids: tuple[str, ...]) -> bool:
        found = [i for i in ids if i in retracted]
        gone.update(found)
        return bool(found)

    pending.votes = [v for v in pending.votes if not hit(v.event_ids)]
    pending.labels = [x for x in pending.labels if not hit(x.event_ids)]
    pending.scores = [s for s in pending.scores if not hit((s.event_id,))]
    pending.signals = [s for s in pending.signals if not hit((s.event_id,))]
    drops["retracted"] += len(gone)
    return max((retracted[i] for i in gone), default=0)


def _known(votes: list[Vote], candidates: dict[str, Any], drops: Counter[str]) -> list[Vote]:
    out = [v for v in votes if v.winner in candidates and v.loser in candidates]
    if len(out) != len(votes):
        drops["unknown_candidate"] += len(votes) - len(out)
    return out


def _decide_pairs(votes: list[Vote], opts: CompileOptions, drops: Counter[str]) -> list[Decision]:
    if len(votes) == 1:
        one = aggregate_votes(votes, opts.aggregate, opts.min_agreement)
        if isinstance(one, str):
            drops[one] += 1
            return []
        return [one]
    by_pair: dict[tuple[str, str], list[Vote]] = defaultdict(list)
    for v in votes:
        by_pair[(v.winner, v.loser) if v.winner < v.loser else (v.loser, v.winner)].append(v)
    out: list[Decision] = []
    for key in sorted(by_pair):
        result = aggregate_votes(by_pair[key], opts.aggregate, opts.min_agreement)
        if isinstance(result, str):
            drops[result] += 1
        else:
            out.append(result)
    return out


def _labels_of_pair(d: Decision) -> list[Label]:
    ids = tuple(sorted({i for v in d.agreeing for i in v.event_ids}))
    last = max(d.agreeing, key=lambda v: (v.occurred_at, v.position))
    return [
        Label(d.winner, True, ids, last.position, last.occurred_at, last.source, "chosen", last.criterion),
        Label(d.loser, False, ids, last.position, last.occurred_at, last.source, "rejected", last.criterion),
    ]


def _unpaired_drafts(
    request: _Request, labels: list[Label], opts: CompileOptions, drops: Counter[str]
) -> list[Draft]:
    by_candidate: dict[str, list[Label]] = defaultdict(list)
    for x in labels:
        by_candidate[x.candidate_id].append(x)
    out: list[Draft] = []
    for cid in sorted(by_candidate):
        result = aggregate_labels(by_candidate[cid], opts.aggregate, opts.min_agreement)
        if isinstance(result, str):
            drops[result] += 1
            continue
        draft = request.unpaired_draft(cid, result[0], result[1], max(x.position for x in by_candidate[cid]))
        if draft is not None:
            out.append(draft)
    return out


class _Request:
    """One joined inference: builds drafts, spilling its texts once. ``position`` is where the
    request last changed: its inference, or a retraction of one of its judgments."""

    def __init__(
        self, inference: dict[str, Any], position: int, candidates: dict[str, Any], ctx: JoinContext
    ) -> None:
        self.position = position
        self.candidates = candidates
        self.ctx = ctx
        self.prompt: Prompt = inference.get("prompt") or ""
        self.system = inference.get("system")
        self.user_id = inference.get("user_id")
        self.presented = inference.get("presented")
        self.occurred_at = str(inference["occurred_at"])
        self.request_id = str(inference["request_id"])
        self._refs: dict[str, int] = {}
        self._replies: dict[str, Reply] = {}
        self._prompt_needs: frozenset[str] | None = None
        self._refusal: str | None = None  # the format's reason to refuse this prompt ("" for none)
        self._prompt_key: bytes | None = None
        self._prompt_repr: str | None = None

    def _valid_prompt(self) -> bool:
        if isinstance(self.prompt, str):
            return bool(self.prompt.strip())
        return isinstance(self.prompt, list) and bool(self.prompt)

    def _reply(self, cid: str) -> Reply:
        """The candidate's reply: its output, or its messages (see :func:`preflog.records.reply_of`)."""
        try:
            return self._replies[cid]
        except KeyError:
            reply = self._replies[cid] = reply_of(self.candidates[cid])
            return reply

    def _model(self, cid: str) -> str:
        model = self.candidates[cid].get("model") or {}
        return str(model.get("name", ""))

    def _ref(self, name: str, value: Any) -> int:
        ref = self._refs.get(name)
        if ref is None:
            spill = self.ctx.spill
            ref = spill.add(value) if isinstance(value, str) else spill.add_json(value)
            self._refs[name] = ref
        return ref

    def _prompt_refs(self) -> tuple[int, int]:
        system = self._ref("\x00system", self.system) if self.system is not None else NO_TEXT
        return self._ref("\x00prompt", self.prompt), system

    def _keys(self) -> tuple[bytes, str]:
        if self._prompt_key is None or self._prompt_repr is None:
            self._prompt_key = digest(normalized_prompt(self.prompt, self.system))
            p = self.prompt if isinstance(self.prompt, str) else repr(self.prompt)
            self._prompt_repr = f"{p}\x00{self.system or ''}"
        return self._prompt_key, self._prompt_repr

    def _check(self, cids: tuple[str, ...]) -> str | None:
        """Why these candidates cannot make an item (validation, then what the format carries), or
        None. An empty reply is a reply: only ``drop_empty`` drops it."""
        if not self._valid_prompt():
            return "missing_prompt"
        replies = [self._reply(c) for c in cids]
        if self.ctx.options.drop_empty and any(is_empty_answer(self.candidates[c]) for c in cids):
            return "empty_output"
        if len(replies) == 2 and replies[0] == replies[1]:
            return "identical_outputs"
        models = self.ctx.options.models
        if models and not any(self._model(c) in models for c in cids):
            return "filtered_model"
        if self._prompt_needs is None:
            self._prompt_needs = needs(self.prompt, ())
        if self._prompt_needs or not all(isinstance(r, str) for r in replies):  # more than plain text
            missing = (self._prompt_needs | needs("", replies)) - self.ctx.carries
            unsupported = next((f"unsupported_{f}" for f in FEATURES if f in missing), None)
            if unsupported is not None:
                return unsupported
        return self._refused()

    def _refused(self) -> str | None:
        """The format's own reason to refuse this request's prompt (FormatSpec.refuses), once."""
        if self.ctx.refuses is None:
            return None
        if self._refusal is None:
            self._refusal = self.ctx.refuses(self.prompt, self.system) or ""
        return self._refusal or None

    def pair_draft(self, d: Decision) -> Draft | None:
        reason = self._check((d.winner, d.loser))
        if reason is not None:
            self.ctx.drops[reason] += 1
            return None
        agreeing = d.agreeing
        if len(agreeing) == 1:
            last = agreeing[0]
            margin = last.margin
            sources: tuple[str, ...] = (last.source,)
            criterion = last.criterion
            ids = last.event_ids
        else:
            last = max(agreeing, key=lambda v: (v.occurred_at, v.position))
            margins = [v.margin for v in agreeing if v.margin is not None]
            margin = sum(margins) / len(margins) if margins else None
            sources = tuple(sorted({v.source for v in agreeing}))
            criteria = {v.criterion for v in agreeing}
            criterion = criteria.pop() if len(criteria) == 1 else None
            ids = tuple(sorted({i for v in agreeing for i in v.event_ids}))
        presented = last.presented or self.presented
        chosen_first = None
        if presented and d.winner in presented and d.loser in presented:
            chosen_first = presented.index(d.winner) < presented.index(d.loser)
        margin = round(margin, 6) if margin is not None else None
        # the fields of a Pair after its four texts, in order (see Pair)
        meta = (
            self.request_id,
            d.winner,
            d.loser,
            self._model(d.winner),
            self._model(d.loser),
            margin,
            sources,
            criterion,
            round(d.agreement, 6),
            d.total,
            self.user_id,
            last.occurred_at,
            chosen_first,
            ids,
        )
        chosen, rejected = self._reply(d.winner), self._reply(d.loser)
        prompt_key, prompt_repr = self._keys()
        spill = self.ctx.spill
        prompt_ref, system_ref = self._prompt_refs()
        refs = spill.add_refs(
            prompt_ref,
            system_ref,
            self._ref(d.winner, chosen),
            self._ref(d.loser, rejected),
            spill.add_meta(meta),
        )
        return Draft(
            key=f"{self.occurred_at}\x00{self.request_id}\x00{d.winner}\x00{d.loser}",
            refs=refs,
            prompt_key=prompt_key,
            triple=digest(prompt_repr, _key(chosen), _key(rejected)),
            user_id=self.user_id,
            margin=margin,
            chosen_first=chosen_first,
            latest=max(self.position, d.latest),
            length_sign=_sign(reply_length(chosen) - reply_length(rejected)),
        )

    def unpaired_draft(self, cid: str, good: bool, agreeing: list[Label], latest: int) -> Draft | None:
        reason = self._check((cid,))
        if reason is not None:
            self.ctx.drops[reason] += 1
            return None
        last = max(agreeing, key=lambda x: (x.occurred_at, x.position))
        completion = self._reply(cid)
        user_id = last.user_id or self.user_id
        # the fields of an Unpaired after its three texts, in order (see Unpaired)
        meta = (
            good,
            self.request_id,
            cid,
            self._model(cid),
            last.source,
            last.signal,
            last.criterion,
            user_id,
            last.occurred_at,
            tuple(sorted({i for x in agreeing for i in x.event_ids})),
        )
        prompt_key, prompt_repr = self._keys()
        spill = self.ctx.spill
        prompt_ref, system_ref = self._prompt_refs()
        refs = spill.add_refs(
            prompt_ref, system_ref, self._ref(cid, completion), NO_TEXT, spill.add_meta(meta)
        )
        return Draft(
            key=f"{self.occurred_at}\x00{self.request_id}\x00{cid}",
            refs=refs,
            prompt_key=prompt_key,
            triple=digest(prompt_repr, _key(completion), str(good)),
            user_id=user_id,
            margin=None,
            chosen_first=None,
            latest=max(self.position, latest),
            length_sign=0,
        )


def _key(reply: Reply) -> str:
    """A reply as digest text; messages as canonical JSON behind a mark no text starts with."""
    return reply if isinstance(reply, str) else "\x01" + canonical(reply)


def _sign(n: int) -> int:
    return (n > 0) - (n < 0)
