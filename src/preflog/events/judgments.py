"""Validation of the judgment payloads (preference, score, signal) and of retractions and erasures."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from preflog.events.checker import Checker, kind_of
from preflog.events.contract import (
    OUTCOMES,
    SCORER_FIELDS,
    SCORER_KINDS,
    SIGNAL_KINDS,
    SOURCE_FIELDS,
    SOURCE_KINDS,
    UUID_RE,
)
from preflog.events.inference import check_presented


def _check_source(c: Checker, event: Mapping[str, Any], required: bool) -> None:
    source = event.get("source")
    if source is None:
        if required:
            c.fail("source", "required (an object with kind: " + ", ".join(SOURCE_KINDS) + ")")
        return
    if not isinstance(source, dict):
        c.fail("source", f"must be an object {{kind, id, version}}, got {kind_of(source)}")
        return
    c.unknown(source, SOURCE_FIELDS, "source.")
    kind = source.get("kind")
    if kind is None:
        c.fail("source.kind", "required")
    elif kind not in SOURCE_KINDS:
        c.fail("source.kind", f"must be one of {', '.join(SOURCE_KINDS)}, got {kind!r}")
    c.ident(source, "id", "source.id")
    c.ident(source, "version", "source.version")


def check_preference(c: Checker, event: Mapping[str, Any]) -> None:
    forms = [f for f in ("chosen", "ranking", "outcome") if event.get(f) is not None]
    if event.get("rejected") is not None and "chosen" not in forms:
        c.fail("chosen", "required with rejected")
    if not forms:
        c.fail("chosen", "a preference needs chosen + rejected, a ranking, or an outcome (tie | both_bad)")
    elif len(forms) > 1:
        c.fail(forms[1], f"a preference has exactly one of chosen/rejected, ranking, outcome; got {forms}")
    elif forms[0] == "chosen":
        chosen = c.ident(event, "chosen", "chosen", required=True)
        rejected = c.ident(event, "rejected", "rejected", required=True)
        if chosen is not None and chosen == rejected:
            c.fail("rejected", "must differ from chosen")
        if event.get("candidates") is not None:
            c.fail("candidates", "only with outcome")
    elif forms[0] == "ranking":
        _check_ranking(c, event.get("ranking"))
        for key in ("rejected", "candidates"):
            if event.get(key) is not None:
                c.fail(key, "not allowed with ranking")
    else:
        outcome = event.get("outcome")
        if outcome not in OUTCOMES:
            c.fail("outcome", f"must be one of {', '.join(OUTCOMES)}, got {outcome!r}")
        if event.get("candidates") is None:
            c.fail("candidates", "required with outcome (the candidate ids judged)")
        else:
            c.id_list(event.get("candidates"), "candidates", min_len=2)
        if event.get("rejected") is not None:
            c.fail("rejected", "not allowed with outcome")
    c.number(event, "strength", "strength", minimum=0.0, maximum=1.0)
    c.ident(event, "criterion", "criterion")
    c.text(event, "rationale", "rationale")
    scores = event.get("scores")
    if scores is not None:
        if not isinstance(scores, dict):
            c.fail("scores", f"must be an object of candidate id to number, got {kind_of(scores)}")
        else:
            for key in scores:
                c.number(scores, key, f"scores.{key}")
    _check_source(c, event, required=True)
    check_presented(c, event, None)
    c.free_object(event, "metadata", "metadata")


def _check_ranking(c: Checker, ranking: Any) -> None:
    if not isinstance(ranking, list):
        c.fail(
            "ranking", f"must be a list of candidate ids (best first) or tie groups, got {kind_of(ranking)}"
        )
        return
    seen: list[str] = []
    for i, item in enumerate(ranking):
        group = item if isinstance(item, list) else [item]
        if isinstance(item, list) and not item:
            c.fail(f"ranking[{i}]", "empty tie group")
        for j, cid in enumerate(group):
            path = f"ranking[{i}][{j}]" if isinstance(item, list) else f"ranking[{i}]"
            if not isinstance(cid, str) or not cid:
                c.fail(path, "must be a non-empty candidate id string")
            elif cid in seen:
                c.fail(path, f"duplicate candidate id {cid!r}")
            else:
                seen.append(cid)
    if len(seen) < 2:
        c.fail("ranking", "needs at least two candidates")


def check_score(c: Checker, event: Mapping[str, Any]) -> None:
    c.ident(event, "candidate_id", "candidate_id", required=True)
    c.number(event, "score", "score", required=True)
    scorer = event.get("scorer")
    if scorer is None:
        c.fail("scorer", "required (an object {name, version})")
    elif not isinstance(scorer, dict):
        c.fail("scorer", f"must be an object {{name, version}}, got {kind_of(scorer)}")
    else:
        c.unknown(scorer, SCORER_FIELDS, "scorer.")
        c.ident(scorer, "name", "scorer.name", required=True)
        c.ident(scorer, "version", "scorer.version")
        kind = scorer.get("kind")
        if kind is not None and kind not in SCORER_KINDS:
            c.fail("scorer.kind", f"must be reward_model, ai_judge or human, got {kind!r}")
    c.ident(event, "criterion", "criterion")
    c.free_object(event, "metadata", "metadata")


def check_signal(c: Checker, event: Mapping[str, Any]) -> None:
    c.ident(event, "candidate_id", "candidate_id", required=True)
    signal = event.get("signal")
    if signal is None:
        c.fail("signal", "required")
    elif signal not in SIGNAL_KINDS:
        c.fail("signal", f"must be one of {', '.join(SIGNAL_KINDS)}, got {signal!r}")
    c.number(
        event, "value", "value", required=signal == "dwell_ms", minimum=0 if signal == "dwell_ms" else None
    )
    c.ident(event, "user_id", "user_id")
    c.ident(event, "session_id", "session_id")
    c.free_object(event, "metadata", "metadata")


def check_retraction(c: Checker, event: Mapping[str, Any]) -> None:
    target = c.ident(event, "retracts", "retracts", required=True)
    if target is not None and not UUID_RE.match(target):
        c.fail("retracts", "must be the event_id (a UUID) of the judgment withdrawn")
    c.text(event, "reason", "reason")
    _check_source(c, event, required=False)
    c.free_object(event, "metadata", "metadata")


def check_erasure(c: Checker, event: Mapping[str, Any]) -> None:
    if event.get("user_id") is not None:
        c.ident(event, "user_id", "user_id")
    c.text(event, "reason", "reason")
    c.free_object(event, "metadata", "metadata")
