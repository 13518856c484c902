"""A realistic synthetic preflog project, the same for the same seed: ``preflog demo`` and ``make run``.

:func:`demo_events` builds the event stream of a small product that logs its LLM traffic: five
model versions of unequal quality (so leaderboards have something to show), chat and plain prompts,
2–4 candidates per request, human annotators (pairwise, rankings, ties, both-bad, rationales), an AI
judge, end users (thumbs, copy, regenerate, dwell time, A/B picks), a reward model scoring every
candidate, a few retractions, judgments that arrive before their inference (a few whose inference
never arrives), and two erasures. Every id is a UUID5 of the seed and every timestamp counts from a
fixed base time, so two runs with one seed give identical events. :func:`load_demo` appends them.
"""

from __future__ import annotations

import math
import random
import uuid
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final

from preflog.demo_texts import (
    CHAT_OPENERS,
    HEDGES,
    OFF_TARGET,
    RATIONALES_BAD,
    RATIONALES_GOOD,
    REFUSALS,
    RETRACTION_REASONS,
    SYSTEM_PROMPTS,
    TOPICS,
    Topic,
)
from preflog.events import EVENT_TYPES, format_time
from preflog.progress import ProgressCallback, report
from preflog.store.base import AppendResult, Store

__all__ = ["DEFAULT_REQUESTS", "DEFAULT_SEED", "MODELS", "DemoReport", "demo_events", "load_demo"]

DEFAULT_SEED: Final = 7
DEFAULT_REQUESTS: Final = 800
NAMESPACE: Final = uuid.UUID("5b0e9f3c-6d1a-4c58-9a57-0d6f2d1c7e21")
BASE_TIME: Final = datetime(2026, 11, 2, 8, 0, tzinfo=UTC).timestamp()
SPAN_SECONDS: Final = 14 * 86400
ANNOTATORS: Final = tuple(f"annotator-{i:02d}" for i in range(1, 9))
REWARD_MODEL: Final = {"name": "rm-deberta-v3-large", "version": "2026.10", "kind": "reward_model"}
AI_JUDGE: Final = {"kind": "ai_judge", "id": "judge-cirrus-70b", "version": "prompt-v4"}
CANDIDATE_LETTERS: Final = "abcd"


@dataclass(frozen=True)
class DemoModel:
    name: str
    version: str
    checkpoint: str
    quality: float  # mean latent answer quality, 0..1
    ms_per_token: float

    def to_dict(self) -> dict[str, str]:
        return {"name": self.name, "version": self.version, "checkpoint": self.checkpoint}


MODELS: Final = (
    DemoModel("atlas-7b", "1.0", "atlas-7b-sft-2026-08-14", 0.38, 9.0),
    DemoModel("atlas-7b", "2.0", "atlas-7b-dpo-2026-10-30", 0.55, 9.5),
    DemoModel("borealis-13b", "3.1", "borealis-13b-instruct-r3", 0.6, 15.0),
    DemoModel("cirrus-70b", "1.2", "cirrus-70b-chat-0925", 0.78, 38.0),
    DemoModel("dorado-3b", "0.9", "dorado-3b-ft-q4", 0.22, 5.0),
)


@dataclass
class _Candidate:
    cid: str
    model: DemoModel
    quality: float
    output: str


@dataclass
class _Request:
    request_id: str
    index: int
    at: float
    topic: Topic
    user_id: str
    session_id: str
    candidates: list[_Candidate]
    presented: list[str]


@dataclass
class _Builder:
    """Accumulates events with their stream order (which may differ from occurred_at)."""

    seed: int
    rng: random.Random
    rows: list[tuple[float, int, dict[str, Any]]] = field(default_factory=list)
    counter: int = 0

    def new_id(self, kind: str = "event") -> str:
        self.counter += 1
        return str(uuid.uuid5(NAMESPACE, f"{self.seed}/{kind}/{self.counter}"))

    def emit(self, event: dict[str, Any], at: float, stream_at: float | None = None) -> dict[str, Any]:
        event = {"event_id": self.new_id(), **event, "occurred_at": format_time(round(at, 3))}
        self.rows.append((at if stream_at is None else stream_at, len(self.rows), event))
        return event

    def ordered(self) -> list[dict[str, Any]]:
        return [event for _, _, event in sorted(self.rows, key=lambda row: (row[0], row[1]))]


