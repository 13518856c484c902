"""Property tests: random event streams on a real SQLite store, compiled, checked against the events.

Each output text is unique to its (request, candidate), so every emitted row can be traced back to
exactly the outputs that were logged and the judgments that could have produced it.
"""

from __future__ import annotations

import hashlib
import tempfile
from dataclasses import dataclass, field
from itertools import combinations
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from preflog.compile import DROP_REASONS, load_manifest
from preflog.events import new_id
from preflog.store import open_store
from tests import factories as f
from tests.compile.helpers import append_all, compile_rows, dir_bytes

PROMPTS = ("What is 2+2?", "what is  2+2?", "Name a colour.", "Tell me a joke.")
SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@dataclass
class Request:
    request_id: str
    prompt: str
    outputs: list[str]
    user_id: str | None
    logged: bool  # the inference was appended (else its judgments are orphans)
    erased: bool = False
    support: set[tuple[str, str]] = field(
        default_factory=set
    )  # (chosen, rejected) texts a live judgment gives


@st.composite
def ranking(draw: st.DrawFn, ids: list[str]) -> list[Any]:
    order = draw(st.permutations(ids))
    groups: list[Any] = []
    for cid in order:
        if groups and draw(st.booleans()) and draw(st.booleans()):
            last = groups[-1]
            groups[-1] = [*last, cid] if isinstance(last, list) else [last, cid]
        else:
            groups.append(cid)
    return groups


def _strict(ranking_: list[Any]) -> list[tuple[str, str]]:
    groups = [g if isinstance(g, list) else [g] for g in ranking_]
    return [(w, lo) for i, g in enumerate(groups) for lower in groups[i + 1 :] for w in g for lo in lower]


@st.composite
def streams(draw: st.DrawFn) -> tuple[list[dict[str, Any]], list[Request]]:
    events: list[dict[str, Any]] = []
    requests: list[Request] = []
    erase_user = draw(st.booleans())
    for i in range(draw(st.integers(1, 6))):
        k = draw(st.integers(2, 4))
        rid = new_id()
        ids = [f"c{j}" for j in range(k)]
        user = draw(st.sampled_from(["u0", "u1", None]))
        req = Request(rid, draw(st.sampled_from(PROMPTS)), [f"out r{i} {cid}" for cid in ids], user, True)
        inference = f.inference(
            rid, outputs=tuple(req.outputs), prompt=req.prompt, **({"user_id": user} if user else {})
        )
        block: list[dict[str, Any]] = []
        judgments: list[tuple[dict[str, Any], list[tuple[str, str]]]] = []
        for _ in range(draw(st.integers(0, 4))):
            kind = draw(st.sampled_from(["pref", "rank", "tie", "both_bad", "score", "thumbs"]))
            a, b = draw(st.permutations(ids))[:2]
            if kind == "pref":
                judgments.append((f.preference(rid, a, b), [(a, b)]))
            elif kind == "rank":
                r = draw(ranking(ids))
                judgments.append((f.preference(rid, chosen=None, rejected=None, ranking=r), _strict(r)))
            elif kind == "tie":
                judgments.append(
                    (f.preference(rid, chosen=None, rejected=None, outcome="tie", candidates=[a, b]), [])
                )
            elif kind == "both_bad":
                event = f.preference(rid, chosen=None, rejected=None, outcome="both_bad", candidates=[a, b])
                judgments.append((event, []))
            elif kind == "score":
                judgments.append((f.score(rid, a, draw(st.sampled_from([0.0, 0.5, 1.0]))), []))
            else:
                judgments.append((f.signal(rid, a, draw(st.sampled_from(["thumbs_up", "thumbs_down"]))), []))
        scores: dict[str, float] = {}
        for event, strict in judgments:
            block.append(event)
            if draw(st.booleans()) and draw(st.booleans()):
                block.append(f.retraction(rid, event["event_id"]))
                continue
            if event["type"] == "score":
                scores[event["candidate_id"]] = event["score"]
            req.support.update((req.outputs[int(w[1:])], req.outputs[int(lo[1:])]) for w, lo in strict)
        for a, b in combinations(sorted(scores), 2):
            hi, lo = (a, b) if scores[a] > scores[b] else (b, a)
            if scores[a] != scores[b]:
                req.support.add((req.outputs[int(hi[1:])], req.outputs[int(lo[1:])]))
        where = draw(st.sampled_from(["first", "last", "missing"]))
        req.logged = where != "missing"
        if where == "first":
            block.insert(0, inference)
        elif where == "last":
            block.append(inference)
        if req.logged and draw(st.integers(0, 5)) == 0:
            block.append(f.erasure(request_id=rid))
            req.erased = True
        if erase_user and user == "u1":
            req.erased = True
        events += block
        requests.append(req)
    if erase_user:
        events.append(f.erasure(user_id="u1"))
    return events, requests


