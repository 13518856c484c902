"""The store conformance suite: written against the ``Store`` interface only, run on every backend
(see ``conftest.py``). A new backend passes when this file passes unchanged."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from preflog.errors import StoreError
from preflog.events import SCHEMA_VERSION, UPCASTERS, new_id
from preflog.store import Store
from tests import factories as f


def statuses(results: list[Any]) -> list[str]:
    return [r.status for r in results]


def test_append_answers_per_event_in_order(store: Store, project: str) -> None:
    inf = f.inference()
    pref = f.preference(inf["request_id"])
    bad = f.inference(outputs=("fine", "bad\x00"))
    results = store.append([inf, bad, pref], project=project)
    assert statuses(results) == ["stored", "rejected", "stored"]
    assert results[1].field == "candidates[1].output" and results[1].reason == "contains a NUL character"
    assert results[1].event_id == bad["event_id"]
    assert results[0].position is not None and results[2].position is not None
    assert results[0].position < results[2].position
    assert [e.event_id for e in store.read(project=project)] == [inf["event_id"], pref["event_id"]]


def test_same_id_same_content_is_duplicate_other_content_is_conflict(store: Store, project: str) -> None:
    inf = f.inference()
    (first,) = store.append([inf], project=project)
    (again,) = store.append([dict(inf)], project=project)
    assert again.status == "duplicate" and again.position == first.position
    reordered = dict(reversed(list(inf.items())))  # key order is not content
    assert store.append([reordered], project=project)[0].status == "duplicate"
    (clash,) = store.append([dict(inf, prompt="something else")], project=project)
    assert clash.status == "conflict" and clash.field == "event_id"
    stored = store.get_event(inf["event_id"], project=project)
    assert stored is not None and stored.event["prompt"] == inf["prompt"]  # never overwritten
    assert len(store.read(project=project)) == 1


def test_repeats_within_one_call(store: Store, project: str) -> None:
    inf = f.inference()
    results = store.append([inf, dict(inf), dict(inf, prompt="other")], project=project)
    assert statuses(results) == ["stored", "duplicate", "conflict"]
    assert results[0].position == results[1].position
    assert len(store.read(project=project)) == 1


def test_event_naming_another_project_is_rejected(store: Store, project: str) -> None:
    inf = f.inference(project="someone-else")
    (result,) = store.append([inf], project=project)
    assert result.status == "rejected" and result.field == "project"
    assert store.read(project=project) == []
    assert store.append([f.inference(project=project)], project=project)[0].status == "stored"


def test_validated_path_stores_sdk_built_events(store: Store, project: str) -> None:
    inf = f.inference(occurred_at="2026-11-26T10:00:00.000000Z")
    (result,) = store.append([inf], project=project, validated=True)
    assert result.status == "stored"
    got = store.get_event(inf["event_id"], project=project)
    assert got is not None and got.event["project"] == project and "received_at" in got.event


def test_read_back_is_the_normalized_event(store: Store, project: str) -> None:
    inf = f.inference(occurred_at="2026-11-26T12:00:00+02:00", tags=["a"], metadata={"k": [1, 2]})
    store.append([inf], project=project)
    (got,) = store.read(project=project)
    expected = dict(
        inf, occurred_at="2026-11-26T10:00:00.000000Z", schema_version=SCHEMA_VERSION, project=project
    )
    received = got.event.pop("received_at")
    assert got.event == expected
    assert received.endswith("Z")


def test_positions_increase_and_read_after_pages(store: Store, project: str) -> None:
    events = [f.inference() for _ in range(25)]
    for start in range(0, 25, 7):
        store.append(events[start : start + 7], project=project)
    everything = store.read(project=project, limit=100)
    positions = [e.position for e in everything]
    assert positions == sorted(positions) and len(set(positions)) == 25
    page = store.read(project=project, after=positions[9], limit=5)
    assert [e.position for e in page] == positions[10:15]
    assert [e.position for e in store.iter_events(project=project, batch=4)] == positions
    assert [e.position for e in store.iter_events(project=project, after=positions[20])] == positions[21:]
    assert store.last_position(project=project) == positions[-1]


def test_last_position_is_the_projects_last_of_any_type(store: Store, project: str) -> None:
    """Whichever type comes last, and with another project's events after it (SQLite answers
    from each type's last position in its index)."""
    assert store.last_position(project=project) == 0
    inf = f.inference()
    rid = inf["request_id"]
    preference = f.preference(rid)
    last_of_each = [
        inf,
        preference,
        f.score(rid, value=0.5),
        f.signal(rid, "c1", kind="copy"),
        f.retraction(rid, preference["event_id"]),
        f.erasure(request_id=rid),
    ]
    for event in last_of_each:
        store.append([event], project=project)
        store.append([f.inference()], project=f"{project}-other")
        mine = [e.position for e in store.iter_events(project=project)]
        assert store.last_position(project=project) == mine[-1], event["type"]
        assert store.last_position() > mine[-1]


