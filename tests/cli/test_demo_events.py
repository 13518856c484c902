"""The demo project: deterministic, valid, and rich enough to exercise every later feature."""

from __future__ import annotations

from collections import Counter
from typing import Any

from preflog.demo import DEFAULT_REQUESTS, demo_events
from preflog.events import EVENT_TYPES, JUDGMENT_TYPES, check_event

EVENTS = demo_events()


def test_same_seed_same_events_other_seed_other_events() -> None:
    assert demo_events() == EVENTS
    other = demo_events(seed=8)
    assert other != EVENTS
    assert {e["event_id"] for e in other}.isdisjoint(e["event_id"] for e in EVENTS)


def test_default_size_is_a_few_thousand_events() -> None:
    # How fast it builds is not asserted here (machines are shared and noisy): `make run` loads it.
    events = demo_events()
    assert 2000 <= len(events) <= 6000
    assert sum(e["type"] == "inference" for e in events) <= DEFAULT_REQUESTS


def test_every_event_is_valid_and_ids_are_unique() -> None:
    assert [(e["event_id"], check_event(e)) for e in EVENTS if check_event(e)] == []
    assert len({e["event_id"] for e in EVENTS}) == len(EVENTS)


def test_contains_every_type_source_and_form() -> None:
    types = Counter(e["type"] for e in EVENTS)
    assert set(types) == set(EVENT_TYPES)
    prefs = [e for e in EVENTS if e["type"] == "preference"]
    assert {p["source"]["kind"] for p in prefs} >= {"human", "end_user", "ai_judge"}
    assert any("ranking" in p for p in prefs)
    assert any(isinstance(item, list) for p in prefs for item in p.get("ranking", ()))
    assert {p.get("outcome") for p in prefs} >= {"tie", "both_bad"}
    assert any("rationale" in p for p in prefs)
    assert {p.get("criterion") for p in prefs} >= {"helpfulness", "harmlessness"}
    assert {s["signal"] for s in EVENTS if s["type"] == "signal"} >= {
        "thumbs_up",
        "thumbs_down",
        "copy",
        "regenerate",
        "dwell_ms",
    }
    assert any(s["scorer"]["kind"] == "reward_model" for s in EVENTS if s["type"] == "score")


def test_models_prompts_and_candidates_vary() -> None:
    inferences = [e for e in EVENTS if e["type"] == "inference"]
    models = {(c["model"]["name"], c["model"]["version"]) for e in inferences for c in e["candidates"]}
    assert len(models) >= 4
    assert {"1.0", "2.0"} <= {v for n, v in models if n == "atlas-7b"}
    assert {len(e["candidates"]) for e in inferences} == {2, 3, 4}
    assert any(isinstance(e["prompt"], list) for e in inferences)
    assert any(isinstance(e["prompt"], str) for e in inferences)
    assert any("system" in e for e in inferences)
    assert all(
        sorted(e["presented"]) == sorted(c["candidate_id"] for c in e["candidates"]) for e in inferences
    )
    assert (
        len({e["prompt"] if isinstance(e["prompt"], str) else e["prompt"][-1]["content"] for e in inferences})
        >= 30
    )
    assert any("```" in c["output"] or "**" in c["output"] for e in inferences for c in e["candidates"])


def test_retractions_name_earlier_judgments() -> None:
    seen: set[str] = set()
    retractions = 0
    for event in EVENTS:
        if event["type"] == "retraction":
            retractions += 1
            assert event["retracts"] in seen
        seen.add(event["event_id"])
    assert retractions >= 2


def test_some_judgments_arrive_before_their_inference() -> None:
    inferred: set[str] = set()
    early: set[str] = set()
    for event in EVENTS:
        if event["type"] == "inference":
            inferred.add(event["request_id"])
        elif event["type"] in JUDGMENT_TYPES and event["request_id"] not in inferred:
            early.add(event["request_id"])
    assert len(early & inferred) >= 3  # late inferences
    assert 1 <= len(early - inferred) <= 5  # inferences that never arrive


def _win_rate(events: list[dict[str, Any]], model: str) -> float:
    models = {
        e["request_id"]: {c["candidate_id"]: c["model"]["name"] for c in e["candidates"]}
        for e in events
        if e["type"] == "inference"
    }
    wins = games = 0
    for e in events:
        names = models.get(e.get("request_id", ""), {})
        if e["type"] != "preference" or "chosen" not in e or not names:
            continue
        winner, loser = names[e["chosen"]], names[e["rejected"]]
        if winner != loser and model in (winner, loser):
            games += 1
            wins += winner == model
    return wins / games


def test_models_differ_in_quality() -> None:
    assert _win_rate(EVENTS, "cirrus-70b") > 0.7
    assert _win_rate(EVENTS, "dorado-3b") < 0.35
