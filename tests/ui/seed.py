"""Test data for the UI tests: the demo project plus small hand-made projects in one SQLite file."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from preflog.demo import load_demo
from preflog.events import format_time
from preflog.server.keys import create_key, open_key_store
from preflog.store import open_store
from tests.factories import tool_inference

NS = uuid.UUID("0d7c9a52-8f4e-4a53-9b5c-4f0d3f6e7a10")
BASE = 1_795_000_000.0  # 2026-11-18
ARENA_ITEMS = 24
XSS_SCRIPT = "<script>window.__pwned=1</script>"
XSS_IMG = '<img src=x onerror="window.__pwned=1">'
MODELS = ("alpha-7b", "beta-13b", "gamma-70b")


def uid(*parts: object) -> str:
    return str(uuid.uuid5(NS, "/".join(map(str, parts))))


@dataclass
class Seeded:
    db: str
    keys: dict[str, str] = field(default_factory=dict)  # name -> token
    arena_requests: list[str] = field(default_factory=list)
    xss_request: str = ""
    agent_request: str = ""
    ranking_requests: list[str] = field(default_factory=list)  # three different answers each


def _inference(project: str, i: int, outputs: list[str], prompt: Any, models: list[str]) -> dict[str, Any]:
    rid = uid(project, "request", i)
    return {
        "event_id": uid(project, "inference", i),
        "type": "inference",
        "request_id": rid,
        "occurred_at": format_time(BASE + 60 * i),
        "prompt": prompt,
        "candidates": [
            {"candidate_id": cid, "output": out, "model": {"name": model, "version": "1"}}
            for cid, out, model in zip(("a", "b", "c", "d"), outputs, models, strict=False)
        ],
        "user_id": f"user-{i % 5}",
        "tags": ["ui-test", f"batch-{i % 3}"],
    }


def _score(project: str, i: int, cid: str, value: float) -> dict[str, Any]:
    return {
        "event_id": uid(project, "score", i, cid),
        "type": "score",
        "request_id": uid(project, "request", i),
        "occurred_at": format_time(BASE + 60 * i + 5),
        "candidate_id": cid,
        "score": value,
        "scorer": {"name": "rm-test", "version": "1", "kind": "reward_model"},
    }


def arena_events(project: str) -> list[dict[str, Any]]:
    events = []
    for i in range(ARENA_ITEMS):
        a, b = MODELS[i % 3], MODELS[(i + 1) % 3]
        prompt: Any = (
            f"Question {i}: explain **caching** in one paragraph."
            if i % 2
            else [
                {"role": "user", "content": "Hi!"},
                {"role": "assistant", "content": "Hello, how can I help?"},
                {"role": "user", "content": f"Question {i}: write `sum()` in Python.\n\n- short\n- correct"},
            ]
        )
        outputs = [
            f"Answer {i}A from {a}.\n\n```python\nprint(sum([1, 2]))\n```",
            f"Answer {i}B from {b}: use **sum** on a list.\n\n1. one\n2. two",
        ]
        events.append(_inference(project, i, outputs, prompt, [a, b]))
        gap = 0.5 - i / 50  # shrinks with i: later items are "more uncertain"
        events += [_score(project, i, "a", 1.0 + i / 10), _score(project, i, "b", 1.0 + i / 10 + gap)]
    return events


def xss_events(project: str) -> list[dict[str, Any]]:
    prompt = [{"role": "user", "content": f"Render this: {XSS_SCRIPT}"}]
    return [_inference(project, 0, [XSS_SCRIPT, XSS_IMG], prompt, ["alpha-7b", "beta-13b"])]


RANKING_ITEMS = 4


def ranking_events(project: str) -> list[dict[str, Any]]:
    """Three-answer requests (the arena's ranking view), and two the arena must not offer as they
    are: every answer the same (never offered), and two of three the same (offered as a pair)."""
    events = [
        _inference(
            project, i, [f"R{i} one.", f"R{i} **two**.", f"R{i} three, longer."], f"Rank {i}", list(MODELS)
        )
        for i in range(RANKING_ITEMS)
    ]
    same = _inference(project, 100, ["Paris.", "Paris."], "Capital of France?", ["alpha-7b", "beta-13b"])
    two_of_three = _inference(project, 101, ["4", "four", "4"], "2 + 2?", list(MODELS))
    return [*events, same, two_of_three]


def seed(db: str) -> Seeded:
    out = Seeded(db)
    store = open_store(db)
    keys = open_key_store(store)
    try:
        load_demo(store, "demo")
        projects = (
            ("arena", arena_events("arena")),
            ("xss", xss_events("xss")),
            ("ranking", ranking_events("ranking")),
            ("agents", [tool_inference(uid("agents", "request", 0), event_id=uid("agents", "inference", 0))]),
        )
        for project, events in projects:
            results = store.append(events, project=project)
            assert all(r.status == "stored" for r in results), results
        out.arena_requests = [uid("arena", "request", i) for i in range(ARENA_ITEMS)]
        out.xss_request = uid("xss", "request", 0)
        out.agent_request = uid("agents", "request", 0)
        out.ranking_requests = [uid("ranking", "request", i) for i in range(RANKING_ITEMS)]
        for name, project, scope in (
            ("alice", "arena", "annotate"),
            ("bob", "arena", "annotate"),
            ("carol", "arena", "annotate"),
            ("reader", "arena", "read"),
            ("ingester", "arena", "ingest"),
            ("xss-annotator", "xss", "annotate"),
            ("ranker", "ranking", "annotate"),
            ("agent-annotator", "agents", "annotate"),
            ("outsider", "other", "annotate"),
            ("demo-admin", "demo", "admin"),
        ):
            out.keys[name], _ = create_key(keys, project=project, scope=scope, name=name)
    finally:
        if keys is not store:
            keys.close()
        store.close()
    return out