def _compile_twice(
    events: list[dict[str, Any]], fmt: str, **options: Any
) -> tuple[Any, list[dict[str, Any]]]:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        store = open_store(str(root / "events.db"))
        try:
            append_all(store, events, "prop")
            manifest, rows = compile_rows(store, "prop", root / "a", fmt, **options)
            compile_rows(store, "prop", root / "b", fmt, **options)
            assert dir_bytes(root / "a") == dir_bytes(root / "b")  # same events, same bytes
            for file in load_manifest(root / "a").files:
                assert hashlib.sha256((root / "a" / file.name).read_bytes()).hexdigest() == file.sha256
        finally:
            store.close()
    assert set(manifest.drops) <= set(DROP_REASONS)
    return manifest, [dict(r, _file=name) for name, rs in rows.items() for r in rs]


@SETTINGS
@given(streams(), st.sampled_from(["majority", "unanimous", "latest"]))
def test_every_pair_is_logged_text_backed_by_a_live_judgment(
    stream: tuple[list[dict[str, Any]], list[Request]], rule: str
) -> None:
    events, requests = stream
    by_text = {out: req for req in requests for out in req.outputs}
    _, rows = _compile_twice(events, "trl", aggregate=rule, test_fraction=0.5)
    for row in rows:
        req = by_text[row["chosen"]]
        assert by_text[row["rejected"]] is req  # both outputs of one logged request
        assert row["prompt"] == req.prompt and req.logged and not req.erased  # never erased content
        assert row["chosen"] != row["rejected"]
        # a non-retracted, non-tie judgment said so: retracted judgments and ties never become pairs
        assert (row["chosen"], row["rejected"]) in req.support
    train = {" ".join(r["prompt"].split()).lower() for r in rows if r["_file"] == "train.jsonl"}
    test = {" ".join(r["prompt"].split()).lower() for r in rows if r["_file"] == "test.jsonl"}
    assert not train & test  # no prompt in both splits
    assert len({(r["prompt"], r["chosen"], r["rejected"]) for r in rows}) == len(rows)


@SETTINGS
@given(streams())
def test_unpaired_examples_are_logged_outputs(stream: tuple[list[dict[str, Any]], list[Request]]) -> None:
    events, requests = stream
    by_text = {out: req for req in requests for out in req.outputs}
    _, rows = _compile_twice(events, "trl-kto", unpaired_from_pairs=True)
    for row in rows:
        req = by_text[row["completion"]]
        assert row["prompt"] == req.prompt and req.logged and not req.erased
        assert isinstance(row["label"], bool)


@SETTINGS
@given(st.integers(2, 8), st.data())
def test_strict_ranking_of_k_gives_k_choose_2_pairs(k: int, data: st.DataObject) -> None:
    ids = data.draw(st.permutations([f"c{j}" for j in range(k)]))
    inference = f.inference(outputs=tuple(f"text {j}" for j in range(k)))
    rank = f.preference(inference["request_id"], chosen=None, rejected=None, ranking=list(ids))
    _, rows = _compile_twice([inference, rank], "trl")
    assert len(rows) == k * (k - 1) // 2
    position = {f"text {c[1:]}": i for i, c in enumerate(ids)}
    assert all(position[r["chosen"]] < position[r["rejected"]] for r in rows)


@SETTINGS
@given(streams(), st.data())
def test_incremental_compiles_cover_a_full_compile(
    stream: tuple[list[dict[str, Any]], list[Request]], data: st.DataObject
) -> None:
    """Every item of a full compile is in the first compile or in the incremental one after it,
    wherever the stream is cut (late judgments, late inferences, late retractions)."""
    events, _ = stream
    cut = data.draw(st.integers(0, len(events)))
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        store = open_store(str(root / "events.db"))
        try:
            append_all(store, events[:cut], "inc")
            _, first = compile_rows(store, "inc", root / "v1")
            append_all(store, events[cut:], "inc")
            _, second = compile_rows(store, "inc", root / "v2", since_manifest=root / "v1")
            _, full = compile_rows(store, "inc", root / "full")
        finally:
            store.close()

    def triples(rows: dict[str, list[dict[str, Any]]]) -> set[tuple[str, str, str]]:
        return {(r["prompt"], r["chosen"], r["rejected"]) for rs in rows.values() for r in rs}

    assert triples(full) <= triples(first) | triples(second)
    assert triples(second) <= triples(full)
