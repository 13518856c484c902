"""compile_dataset on hand-made event streams: each resolve, aggregate, filter and sampling rule."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from preflog.compile import DROP_REASONS, CompileOptions, compile_dataset, load_manifest
from preflog.errors import ConfigError
from preflog.store import Store
from tests import factories as f
from tests.compile.helpers import all_rows, append_all, compile_rows, dir_bytes, texts

OUTS = ("alpha", "bravo", "charlie", "delta", "echo", "foxtrot")


def ranked(k: int, **extra: object) -> tuple[dict[str, object], dict[str, object]]:
    inf = f.inference(outputs=OUTS[:k])
    pref = f.preference(
        inf["request_id"], chosen=None, rejected=None, ranking=[f"c{i}" for i in range(k)], **extra
    )
    return inf, pref


def test_chosen_rejected_pair_is_the_logged_text(store: Store, project: str, tmp_path: Path) -> None:
    inf = f.inference()
    append_all(store, [inf, f.preference(inf["request_id"])], project)
    manifest, rows = compile_rows(store, project, tmp_path / "out")
    assert rows["train.jsonl"] == [
        {
            "prompt": "What is the capital of France?",
            "chosen": "Paris is the capital of France.",
            "rejected": "I think it is Lyon.",
        }
    ]
    assert manifest.counts_out["items"] == 1 and manifest.drops == {}


@pytest.mark.parametrize("k", [2, 3, 4, 5, 6])
def test_ranking_of_k_gives_k_choose_2_pairs(store: Store, project: str, tmp_path: Path, k: int) -> None:
    append_all(store, ranked(k), project)
    _, rows = compile_rows(store, project, tmp_path / "out")
    pairs = texts(rows)
    assert len(pairs) == k * (k - 1) // 2
    assert pairs == {(OUTS[i], OUTS[j]) for i in range(k) for j in range(i + 1, k)}


def test_tie_groups_and_tie_outcomes_never_pairs(store: Store, project: str, tmp_path: Path) -> None:
    a = f.inference(outputs=OUTS[:3])
    b = f.inference(outputs=OUTS[3:5])
    events = [
        a,
        f.preference(a["request_id"], chosen=None, rejected=None, ranking=["c0", ["c1", "c2"]]),
        b,
        f.preference(b["request_id"], chosen=None, rejected=None, outcome="tie", candidates=["c0", "c1"]),
    ]
    append_all(store, events, project)
    manifest, rows = compile_rows(store, project, tmp_path / "out")
    assert texts(rows) == {("alpha", "bravo"), ("alpha", "charlie")}
    assert manifest.drops["tie"] == 2


def test_both_bad_and_thumbs_are_unpaired(store: Store, project: str, tmp_path: Path) -> None:
    a = f.inference(outputs=OUTS[:2])
    rid = a["request_id"]
    events = [
        a,
        f.preference(rid, chosen=None, rejected=None, outcome="both_bad", candidates=["c0", "c1"]),
        f.signal(rid, "c0", "thumbs_up", user_id="u1"),
        f.signal(rid, "c1", "copy"),
    ]
    append_all(store, events, project)
    manifest, rows = compile_rows(store, project, tmp_path / "pairs")
    assert rows["train.jsonl"] == []
    assert manifest.drops == {"unpaired_only": 3, "signal_not_used": 1}
    manifest, rows = compile_rows(store, project, tmp_path / "kto", "trl-kto")
    # c0 has one good (thumbs) and one bad (both_bad) label: no majority; c1 is bad
    assert rows["train.jsonl"] == [{"prompt": f.inference()["prompt"], "completion": "bravo", "label": False}]
    assert manifest.drops == {"no_majority": 1, "signal_not_used": 1}


def test_reward_scores_pair_above_min_margin_with_the_gap_as_margin(
    store: Store, project: str, tmp_path: Path
) -> None:
    a = f.inference(outputs=OUTS[:3])
    rid = a["request_id"]
    events = [a, f.score(rid, "c0", 0.9), f.score(rid, "c1", 0.2), f.score(rid, "c2", 0.85)]
    append_all(store, events, project)
    manifest, rows = compile_rows(store, project, tmp_path / "out", "trl-reward", min_margin=0.1)
    got = {(r["chosen"], r["rejected"]): r["margin"] for r in rows["train.jsonl"]}
    assert got == {("alpha", "bravo"): pytest.approx(0.7), ("charlie", "bravo"): pytest.approx(0.65)}
    assert manifest.drops == {"below_min_margin": 1}


def test_retracted_judgments_are_never_emitted(store: Store, project: str, tmp_path: Path) -> None:
    inf, pref = ranked(3)
    p2 = f.preference(str(inf["request_id"]), chosen="c2", rejected="c0")
    events = [inf, pref, p2, f.retraction(str(inf["request_id"]), str(pref["event_id"]))]
    append_all(store, events, project)
    manifest, rows = compile_rows(store, project, tmp_path / "out")
    assert texts(rows) == {("charlie", "alpha")}
    assert manifest.drops["retracted"] == 1


def test_erased_request_and_user_are_never_emitted(store: Store, project: str, tmp_path: Path) -> None:
    a, b, c = (f.inference(outputs=OUTS[i : i + 2], user_id=f"u{i}") for i in range(3))
    events = [a, b, c] + [f.preference(str(x["request_id"])) for x in (a, b, c)]
    events += [f.erasure(request_id=str(a["request_id"])), f.erasure(user_id="u1")]
    append_all(store, events, project)
    manifest, rows = compile_rows(store, project, tmp_path / "out")
    assert texts(rows) == {("charlie", "delta")}
    assert manifest.drops["erased"] == 2


@pytest.mark.parametrize(
    ("rule", "min_agreement", "expected", "reason"),
    [
        ("majority", 0.5, {("alpha", "bravo")}, None),
        ("majority", 0.7, set(), "low_agreement"),
        ("unanimous", 0.5, set(), "not_unanimous"),
        ("latest", 0.5, {("bravo", "alpha")}, None),
    ],
)
def test_aggregation_rules(
    store: Store,
    project: str,
    tmp_path: Path,
    rule: str,
    min_agreement: float,
    expected: set[tuple[str, str]],
    reason: str | None,
) -> None:
    inf = f.inference(outputs=OUTS[:2])
    rid = str(inf["request_id"])
    votes = [
        f.preference(rid, "c0", "c1", occurred_at="2026-11-26T10:01:00Z"),
        f.preference(rid, "c0", "c1", occurred_at="2026-11-26T10:02:00Z"),
        f.preference(rid, "c1", "c0", occurred_at="2026-11-26T10:03:00Z"),
    ]
    append_all(store, [inf, *votes], project)
    manifest, rows = compile_rows(
        store, project, tmp_path / "out", aggregate=rule, min_agreement=min_agreement
    )
    assert texts(rows) == expected
    if reason:
        assert manifest.drops == {reason: 1}


def test_even_split_is_no_majority(store: Store, project: str, tmp_path: Path) -> None:
    inf = f.inference(outputs=OUTS[:2])
    rid = str(inf["request_id"])
    append_all(store, [inf, f.preference(rid, "c0", "c1"), f.preference(rid, "c1", "c0")], project)
    manifest, rows = compile_rows(store, project, tmp_path / "out")
    assert texts(rows) == set() and manifest.drops == {"no_majority": 1}


def test_validation_drops_are_counted(store: Store, project: str, tmp_path: Path) -> None:
    same = f.inference(outputs=("same text", "same text"))
    ok = f.inference(outputs=OUTS[:2])
    events = [
        same,
        f.preference(str(same["request_id"])),
        ok,
        f.preference(str(ok["request_id"]), "c0", "c7"),  # not a candidate of this request
        f.preference("never-arrives"),
    ]
    append_all(store, events, project)
    manifest, rows = compile_rows(store, project, tmp_path / "out")
    assert texts(rows) == set()
    assert manifest.drops == {"identical_outputs": 1, "unknown_candidate": 1, "orphan": 1}
    assert set(manifest.drops) <= set(DROP_REASONS)


def test_identical_triples_across_requests_are_deduplicated(
    store: Store, project: str, tmp_path: Path
) -> None:
    events = []
    for _ in range(3):
        inf = f.inference(outputs=OUTS[:2])
        events += [inf, f.preference(str(inf["request_id"]))]
    append_all(store, events, project)
    manifest, rows = compile_rows(store, project, tmp_path / "out")
    assert len(rows["train.jsonl"]) == 1 and manifest.drops == {"duplicate": 2}


def test_filters(store: Store, project: str, tmp_path: Path) -> None:
    a = f.inference(outputs=OUTS[:2], models=("m1", "m2"), user_id="ann")
    b = f.inference(outputs=OUTS[2:4], models=("m3", "m4"), user_id="bob")
    events = [
        a,
        b,
        f.preference(str(a["request_id"]), criterion="helpfulness"),
        f.preference(str(b["request_id"]), kind="ai_judge", occurred_at="2026-12-01T00:00:00Z"),
    ]
    append_all(store, events, project)

    def only(**options: object) -> set[tuple[str, str]]:
        out = tmp_path / json.dumps(options, sort_keys=True).replace('"', "").replace("/", "_")
        return texts(compile_rows(store, project, out, **options)[1])

    ab, cd = ("alpha", "bravo"), ("charlie", "delta")
    assert only(sources=("human",)) == {ab}
    assert only(sources=("ai_judge",)) == {cd}
    assert only(criteria=("helpfulness",)) == {ab}
    assert only(models=("m4",)) == {cd}
    assert only(users=("ann",)) == {ab}
    assert only(since="2026-11-30T00:00:00Z") == {cd}
    assert only(until="2026-11-30T00:00:00+00:00") == {ab}


def test_group_by_user_writes_one_dataset_per_user(store: Store, project: str, tmp_path: Path) -> None:
    a = f.inference(outputs=OUTS[:2], user_id="ann/1")
    b = f.inference(outputs=OUTS[2:4])
    append_all(store, [a, b, f.preference(str(a["request_id"])), f.preference(str(b["request_id"]))], project)
    manifest, rows = compile_rows(store, project, tmp_path / "out", group_by="user")
    assert sorted(rows) == ["users/_no_user/train.jsonl", "users/ann%2F1/train.jsonl"]
    assert rows["users/ann%2F1/train.jsonl"][0]["chosen"] == "alpha"
    assert manifest.counts_out["groups"] == 2


def test_split_keeps_every_prompt_on_one_side(store: Store, project: str, tmp_path: Path) -> None:
    events = []
    for i in range(40):
        for spacing in ("", "  "):  # the same prompt up to case and spacing
            inf = f.inference(outputs=(f"a{i}{spacing}", f"b{i}{spacing}"), prompt=f"Question {i}?{spacing}")
            events += [inf, f.preference(str(inf["request_id"]))]
    append_all(store, events, project)
    _, rows = compile_rows(store, project, tmp_path / "out", test_fraction=0.3)
    train = {" ".join(r["prompt"].split()).lower() for r in rows["train.jsonl"]}
    test = {" ".join(r["prompt"].split()).lower() for r in rows["test.jsonl"]}
    assert train and test and not train & test
    assert len(train) + len(test) == 40


def test_caps_and_balance(store: Store, project: str, tmp_path: Path) -> None:
    events = []
    for i in range(6):
        inf = f.inference(
            outputs=(f"long answer {i}" * (1 + i % 2), f"short {i}"),
            prompt="same prompt",
            user_id=f"u{i % 2}",
        )
        rid = str(inf["request_id"])
        events += [inf, f.score(rid, "c0", 1.0 + i), f.score(rid, "c1", 0.0)]
    append_all(store, events, project)
    manifest, rows = compile_rows(
        store, project, tmp_path / "p", "trl-reward", max_per_prompt=2, prefer_low_margin=True
    )
    assert sorted(r["margin"] for r in rows["train.jsonl"]) == [1.0, 2.0]
    assert manifest.drops == {"max_per_prompt": 4}
    manifest, rows = compile_rows(store, project, tmp_path / "u", max_per_user=1, seed=3)
    assert len(rows["train.jsonl"]) == 2 and manifest.drops == {"max_per_user": 4}


def test_balance_position_and_length(store: Store, project: str, tmp_path: Path) -> None:
    events = []
    for i in range(8):
        inf = f.inference(outputs=(f"first {i} longer", f"second {i}"), presented=["c0", "c1"])
        chosen, rejected = ("c0", "c1") if i < 6 else ("c1", "c0")
        events += [inf, f.preference(str(inf["request_id"]), chosen, rejected)]
    append_all(store, events, project)
    manifest, rows = compile_rows(store, project, tmp_path / "pos", balance_position=True)
    firsts = [r["chosen"].startswith("first") for r in rows["train.jsonl"]]
    assert firsts.count(True) == firsts.count(False) == 2
    assert manifest.drops == {"balance_position": 4}
    manifest, rows = compile_rows(store, project, tmp_path / "len", balance_length=True)
    assert len(rows["train.jsonl"]) == 4 and manifest.drops == {"balance_length": 4}


def test_same_events_same_bytes_and_seed_changes_sampling(store: Store, project: str, tmp_path: Path) -> None:
    events = []
    for i in range(30):
        inf = f.inference(outputs=(f"x{i}", f"y{i}"), prompt=f"p{i % 5}", user_id=f"u{i % 3}")
        events += [inf, f.preference(str(inf["request_id"]))]
    append_all(store, events, project)
    opts = {"max_per_prompt": 3, "test_fraction": 0.4, "seed": 7}
    compile_rows(store, project, tmp_path / "a", **opts)
    compile_rows(store, project, tmp_path / "b", **opts)
    assert dir_bytes(tmp_path / "a") == dir_bytes(tmp_path / "b")
    compile_rows(store, project, tmp_path / "c", **(opts | {"seed": 8}))
    assert dir_bytes(tmp_path / "a") != dir_bytes(tmp_path / "c")


def test_manifest_hashes_match_files_and_card_tells_the_counts(
    store: Store, project: str, tmp_path: Path
) -> None:
    append_all(store, ranked(4), project)
    out = tmp_path / "out"
    manifest, _ = compile_rows(store, project, out, test_fraction=0.5)
    on_disk = load_manifest(out)
    assert on_disk.to_dict() == manifest.to_dict()
    for file in on_disk.files:
        data = (out / file.name).read_bytes()
        assert hashlib.sha256(data).hexdigest() == file.sha256 and len(data) == file.bytes
        assert data.count(b"\n") == file.rows
    card = (out / "README.md").read_text()
    assert "6 preference pairs" in card and manifest.files[0].sha256 in card
    assert manifest.watermark == store.last_position(project=project)
    assert manifest.options == CompileOptions(test_fraction=0.5).to_dict()


def test_manifest_created_at_follows_source_date_epoch(
    store: Store, project: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    append_all(store, ranked(3), project)
    manifest, _ = compile_rows(store, project, tmp_path / "now")
    assert manifest.created_at is not None and manifest.created_at.endswith("Z")
    assert load_manifest(tmp_path / "now").created_at == manifest.created_at
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1764115200")
    compile_rows(store, project, tmp_path / "a")
    compile_rows(store, project, tmp_path / "b")
    a = {p.name: p.read_bytes() for p in (tmp_path / "a").iterdir()}
    assert a == {p.name: p.read_bytes() for p in (tmp_path / "b").iterdir()}  # manifest too
    assert load_manifest(tmp_path / "a").created_at == "2025-11-26T00:00:00Z"
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "yesterday")
    with pytest.raises(ConfigError, match="SOURCE_DATE_EPOCH"):
        compile_rows(store, project, tmp_path / "c")


def test_incremental_compile_picks_up_late_judgments(store: Store, project: str, tmp_path: Path) -> None:
    old = f.inference(outputs=OUTS[:2])
    both = f.inference(outputs=OUTS[2:4])
    orphan_pref = f.preference("late-inference")
    append_all(store, [old, both, f.preference(str(both["request_id"])), orphan_pref], project)
    first, rows = compile_rows(store, project, tmp_path / "v1")
    assert texts(rows) == {("charlie", "delta")} and first.drops == {"orphan": 1}
    late_inference = f.inference("late-inference", outputs=OUTS[4:6])
    append_all(store, [f.preference(str(old["request_id"])), late_inference], project)
    second, rows = compile_rows(
        store, project, tmp_path / "v2", since_manifest=tmp_path / "v1" / "manifest.json"
    )
    assert texts(rows) == {("alpha", "bravo"), ("echo", "foxtrot")}
    assert second.previous_watermark == first.watermark and second.drops == {"compiled_before": 1}
    third, rows = compile_rows(store, project, tmp_path / "v3", since_manifest=tmp_path / "v2")
    assert texts(rows) == set() and third.drops == {"compiled_before": 3}


def test_the_manifest_names_the_local_engine_and_its_readers_do_without_it(
    store: Store, project: str, tmp_path: Path
) -> None:
    from preflog.verify.run import data_files

    append_all(store, ranked(3), project)
    first, _ = compile_rows(store, project, tmp_path / "v1")
    manifest = tmp_path / "v1" / "manifest.json"
    written = json.loads(manifest.read_text())
    assert first.engine == written["engine"] == "local"
    del written["engine"]  # a manifest from before the field
    manifest.write_text(json.dumps(written))
    assert load_manifest(manifest).engine is None
    assert data_files(tmp_path / "v1") == ([("train.jsonl", 3)], "trl")  # what preflog verify reads
    append_all(store, ranked(2), project)
    second, rows = compile_rows(store, project, tmp_path / "v2", since_manifest=manifest)
    assert second.previous_watermark == first.watermark and len(rows) == 1
    assert second.engine == "local"


def test_incremental_compile_sees_a_late_retraction_change_an_old_pair(
    store: Store, project: str, tmp_path: Path
) -> None:
    inf = f.inference(outputs=OUTS[:2])
    rid = str(inf["request_id"])
    a1, a2, b1 = f.preference(rid, "c0", "c1"), f.preference(rid, "c0", "c1"), f.preference(rid, "c1", "c0")
    append_all(store, [inf, a1, a2, b1], project)
    _, rows = compile_rows(store, project, tmp_path / "v1")
    assert texts(rows) == {("alpha", "bravo")}
    append_all(
        store, [f.retraction(rid, str(a1["event_id"])), f.retraction(rid, str(a2["event_id"]))], project
    )
    _, rows = compile_rows(store, project, tmp_path / "v2", since_manifest=tmp_path / "v1")
    assert texts(rows) == {("bravo", "alpha")}  # all its votes are old, but the decision changed


def test_recompiling_into_a_directory_removes_stale_files(store: Store, project: str, tmp_path: Path) -> None:
    append_all(store, ranked(3), project)
    out = tmp_path / "out"
    compile_rows(store, project, out, test_fraction=0.5)
    assert (out / "test.jsonl").exists()
    compile_rows(store, project, out)
    assert sorted(p.name for p in out.iterdir()) == ["README.md", "manifest.json", "train.jsonl"]


def test_parquet_output(store: Store, project: str, tmp_path: Path) -> None:
    pq = pytest.importorskip("pyarrow.parquet")
    append_all(store, ranked(3), project)
    manifest = compile_dataset(
        store,
        project=project,
        out_dir=tmp_path / "out",
        format="trl-reward",
        options=CompileOptions(parquet=True),
    )
    table = pq.read_table(tmp_path / "out" / "train.parquet")
    assert table.column_names == ["prompt", "chosen", "rejected", "margin"]
    assert str(table.schema.field("margin").type) == "double" and table.num_rows == 3
    assert manifest.files[0].name == "train.parquet"


def test_bad_options_and_inputs(store: Store, project: str, tmp_path: Path) -> None:
    # The library names its option; the CLI says the flag (tests/cli/test_first_hour.py).
    with pytest.raises(ConfigError, match=r"^aggregate: "):
        CompileOptions(aggregate="mode")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match=r"^test_fraction: "):
        CompileOptions(test_fraction=1.0)
    with pytest.raises(ConfigError, match=r"^since: "):
        CompileOptions(since="yesterday")
    with pytest.raises(ConfigError, match="unknown format"):
        compile_dataset(store, project=project, out_dir=tmp_path, format="nope")
    with pytest.raises(ConfigError, match="no manifest"):
        compile_dataset(store, project=project, out_dir=tmp_path, since_manifest=tmp_path / "missing.json")


def test_conversational_prompts_and_system(store: Store, project: str, tmp_path: Path) -> None:
    chat = [
        {"role": "user", "content": "Hi"},
        {"role": "assistant", "content": "Hello"},
        {"role": "user", "content": "Bye?"},
    ]
    a = f.inference(outputs=OUTS[:2], prompt=chat, system="Be brief.")
    b = f.inference(outputs=OUTS[2:4])
    append_all(store, [a, b, f.preference(str(a["request_id"])), f.preference(str(b["request_id"]))], project)
    _, rows = compile_rows(store, project, tmp_path / "out")
    first, second = sorted(rows["train.jsonl"], key=lambda r: r["chosen"][0]["content"])
    assert first["prompt"] == [{"role": "system", "content": "Be brief."}, *chat]
    assert first["chosen"] == [{"role": "assistant", "content": "alpha"}]
    assert second["prompt"] == [
        {"role": "user", "content": "What is the capital of France?"}
    ]  # one shape per file
    assert all_rows(rows)


def test_a_manifest_naming_files_outside_its_directory_deletes_nothing_there(
    store: Store, project: str, tmp_path: Path
) -> None:
    # compile clears the files its previous manifest lists; a manifest is a file anyone can edit,
    # so names leading out of the directory (.., absolute, through a link) are left alone.
    inf = f.inference()
    append_all(store, [inf, f.preference(inf["request_id"])], project)
    out = tmp_path / "out"
    compile_rows(store, project, out)
    victims = [tmp_path / "victim.txt", tmp_path / "elsewhere" / "kept.txt"]
    for victim in victims:
        victim.parent.mkdir(exist_ok=True)
        victim.write_text("keep me")
    (out / "link").symlink_to(tmp_path / "elsewhere", target_is_directory=True)
    manifest = json.loads((out / "manifest.json").read_text())
    listed = manifest["files"][0]
    for name in ("../victim.txt", str(victims[0]), "link/kept.txt"):
        manifest["files"].append({**listed, "name": name})
    (out / "manifest.json").write_text(json.dumps(manifest))
    compile_rows(store, project, out)
    assert all(v.read_text() == "keep me" for v in victims)
    assert (out / "train.jsonl").is_file()  # the dataset itself was rewritten