def test_read_filters_by_type_and_time(store: Store, project: str) -> None:
    inf = f.inference(occurred_at="2026-11-26T09:00:00Z")
    rid = inf["request_id"]
    late = f.score(rid, occurred_at="2026-11-27T09:00:00Z")
    store.append([inf, f.preference(rid), f.signal(rid), late], project=project)
    assert [e.type for e in store.read(project=project, types=["preference", "signal"])] == [
        "preference",
        "signal",
    ]
    window = store.read(project=project, since="2026-11-26T10:00:00Z", until="2026-11-27T00:00:00Z")
    assert [e.type for e in window] == ["preference", "signal"]
    assert [e.type for e in store.read(project=project, since="2026-11-27T00:00:00+00:00")] == ["score"]


def test_pages_of_several_types_are_the_log_filtered_and_cut(store: Store, project: str) -> None:
    # Types come in runs of different lengths, beside another project's events: a page must end
    # where the log does, whichever type fills it first (SQLite bounds such pages, SQLStore.read).
    other = "q-" + project
    for i in range(12):
        inf = f.inference()
        rid = inf["request_id"]
        judged = [f.preference(rid)] * (i % 3) + [f.signal(rid)] * (i % 2) + [f.score(rid)] * (i % 4 == 0)
        store.append([inf, *[dict(e, event_id=new_id()) for e in judged]], project=project)
        store.append([f.inference(project=other)], project=other)
    log = store.read(project=project, limit=1000)
    for types in (None, ["preference", "signal"], ["inference", "score", "retraction"], []):
        wanted = [e for e in log if types is None or e.type in types]
        for limit in (1, 2, 5, 13):
            for after in (0, log[3].position, log[-2].position):
                page = store.read(project=project, after=after, limit=limit, types=types)
                expected = [e.position for e in wanted if e.position > after][:limit]
                assert [e.position for e in page] == expected, (types, limit, after)
        assert [e.position for e in store.iter_events(project=project, types=types, batch=3)] == [
            e.position for e in wanted
        ]


def test_joined_view_of_one_request(store: Store, project: str) -> None:
    inf = f.inference()
    rid = inf["request_id"]
    pref = f.preference(rid)
    events = [inf, pref, f.score(rid), f.signal(rid, "c1", "copy"), f.retraction(rid, pref["event_id"])]
    store.append(events, project=project)
    view = store.get_request(rid, project=project)
    assert view.inference is not None and view.inference.event_id == inf["event_id"]
    assert [len(view.preferences), len(view.scores), len(view.signals), len(view.retractions)] == [1, 1, 1, 1]
    assert view.retracted == {pref["event_id"]}
    assert not view.orphaned and not view.erased
    as_dict = view.to_dict()
    assert as_dict["inference"]["candidates"][0]["output"] == inf["candidates"][0]["output"]
    assert store.get_request("no-such-request", project=project).inference is None