# ---------------------------------------------------------------------------------------------- texts


def _answer(rng: random.Random, topic: Topic, quality: float) -> str:
    """Text for a candidate of latent ``quality``: thorough, brief, hedged, off target or refused."""
    if quality > 0.68:
        return topic.good
    if quality > 0.5:
        return topic.brief if rng.random() < 0.6 else topic.good.split("\n\n")[0]
    if quality > 0.3:
        return rng.choice(HEDGES) + topic.brief
    if rng.random() < 0.3:
        return rng.choice(REFUSALS).format(subject=topic.subject)
    return rng.choice(OFF_TARGET).format(subject=topic.subject.capitalize())


def _prompt(rng: random.Random, topic: Topic) -> tuple[str | list[dict[str, str]], str | None]:
    """A plain prompt, or a chat conversation (sometimes with an opening exchange) and a system prompt."""
    if rng.random() < 0.4:
        return topic.prompt, None
    messages: list[dict[str, str]] = []
    if rng.random() < 0.35:
        user, assistant = rng.choice(CHAT_OPENERS)
        messages += [{"role": "user", "content": user}, {"role": "assistant", "content": assistant}]
    messages.append({"role": "user", "content": topic.prompt})
    system = rng.choice(SYSTEM_PROMPTS) if rng.random() < 0.6 else None
    return messages, system


