"""Reward-model scores in analytics: score battles, agreement with the human majority (against a
hand count), the length bias of the scores, ``leaderboard --source reward_model``, the report."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from preflog import analytics
from preflog.analytics import battles_from_arena, extract_battles, rate
from preflog.cli import main
from preflog.store.sqlite import SQLiteStore
from tests import factories as f
from tests.analytics.helpers import MemoryStore

P = "scored"
RM = "reward_model:rm-small@3"


def _human(rid: str, chosen: str, rejected: str, who: str, **extra: Any) -> dict[str, Any]:
    return f.preference(rid, chosen, rejected, source={"kind": "human", "id": who}, **extra)


def _scores(rid: str, values: dict[str, float], **extra: Any) -> list[dict[str, Any]]:
    return [f.score(rid, cid, value, **extra) for cid, value in values.items()]


def _hand_counted() -> list[dict[str, Any]]:
    """Human votes and reward-model scores whose agreement is counted by hand in the comments."""
    events: list[dict[str, Any]] = []

    def request(models: tuple[str, ...] = ("alpha", "beta")) -> str:
        outputs = tuple(f"answer {k} " * (k + 1) for k in range(len(models)))
        inf = f.inference(models=models, outputs=outputs)
        events.append(inf)
        return str(inf["request_id"])

    r1 = request()  # humans 2:1 for c0; the model scores c0 higher: agrees (1 of 1)
    events += [_human(r1, "c0", "c1", "h1"), _human(r1, "c0", "c1", "h2"), _human(r1, "c1", "c0", "h3")]
    events += _scores(r1, {"c0": 0.9, "c1": 0.1})
    r2 = request()  # humans 3:0 for c1; the model prefers c0: disagrees (1 of 2)
    events += [_human(r2, "c1", "c0", h) for h in ("h1", "h2", "h3")]
    events += _scores(r2, {"c0": 0.8, "c1": 0.3})
    r3 = request()  # humans 1:1, no strict majority: not an item
    events += [_human(r3, "c0", "c1", "h1"), _human(r3, "c1", "c0", "h2")]
    events += _scores(r3, {"c0": 0.9, "c1": 0.2})
    r4 = request()  # two humans pick c1, one was shown it second: the same verdict (2 of 3)
    events += [_human(r4, "c1", "c0", "h1"), _human(r4, "c1", "c0", "h2", presented=["c1", "c0"])]
    events += _scores(r4, {"c0": 0.2, "c1": 0.7})
    r5 = request(("alpha", "beta", "gamma"))  # three items from a ranking and a pairwise vote
    events += [
        f.preference(r5, None, None, ranking=["c2", "c0", "c1"], source={"kind": "human", "id": "h1"}),
        _human(r5, "c2", "c0", "h2"),
    ]
    # (c0, c1): human alpha, model tie → disagrees (2 of 4); (c0, c2) and (c1, c2): gamma, agrees (4 of 6)
    events += _scores(r5, {"c0": 0.5, "c1": 0.5, "c2": 0.9})
    r6 = request()  # humans say tie, the model scores equal: agrees (5 of 7)
    events += [
        f.preference(
            r6, None, None, outcome="tie", candidates=["c0", "c1"], source={"kind": "human", "id": h}
        )
        for h in ("h1", "h2")
    ]
    events += _scores(r6, {"c0": 0.4, "c1": 0.4})
    r7 = request()  # scores but no human: not an item
    events += _scores(r7, {"c0": 0.1, "c1": 0.2})
    r8 = request()  # the c0 score is retracted: one scored candidate, no battle
    events.append(_human(r8, "c0", "c1", "h1"))
    withdrawn, kept = _scores(r8, {"c0": 0.1, "c1": 0.9})
    events += [withdrawn, kept, f.retraction(r8, withdrawn["event_id"])]
    # A newer version of the reward model scored r1 the other way: a judge of its own (0 of 1).
    events += _scores(r1, {"c0": 0.2, "c1": 0.6}, scorer={"name": "rm-small", "version": "4"})
    return events


@pytest.fixture
def store() -> MemoryStore:
    s = MemoryStore()
    results = s.append(_hand_counted(), project=P)
    assert {r.status for r in results} == {"stored"}
    return s


def test_agreement_of_each_reward_model_version_with_the_human_majority(store: MemoryStore) -> None:
    judges = {j.judge: j for j in analytics.report(store, P).agreement.judges}
    assert set(judges) == {RM, "reward_model:rm-small@4"}
    assert (judges[RM].units, judges[RM].agreement.successes) == (7, 5)  # the hand count above
    assert judges[RM].agreement.rate == pytest.approx(5 / 7)
    newer = judges["reward_model:rm-small@4"]
    assert (newer.units, newer.agreement.successes) == (1, 0)
    summary = {j.judge: j for j in analytics.judges(store, P).judges}
    assert summary[RM].from_scores and summary[RM].name == "rm-small" and summary[RM].version == "3"
    assert summary[RM].agreement == judges[RM].agreement


def test_score_battles_and_what_they_skip(store: MemoryStore) -> None:
    everything = extract_battles(store, P, scores=True)
    scored = everything.subset(everything.scored)
    # r1..r4, r6, r7: one pair each; r5: three; r1 again by version 4; r8: none (one score left)
    assert len(scored) == 6 + 3 + 1
    assert everything.skipped["retracted"] == 1
    assert (scored.first == -1).all()  # a scorer sees no presentation order
    assert set(scored.source_kind.values()) == {"reward_model"}
    default = extract_battles(store, P)  # no source filter: the people's verdicts only
    assert not default.scored.any() and len(default) == len(everything) - len(scored)


def test_leaderboard_of_the_reward_model_is_its_score_battles(store: MemoryStore) -> None:
    board = analytics.leaderboard(store, P, source="reward_model:rm-small@3")
    # The same battles by hand, as arena rows (alpha/beta/gamma, the higher score wins).
    rows = [
        ("alpha", "beta", "model_a"),  # r1
        ("alpha", "beta", "model_a"),  # r2
        ("alpha", "beta", "model_a"),  # r3
        ("alpha", "beta", "model_b"),  # r4
        ("alpha", "beta", "tie"),  # r5 c0-c1
        ("alpha", "gamma", "model_b"),  # r5 c0-c2
        ("beta", "gamma", "model_b"),  # r5 c1-c2
        ("alpha", "beta", "tie"),  # r6
        ("alpha", "beta", "model_b"),  # r7
    ]
    expected = rate(battles_from_arena([{"model_a": a, "model_b": b, "winner": w} for a, b, w in rows]))
    assert board.battles == len(rows)
    assert [(r.model, round(r.rating, 9)) for r in board.rows] == [
        (r.model, round(r.rating, 9)) for r in expected.rows
    ]
    by_name = analytics.leaderboard(store, P, source="rm-small")  # both versions
    assert by_name.battles == len(rows) + 1


def test_length_bias_of_the_scores() -> None:
    store = MemoryStore()
    events: list[dict[str, Any]] = []
    for k in range(10):
        inf = f.inference(models=("alpha", "beta"), outputs=("a long and detailed answer " * 3, "short"))
        events.append(inf)
        long_first = k < 8  # the longer output scores higher 8 times of 10
        events += _scores(str(inf["request_id"]), {"c0": 1.0 if long_first else 0.0, "c1": 0.5})
    store.append(events, project=P)
    rows = {(r.group, r.window): r for r in analytics.report(store, P).length_bias}
    rm = rows[("scorer=rm-small@3", None)]
    assert (rm.chosen_longer.successes, rm.chosen_longer.n) == (8, 10)
    (judge,) = analytics.judges(store, P).judges
    assert judge.length.chosen_longer.rate == pytest.approx(0.8)


def test_cli_report_and_leaderboard_show_the_reward_model(
    store: MemoryStore, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PREFLOG_DB", str(store.path))
    assert main(["--project", P, "report"]) == 0
    out = capsys.readouterr().out
    line = next(x for x in out.splitlines() if x.strip().startswith(RM))
    assert "agrees with human majority 0.714" in line and "n=7" in line
    assert main(["--project", P, "leaderboard", "--source", "reward_model", "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert {r["model"] for r in data["rows"]} == {"alpha", "beta", "gamma"} and data["battles"] == 10


def test_demo_reward_model_scores_show_up(tmp_path: Path) -> None:
    """The demo project's 1,057 reward-model scores: a leaderboard, an agreement and a length bias."""
    from preflog.demo import REWARD_MODEL, load_demo

    store = SQLiteStore(tmp_path / "demo.db")
    load_demo(store, "demo")
    assert store.stats(project="demo").by_type["score"] == 1057
    board = analytics.leaderboard(store, "demo", source="reward_model")
    assert len(board.rows) >= 3 and board.battles > 400
    key = f"reward_model:{REWARD_MODEL['name']}@{REWARD_MODEL['version']}"
    (judge,) = [j for j in analytics.judges(store, "demo").judges if j.judge == key]
    assert judge.from_scores and judge.units > 100 and judge.agreement.rate is not None
    assert judge.length.chosen_longer.n > 100