def test_orphan_judgments_join_when_the_inference_arrives(store: Store, project: str) -> None:
    inf = f.inference()
    rid = inf["request_id"]
    store.append([f.preference(rid), f.score(rid)], project=project)
    early = store.get_request(rid, project=project)
    assert early.orphaned and early.inference is None and len(early.preferences) == 1
    assert store.stats(project=project).orphan_requests == 1
    store.append([inf], project=project)
    later = store.get_request(rid, project=project)
    assert not later.orphaned and later.inference is not None
    assert store.stats(project=project).orphan_requests == 0


def test_erasure_by_request_blanks_content_and_keeps_envelopes(store: Store, project: str) -> None:
    inf = f.inference(user_id="u-7", metadata={"email": "a@b.c"})
    rid = inf["request_id"]
    pref = f.preference(rid, rationale="the first one names the city")
    other = f.inference()
    store.append([inf, pref, other], project=project)
    assert store.append([f.erasure(request_id=rid)], project=project)[0].status == "stored"
    view = store.get_request(rid, project=project)
    assert view.erased and view.inference is not None and view.inference.erased
    blanked = view.inference.event
    assert "prompt" not in blanked and "metadata" not in blanked and "user_id" not in blanked
    assert all("output" not in c for c in blanked["candidates"])
    assert [c["model"]["name"] for c in blanked["candidates"]] == ["model-a", "model-b"]
    assert blanked["event_id"] == inf["event_id"] and blanked["occurred_at"] == "2026-11-26T10:00:00.000000Z"
    judged = view.preferences[0]
    assert judged.erased and "rationale" not in judged.event and judged.event["chosen"] == "c0"
    text = repr([e.event for e in store.read(project=project)])
    assert "capital of France" in text  # the other request is untouched
    assert inf["prompt"] not in repr(store.get_request(rid, project=project).to_dict())
    again = store.get_event(inf["event_id"], project=project)
    assert again is not None and again.erased and "prompt" not in again.event


def test_erasure_by_user_and_events_arriving_after_it(store: Store, project: str) -> None:
    mine = f.inference(user_id="user-42", prompt="my secret question")
    theirs = f.inference(user_id="user-43")
    rid = mine["request_id"]
    store.append([mine, theirs, f.signal(rid, user_id="user-42")], project=project)
    store.append([f.erasure(user_id="user-42")], project=project)
    view = store.get_request(rid, project=project)
    assert view.inference is not None and view.inference.erased and view.signals[0].erased
    other = store.get_request(theirs["request_id"], project=project)
    assert other.inference is not None and not other.inference.erased
    late = f.preference(rid, rationale="late words")
    store.append([late], project=project)
    stored_late = store.get_event(late["event_id"], project=project)
    assert stored_late is not None and stored_late.erased and "rationale" not in stored_late.event
    new_of_user = f.inference(user_id="user-42", prompt="another secret")
    store.append([new_of_user], project=project)
    got = store.get_event(new_of_user["event_id"], project=project)
    assert got is not None and got.erased and "prompt" not in got.event


def test_a_late_inference_of_an_erased_user_takes_its_whole_request_along(store: Store, project: str) -> None:
    """The user's inference arrives after the erasure: the judgments of that request, whether
    they came before it (orphans) or come after it, are blanked as well."""
    inf = f.inference(user_id="user-9", prompt="my late secret")
    rid = inf["request_id"]
    early = f.preference(rid, rationale="an orphan's words")
    store.append([early], project=project)
    store.append([f.erasure(user_id="user-9")], project=project)
    store.append([inf], project=project)
    late = f.score(rid, metadata={"note": "after the inference"})
    store.append([late], project=project)
    view = store.get_request(rid, project=project)
    assert view.inference is not None and view.inference.erased
    assert [p.erased for p in view.preferences] == [True] and "rationale" not in view.preferences[0].event
    assert [s.erased for s in view.scores] == [True] and "metadata" not in view.scores[0].event
    assert "secret" not in repr(view.to_dict()) and "words" not in repr(view.to_dict())


