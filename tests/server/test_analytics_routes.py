"""``/v1/analytics``: each route answers what the library computes, for the key's project only."""

from __future__ import annotations

import pytest
from starlette.testclient import TestClient
from tests import factories as f
from tests.server.conftest import OTHER, PROJECT, KeyMaker, auth

from preflog import analytics
from preflog.errors import ValidationError
from preflog.store.base import Store


def _battles(store: Store) -> None:
    events = []
    for k in range(40):
        inf = f.inference(models=("alpha", "beta"), user_id=f"u{k % 4}")
        winner = ("c0", "c1") if k % 4 else ("c1", "c0")
        events += [inf, f.preference(inf["request_id"], *winner, criterion="helpfulness")]
    store.append(events, project=PROJECT)


def test_leaderboard_route_is_the_library_result(
    client: TestClient, store: Store, make_key: KeyMaker
) -> None:
    _battles(store)
    reader = auth(make_key("read"))
    got = client.get("/v1/analytics/leaderboard", headers=reader)
    assert got.status_code == 200
    expected = analytics.leaderboard(store, PROJECT).to_dict()
    assert got.json() == expected
    rows = got.json()["rows"]
    assert [r["model"] for r in rows] == ["alpha", "beta"] and rows[0]["battles"] == 40
    boot = client.get("/v1/analytics/leaderboard?ci=bootstrap&rounds=20&seed=3", headers=reader).json()
    assert boot == analytics.leaderboard(store, PROJECT, ci="bootstrap", rounds=20, seed=3).to_dict()


def test_ab_matrix_report_and_filters(client: TestClient, store: Store, make_key: KeyMaker) -> None:
    _battles(store)
    reader = auth(make_key("read"))
    ab = client.get("/v1/analytics/ab/alpha/beta?segment=user", headers=reader).json()
    assert ab["overall"]["wins_a"] == 30 and len(ab["segments"]) == 4
    assert client.get("/v1/analytics/matrix?kind=predicted", headers=reader).json()["kind"] == "predicted"
    report = client.get("/v1/analytics/report?source=human", headers=reader)
    assert report.status_code == 200
    assert report.json() == analytics.report(store, PROJECT, source="human").to_dict()
    none = client.get("/v1/analytics/leaderboard?criterion=harmlessness", headers=reader).json()
    assert none["rows"] == []
    assert client.get("/v1/analytics/report?since=yesterday", headers=reader).status_code == 422
    assert client.get("/v1/analytics/leaderboard?ci=magic", headers=reader).status_code == 422


def test_another_projects_key_sees_no_battles(client: TestClient, store: Store, make_key: KeyMaker) -> None:
    _battles(store)
    stranger = auth(make_key("admin", project=OTHER))
    assert client.get("/v1/analytics/leaderboard", headers=stranger).json()["rows"] == []


def test_judges_route_shows_each_reward_model_version(
    client: TestClient, store: Store, make_key: KeyMaker
) -> None:
    _battles(store)
    events = []
    for k in range(6):
        inf = f.inference(models=("alpha", "beta"))
        rid = inf["request_id"]
        events += [inf, f.preference(rid, "c0", "c1")]  # the humans prefer alpha
        events += [f.score(rid, "c0", 0.9), f.score(rid, "c1", 0.1 if k < 4 else 0.95)]  # rm agrees 4 of 6
    store.append(events, project=PROJECT)
    reader = auth(make_key("read"))
    got = client.get("/v1/analytics/judges", headers=reader)
    assert got.status_code == 200
    assert got.json() == analytics.judges(store, PROJECT).to_dict()
    (rm,) = got.json()["judges"]
    assert rm["judge"] == "reward_model:rm-small@3" and rm["from_scores"]
    assert (rm["agreement"]["successes"], rm["units"]) == (4, 6)
    board = client.get("/v1/analytics/leaderboard?source=reward_model", headers=reader).json()
    assert board["battles"] == 6
    report = client.get("/v1/analytics/report", headers=reader).json()
    assert "reward_model:rm-small@3" in [j["judge"] for j in report["agreement"]["judges"]]


def test_a_negative_bootstrap_seed_is_refused_naming_it(
    client: TestClient, store: Store, make_key: KeyMaker
) -> None:
    """numpy takes no negative seed: the service answered 500 (schemathesis found it)."""
    _battles(store)
    reader = auth(make_key("read"))
    got = client.get("/v1/analytics/leaderboard?ci=bootstrap&rounds=5&seed=-1", headers=reader)
    assert got.status_code == 422, got.text
    assert "seed" in got.text
    for style_control in (False, True):
        with pytest.raises(ValidationError, match="seed: must be zero or more, got -1"):
            analytics.leaderboard(
                store, PROJECT, ci="bootstrap", rounds=5, seed=-1, style_control=style_control
            )