def _tokens(text: str) -> int:
    return max(1, len(text) // 4)


# ---------------------------------------------------------------------------------------------- inference


def _pick_models(rng: random.Random) -> list[DemoModel]:
    """An arena mix, an A/B test of atlas-7b v1 against v2, or several samples of one model."""
    mode = rng.random()
    if mode < 0.25:
        return [MODELS[0], MODELS[1]]
    n = rng.choices((2, 3, 4), weights=(0.55, 0.3, 0.15))[0]
    if mode < 0.4:
        return [rng.choice(MODELS)] * n
    return rng.sample(MODELS, n)


def _candidate(
    rng: random.Random, cid: str, model: DemoModel, topic: Topic, prompt_tokens: int
) -> tuple[_Candidate, dict[str, Any]]:
    quality = min(1.0, max(0.0, rng.gauss(model.quality, 0.15)))
    output = _answer(rng, topic, quality)
    if quality > 0.6 and rng.random() < 0.15:
        output += "\n\nLet me know if you'd like more detail."
    out_tokens = _tokens(output)
    wire = {
        "candidate_id": cid,
        "output": output,
        "model": model.to_dict(),
        "params": {
            "temperature": rng.choice((0.2, 0.7, 0.7, 1.0)),
            "top_p": rng.choice((0.9, 0.95, 1.0)),
            "max_tokens": rng.choice((512, 1024)),
            "seed": rng.randrange(1 << 31),
        },
        "usage": {"input_tokens": prompt_tokens, "output_tokens": out_tokens},
        "latency_ms": round(120 + out_tokens * model.ms_per_token * rng.uniform(0.8, 1.3), 1),
    }
    return _Candidate(cid, model, quality, output), wire


def _inference(b: _Builder, index: int, total: int) -> tuple[_Request, dict[str, Any]]:
    rng = b.rng
    slot = SPAN_SECONDS / total
    at = BASE_TIME + index * slot + rng.uniform(0, slot)
    users = max(10, total // 5)
    topic = rng.choice(TOPICS)
    prompt, system = _prompt(rng, topic)
    prompt_text = prompt if isinstance(prompt, str) else " ".join(m["content"] for m in prompt)
    prompt_tokens = _tokens(prompt_text + (system or ""))
    models = _pick_models(rng)
    cands, wires = [], []
    for i, model in enumerate(models):
        cand, wire = _candidate(rng, CANDIDATE_LETTERS[i], model, topic, prompt_tokens)
        cands.append(cand)
        wires.append(wire)
    presented = [c.cid for c in cands]
    rng.shuffle(presented)
    user = f"user-{rng.randrange(users) + 1:04d}"
    session = f"{user}-s{int((at - BASE_TIME) // 86400) + 1:02d}"
    req = _Request(b.new_id("request"), index, at, topic, user, session, cands, presented)
    event: dict[str, Any] = {
        "type": "inference",
        "request_id": req.request_id,
        "prompt": prompt,
        "candidates": wires,
        "presented": presented,
        "user_id": user,
        "session_id": session,
        "features": {"locale": rng.choice(("en-US", "en-GB", "en-IN")), "surface": _surface(topic)},
        "tags": ["demo", topic.category],
    }
    if system is not None:
        event["system"] = system
    return req, event


def _surface(topic: Topic) -> str:
    return {"support": "help-center", "coding": "ide-plugin"}.get(topic.category, "chat-app")


# ---------------------------------------------------------------------------------------------- judgments


def _sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


def _pairwise(
    b: _Builder, req: _Request, a: _Candidate, c: _Candidate, annotator: str, at: float
) -> dict[str, Any]:
    """One annotator's judgment of two candidates: chosen/rejected, a tie, or both bad."""
    rng = b.rng
    criterion = "harmlessness" if req.topic.category == "safety" or rng.random() < 0.08 else "helpfulness"
    event: dict[str, Any] = {
        "type": "preference",
        "request_id": req.request_id,
        "source": {"kind": "human", "id": annotator, "version": "guidelines-v2"},
        "criterion": criterion,
        "presented": [a.cid, c.cid],
    }
    gap = a.quality - c.quality
    if max(a.quality, c.quality) < 0.3 and rng.random() < 0.6:
        event.update(outcome="both_bad", candidates=[a.cid, c.cid], rationale=rng.choice(RATIONALES_BAD))
    elif abs(gap) < 0.04 and rng.random() < 0.5:
        event.update(outcome="tie", candidates=[a.cid, c.cid])
    else:
        win, lose = (a, c) if rng.random() < _sigmoid(6.0 * gap) else (c, a)
        event.update(chosen=win.cid, rejected=lose.cid, strength=round(min(1.0, 0.3 + abs(gap) * 1.5), 2))
        if rng.random() < 0.6:
            event["rationale"] = rng.choice(RATIONALES_GOOD)
    return b.emit(event, at)


def _ranking(b: _Builder, req: _Request, annotator: str, at: float) -> dict[str, Any]:
    """All candidates best first, by noisy perceived quality; near-equal neighbours form a tie group."""
    perceived = sorted(req.candidates, key=lambda c: c.quality + b.rng.gauss(0, 0.08), reverse=True)
    groups: list[list[str]] = []
    last = None
    for cand in perceived:
        if last is not None and abs(last - cand.quality) < 0.02:
            groups[-1].append(cand.cid)
        else:
            groups.append([cand.cid])
        last = cand.quality
    ranking: list[str | list[str]] = [g[0] if len(g) == 1 else g for g in groups]
    event = {
        "type": "preference",
        "request_id": req.request_id,
        "ranking": ranking,
        "criterion": "helpfulness",
        "source": {"kind": "human", "id": annotator, "version": "guidelines-v2"},
        "presented": list(req.presented),
    }
    return b.emit(event, at)


def _annotate(b: _Builder, req: _Request) -> list[dict[str, Any]]:
    """Human annotation: one to three annotators, pairwise or ranking, sometimes an AI judge too."""
    rng = b.rng
    out: list[dict[str, Any]] = []
    for annotator in rng.sample(ANNOTATORS, rng.choices((1, 2, 3), weights=(0.5, 0.35, 0.15))[0]):
        at = req.at + rng.uniform(2 * 3600, 3 * 86400)
        if len(req.candidates) >= 3 and rng.random() < 0.45:
            out.append(_ranking(b, req, annotator, at))
            continue
        by_id = {c.cid: c for c in req.candidates}
        first, second = (by_id[cid] for cid in req.presented[:2])
        pref = _pairwise(b, req, first, second, annotator, at)
        out.append(pref)
        if rng.random() < 0.04:
            out += _retract_and_fix(b, req, pref, annotator, at)
    if rng.random() < 0.25:
        out.append(_ai_judge(b, req))
    return out


def _retract_and_fix(
    b: _Builder, req: _Request, pref: dict[str, Any], annotator: str, at: float
) -> list[dict[str, Any]]:
    """The annotator withdraws a judgment and files the corrected one."""
    at += b.rng.uniform(120, 3600)
    retraction = {
        "type": "retraction",
        "request_id": req.request_id,
        "retracts": pref["event_id"],
        "reason": b.rng.choice(RETRACTION_REASONS),
        "source": {"kind": "human", "id": annotator},
    }
    fixed = {k: v for k, v in pref.items() if k not in ("event_id", "occurred_at")}
    if "chosen" in fixed:
        fixed["chosen"], fixed["rejected"] = fixed["rejected"], fixed["chosen"]
    fixed["metadata"] = {"corrects": pref["event_id"]}
    return [b.emit(retraction, at), b.emit(fixed, at + 60)]


def _ai_judge(b: _Builder, req: _Request) -> dict[str, Any]:
    a, c = b.rng.sample(req.candidates, 2)
    win, lose = (a, c) if b.rng.random() < _sigmoid(4.0 * (a.quality - c.quality)) else (c, a)
    event = {
        "type": "preference",
        "request_id": req.request_id,
        "chosen": win.cid,
        "rejected": lose.cid,
        "criterion": "helpfulness",
        "source": dict(AI_JUDGE),
        "scores": {win.cid: round(6 + 4 * win.quality, 1), lose.cid: round(6 + 4 * lose.quality, 1)},
    }
    return b.emit(event, req.at + b.rng.uniform(600, 7200))


def _reward_scores(b: _Builder, req: _Request) -> list[dict[str, Any]]:
    at = req.at + b.rng.uniform(60, 1800)
    return [
        b.emit(
            {
                "type": "score",
                "request_id": req.request_id,
                "candidate_id": cand.cid,
                "score": round(2.5 * cand.quality - 1.0 + b.rng.gauss(0, 0.35), 4),
                "scorer": dict(REWARD_MODEL),
                "criterion": "overall",
            },
            at + i * 0.05,
        )
        for i, cand in enumerate(req.candidates)
    ]


def _end_user(b: _Builder, req: _Request) -> list[dict[str, Any]]:
    """What the user did: an A/B pick between two answers, or signals on the answer shown first."""
    rng = b.rng
    if len(req.candidates) == 2 and rng.random() < 0.4:
        a, c = req.candidates
        win, lose = (a, c) if rng.random() < _sigmoid(5.0 * (a.quality - c.quality)) else (c, a)
        pick = {
            "type": "preference",
            "request_id": req.request_id,
            "chosen": win.cid,
            "rejected": lose.cid,
            "source": {"kind": "end_user", "id": req.user_id},
            "presented": list(req.presented),
        }
        return [b.emit(pick, req.at + rng.uniform(5, 90))]
    shown = next(c for c in req.candidates if c.cid == req.presented[0])
    return _signals(b, req, shown)


def _signals(b: _Builder, req: _Request, shown: _Candidate) -> list[dict[str, Any]]:
    rng = b.rng
    at = req.at + rng.uniform(3, 30)
    found: list[tuple[str, float | None]] = [
        ("dwell_ms", float(int(2000 + 40000 * shown.quality * rng.random())))
    ]
    if rng.random() < 0.5 * shown.quality + 0.1:
        found.append(("copy", None))
    if rng.random() < 0.6 * (1 - shown.quality):
        found.append(("regenerate", None))
    if rng.random() < 0.35:
        found.append(("thumbs_up" if rng.random() < shown.quality else "thumbs_down", None))
    out = []
    for i, (kind, value) in enumerate(found):
        event: dict[str, Any] = {
            "type": "signal",
            "request_id": req.request_id,
            "candidate_id": shown.cid,
            "signal": kind,
            "user_id": req.user_id,
            "session_id": req.session_id,
        }
        if value is not None:
            event["value"] = value
        out.append(b.emit(event, at + i * rng.uniform(1, 20)))
    return out


# ---------------------------------------------------------------------------------------------- the stream


def _request_events(b: _Builder, index: int, total: int) -> _Request:
    """One request: its inference, then its judgments; now and then the inference arrives late or never."""
    req, inference = _inference(b, index, total)
    judgments: list[dict[str, Any]] = []
    channel = b.rng.random()
    if channel < 0.3:
        judgments += _annotate(b, req)
    elif channel < 0.8:
        judgments += _end_user(b, req)
    if b.rng.random() < 0.55:
        judgments += _reward_scores(b, req)
    stream_at = None
    if judgments and b.rng.random() < 0.03:  # a slow queue delivers the inference after its judgments
        if b.rng.random() < 0.2:
            return req  # lost in transit: its judgments stay orphans
        last_judgment = max(row[0] for row in b.rows[-len(judgments) :])
        stream_at = max(last_judgment, req.at + 3 * 86400) + 60
    b.emit(inference, req.at, stream_at)
    return req


def _erasures(b: _Builder, requests: Sequence[_Request]) -> None:
    """One user asks to be forgotten; one request whose prompt pasted personal data is erased."""
    end = BASE_TIME + SPAN_SECONDS + 3 * 86400
    user = requests[len(requests) // 3].user_id
    b.emit({"type": "erasure", "user_id": user, "reason": "GDPR art. 17 request, ticket DSR-1042"}, end)
    target = requests[len(requests) // 2].request_id
    b.emit({"type": "erasure", "request_id": target, "reason": "prompt contained a phone number"}, end + 60)


def demo_events(seed: int = DEFAULT_SEED, requests: int = DEFAULT_REQUESTS) -> list[dict[str, Any]]:
    """The demo project's events in stream order; the same ``seed`` and ``requests`` give the same list.

    >>> events = demo_events(requests=20)
    >>> events == demo_events(requests=20), events[0]["type"]
    (True, 'inference')
    """
    if requests < 1:
        raise ValueError("requests must be at least 1")
    b = _Builder(seed, random.Random(seed))
    made = [_request_events(b, i, requests) for i in range(requests)]
    if requests >= 4:
        _erasures(b, made)
    return b.ordered()


# ---------------------------------------------------------------------------------------------- loading


@dataclass(frozen=True)
class DemoReport:
    """What :func:`load_demo` appended: per status, per type, the models, and one request to look at."""

    project: str
    seed: int
    requests: int
    events: int
    by_status: dict[str, int]
    by_type: dict[str, int]
    models: list[str]
    sample_request_id: str | None
    problems: list[AppendResult]

    def to_dict(self) -> dict[str, Any]:
        out = dict(self.__dict__)
        out["problems"] = [p.to_dict() for p in self.problems]
        return out


def load_demo(
    store: Store,
    project: str,
    *,
    seed: int = DEFAULT_SEED,
    requests: int = DEFAULT_REQUESTS,
    batch_size: int = 1000,
    progress: ProgressCallback | None = None,
) -> DemoReport:
    """Append the demo project to ``store`` under ``project``; running it twice stores nothing new.
    ``progress`` hears of every batch appended (:mod:`preflog.progress`)."""
    events = demo_events(seed, requests)
    results: list[AppendResult] = []
    for start in range(0, len(events), batch_size):
        results += store.append(events[start : start + batch_size], project=project)
        report(progress, "appending", min(start + batch_size, len(events)), len(events), unit="events")
    models = sorted(
        {
            f"{c['model']['name']} {c['model']['version']}"
            for e in events
            if e["type"] == "inference"
            for c in e["candidates"]
        }
    )
    by_type = Counter(str(e["type"]) for e in events)
    sample = next((e["request_id"] for e in events if e["type"] == "inference"), None)
    return DemoReport(
        project=project,
        seed=seed,
        requests=requests,
        events=len(events),
        by_status=dict(Counter(r.status for r in results)),
        by_type={t: by_type.get(t, 0) for t in EVENT_TYPES},
        models=models,
        sample_request_id=sample,
        problems=[r for r in results if r.status in ("rejected", "conflict")],
    )