def test_resending_an_erased_event_is_a_duplicate_not_a_resurrection(store: Store, project: str) -> None:
    inf = f.inference()
    store.append([inf], project=project)
    store.append([f.erasure(request_id=inf["request_id"])], project=project)
    (again,) = store.append([dict(inf)], project=project)
    assert again.status == "duplicate"
    (changed,) = store.append([dict(inf, prompt="different")], project=project)
    assert changed.status == "conflict"
    got = store.get_event(inf["event_id"], project=project)
    assert got is not None and got.erased and "prompt" not in got.event


def test_projects_are_isolated(store: Store, project: str) -> None:
    other = project + "-b"
    inf = f.inference()
    assert store.append([inf], project=project)[0].status == "stored"
    assert store.append([dict(inf)], project=other)[0].status == "stored"  # same id, another tenant
    store.append([f.preference(inf["request_id"])], project=other)
    assert len(store.read(project=project)) == 1 and len(store.read(project=other)) == 2
    assert store.get_request(inf["request_id"], project=project).preferences == []
    assert store.get_event(inf["event_id"], project=other) is not None
    store.append([f.erasure(request_id=inf["request_id"])], project=other)
    mine = store.get_event(inf["event_id"], project=project)
    assert mine is not None and not mine.erased
    assert {project, other} <= set(store.projects())


def test_stats_count_types_sources_and_models(store: Store, project: str) -> None:
    a = f.inference(models=("alpha", "beta"))
    b = f.inference(models=("alpha", "gamma"))
    rid = a["request_id"]
    store.append(
        [a, b, f.preference(rid), f.preference(rid, kind="end_user"), f.score(rid), f.signal(rid)],
        project=project,
    )
    stats = store.stats(project=project)
    assert stats.events == 6
    assert stats.by_type == {"inference": 2, "preference": 2, "score": 1, "signal": 1}
    assert stats.by_source == {"end_user": 2, "human": 1, "reward_model": 1}
    assert stats.by_model == {"alpha": 2, "beta": 1, "gamma": 1}
    assert stats.requests == 2 and stats.orphan_requests == 0
    assert stats.to_dict()["last_position"] == store.last_position(project=project)


def test_old_schema_versions_are_upcast_on_read(store: Store, project: str) -> None:
    def from_v0(event: dict[str, Any]) -> dict[str, Any]:
        out = dict(event)
        out["prompt"] = out.pop("question")
        return out

    UPCASTERS[0] = from_v0
    try:
        old = f.inference(schema_version=0)
        old["question"] = old.pop("prompt")
        assert store.append([old], project=project)[0].status == "stored"
        got = store.get_event(old["event_id"], project=project)
        assert got is not None and got.event["schema_version"] == SCHEMA_VERSION
        assert got.event["prompt"] == "What is the capital of France?" and "question" not in got.event
    finally:
        del UPCASTERS[0]


def test_concurrent_appenders_get_unique_increasing_positions(store: Store, project: str) -> None:
    errors: list[BaseException] = []

    def writer() -> None:
        try:
            for _ in range(10):
                store.append([f.inference() for _ in range(5)], project=project)
        except BaseException as exc:  # pragma: no cover - surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=writer) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    positions = [e.position for e in store.read(project=project, limit=1000)]
    assert len(positions) == 200 and positions == sorted(set(positions))


def test_closed_store_refuses_work(store: Store, project: str) -> None:
    store.close()
    with pytest.raises(StoreError):
        store.append([f.inference()], project=project)


def test_unknown_event_id_reads_none(store: Store, project: str) -> None:
    assert store.get_event(new_id(), project=project) is None
