"""Battle extraction from stored events, and the report monitors on data with known biases."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from preflog.analytics import build_report, extract_battles, rate, select
from preflog.analytics.battles import battles_from_events
from preflog.analytics.report import agreement, latency, length_bias, position_bias, volume
from preflog.events import format_time, parse_time
from tests import factories as f
from tests.analytics.helpers import MemoryStore

P = "demo"
T0 = parse_time(f.T0).timestamp()


def _at(seconds: float) -> str:
    return format_time(T0 + seconds)


def test_each_judgment_form_becomes_battles() -> None:
    store = MemoryStore()
    three = f.inference(outputs=("x", "y", "z"), models=("m1", "m2", "m3"))
    rid = three["request_id"]
    pair = f.inference(models=("m1", "m2"))
    events = [
        three,
        pair,
        f.preference(pair["request_id"]),  # m1 beats m2
        f.preference(rid, chosen=None, rejected=None, ranking=["c2", ["c0", "c1"]]),  # m3 > m1 = m2
        f.preference(rid, chosen=None, rejected=None, outcome="both_bad", candidates=["c0", "c2"]),
    ]
    retracted = f.preference(pair["request_id"], chosen="c1", rejected="c0")
    orphan = f.preference("no-such-request")
    events += [retracted, f.retraction(pair["request_id"], retracted["event_id"]), orphan]
    store.append(events, project=P)
    battles = extract_battles(store, P)
    assert len(battles) == 1 + 3 + 1
    assert battles.skipped == {"orphan (no inference yet)": 1, "retracted": 1}
    assert int(battles.both_bad.sum()) == 1
    assert sorted(battles.outcome.tolist()) == [0.0, 0.0, 0.5, 0.5, 1.0]  # ranking: c2 wins as b
    dropped = extract_battles(store, P, both_bad="drop")
    assert len(dropped) == 4 and dropped.skipped["both_bad dropped"] == 1
    board = rate(battles)
    assert board.rows[0].model == "m3"


def test_versions_presentation_order_and_filters() -> None:
    store = MemoryStore()
    inf = f.inference(models=("m", "m"), presented=["c1", "c0"], user_id="u1")
    inf["candidates"][1]["model"]["version"] = "2"
    store.append([inf, f.preference(inf["request_id"], criterion="helpfulness")], project=P)
    assert len(extract_battles(store, P)) == 0  # the same model name on both sides
    by_version = extract_battles(store, P, by="version")
    assert by_version.models == ("m@2", "m@1")  # shown first goes on side a
    assert by_version.first.tolist() == [1] and by_version.outcome.tolist() == [0.0]
    assert len(select(by_version, criterion="harmlessness")) == 0
    assert len(select(by_version, source="human", user="u1", since="2026-11-26", until="2026-11-27")) == 1
    assert len(select(by_version, source="annotator-1")) == 1
    assert len(select(by_version, until="2026-11-26T10:00:00Z")) == 0


def _biased_store() -> MemoryStore:
    """200 human judgments: the first-shown output wins 70% of the decisive ones and the longer
    output wins 80%; 20 reward-model judgments always choose the longer output."""
    store = MemoryStore()
    events: list[dict[str, Any]] = []
    for k in range(200):
        long_first = k % 2 == 0
        outputs = ("a long answer " * 20, "short") if long_first else ("short", "a long answer " * 20)
        inf = f.inference(
            outputs=outputs, models=("big", "small"), presented=["c0", "c1"], occurred_at=_at(k)
        )
        rid = inf["request_id"]
        first_wins = k % 10 < 7
        chosen, rejected = ("c0", "c1") if first_wins else ("c1", "c0")
        events += [inf, f.preference(rid, chosen, rejected, occurred_at=_at(k + 60 * (1 + k % 10)))]
        if k < 20:
            long_id = "c0" if long_first else "c1"
            short_id = "c1" if long_first else "c0"
            events.append(
                f.preference(
                    rid, long_id, short_id, kind="reward_model", source={"kind": "reward_model", "id": "rm"}
                )
            )
    store.append(events, project=P)
    return store


def test_position_bias_is_measured() -> None:
    battles = extract_battles(_biased_store(), P, source="human")
    overall = position_bias(battles)[0]
    assert overall.group == "all" and overall.first_wins.n == 200
    assert overall.first_wins.rate == pytest.approx(0.7)
    assert overall.p_value is not None and overall.p_value < 1e-6


def test_length_bias_share_and_coefficient() -> None:
    battles = extract_battles(_biased_store(), P)
    rows = {(r.group, r.window): r for r in length_bias(battles, window="day")}
    human = rows[("source=human", None)]
    # long output first on even k; first wins when k % 10 < 7 → the long one wins on 8 of each 10
    assert human.chosen_longer.rate == pytest.approx(0.6)
    rm = rows[("source=reward_model", None)]
    assert rm.chosen_longer.rate == 1.0
    assert ("source=human", "2026-11-26") in rows
    assert human.coef is not None and human.ci_low is not None and human.ci_low > 0


def test_agreement_between_annotators_and_judges() -> None:
    store = MemoryStore()
    events: list[dict[str, Any]] = []
    # 3 annotators on 4 items; the judge agrees with the majority on items 1 and 3
    votes = [
        ("c0", "c0", "c0", "c0"),
        ("c0", "c0", "c1", "c1"),
        ("c1", "c1", "c1", "c1"),
        ("c1", "c0", "c1", "c0"),
    ]
    for item in votes:
        inf = f.inference()
        events.append(inf)
        for who, chosen in zip(("h1", "h2", "h3", "judge"), item, strict=True):
            kind = "ai_judge" if who == "judge" else "human"
            rejected = "c1" if chosen == "c0" else "c0"
            events.append(f.preference(inf["request_id"], chosen, rejected, source={"kind": kind, "id": who}))
    store.append(events, project=P)
    ag = agreement(extract_battles(store, P))
    assert ag.units == 4 and ag.annotators == 3
    from preflog.analytics.stats import krippendorff_alpha_nominal

    expected = krippendorff_alpha_nominal(
        [["a", "a", "a"], ["a", "a", "b"], ["b", "b", "b"], ["b", "a", "b"]]
    )
    assert ag.krippendorff_alpha == pytest.approx(expected)
    (judge,) = ag.judges
    assert judge.judge == "ai_judge:judge" and judge.agreement.successes == 2 and judge.units == 4


def test_latency_volume_and_manifests(tmp_path: Path) -> None:
    battles = extract_battles(_biased_store(), P, source="human")
    rows = latency(battles)
    assert rows[0].group == "all" and rows[0].n == 200
    assert rows[0].p50 == pytest.approx(330.0)  # delays 60..600 s, 20 of each
    manifest = tmp_path / "manifest.json"
    last = int(battles.judgment.max())
    manifest.write_text(json.dumps({"watermark": {"position": last // 2}, "created_at": _at(86400)}))
    compiled = latency(battles, [manifest])[-1]
    assert compiled.stage == "compiled" and 0 < compiled.n < 200 and compiled.pending == 200 - compiled.n
    vol = volume(battles)
    assert vol.judgments == 200 and vol.per_model == {"big": 200, "small": 200}
    assert vol.per_source == {"human": 200}
    report = build_report(battles, manifests=[manifest])
    json.dumps(report.to_dict())  # JSON-able for the HTTP routes


def test_battles_from_events_rejects_bad_options() -> None:
    from preflog.errors import ValidationError

    with pytest.raises(ValidationError):
        battles_from_events([], by="checkpoint")  # type: ignore[arg-type]


def test_report_by_day_survives_degenerate_small_windows(tmp_path: Path) -> None:
    """A day with a handful of one-sided battles makes the length fit's information matrix
    singular: the report still answers, with the interval left out for that window."""
    from preflog.analytics import report
    from preflog.demo import load_demo
    from preflog.store.sqlite import SQLiteStore

    store = SQLiteStore(tmp_path / "demo.db")
    load_demo(store, "demo")
    by_day = report(store, "demo", window="day").to_dict()  # raised LinAlgError before
    rows = by_day["length_bias"]
    assert len({row["window"] for row in rows}) > 3
    fitted = [row for row in rows if row["coef"] is not None]
    assert fitted, "some days have enough battles for a fit"
    for row in fitted:  # an interval, when there is one, contains its estimate
        if row["ci_low"] is not None:
            assert row["ci_low"] <= row["coef"] <= row["ci_high"]
