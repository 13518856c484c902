"""Real data: the LLMFAO crowd votes with their texts, imported with the arena importer and compiled
with majority aggregation; checked against a majority computed straight from the CSV. Empty answers
(289 of the 2,139 pairs) are answers: they import and compile like the others."""

from __future__ import annotations

import csv
import json
from collections import Counter, defaultdict
from pathlib import Path

from preflog.importers import import_file
from preflog.importers.llmfao import llmfao_to_arena_rows, load_pairs
from preflog.store import Store
from tests.compile.helpers import compile_rows


def expected_pairs(folder: Path, min_agreement: float) -> tuple[set[tuple[str, str, str]], Counter[str]]:
    """(prompt, chosen, rejected) by majority of each pair's votes (ties in the total)."""
    pairs = load_pairs(folder / "pairs-crowd.jsonl")
    votes: dict[str, Counter[str]] = defaultdict(Counter)
    with (folder / "crowd-comparisons.csv").open(newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            votes[row["id"]][row["winner"]] += 1
    out: set[tuple[str, str, str]] = set()
    why: Counter[str] = Counter()
    for pid, count in votes.items():
        pair = pairs[pid]
        x, y = pair.get("result_x") or "", pair.get("result_y") or ""
        why["empty"] += not x.strip() or not y.strip()  # blank: 62 empty, 227 only whitespace
        left, right, total = count["left"], count["right"], sum(count.values())
        if left == right:
            why["tie" if left == 0 else "no_majority"] += 1
        elif max(left, right) / total < min_agreement:
            why["low_agreement"] += 1
        elif x == y:
            why["identical"] += 1
        else:
            out.add((pair["text"], x, y) if left > right else (pair["text"], y, x))
    return out, why


def test_llmfao_crowd_votes_compile_by_majority(shared_data: Path, store: Store, tmp_path: Path) -> None:
    folder = shared_data / "llmfao"
    battles = tmp_path / "llmfao.jsonl"
    battles.write_text("".join(json.dumps(r) + "\n" for r in llmfao_to_arena_rows(folder)), encoding="utf-8")
    import_file(store, "arena", battles, project="llmfao")
    manifest, rows = compile_rows(store, "llmfao", tmp_path / "out", aggregate="majority", min_agreement=0.5)
    got = {
        (r["prompt"][-1]["content"], r["chosen"][0]["content"], r["rejected"][0]["content"])
        for r in rows["train.jsonl"]
    }
    want, why = expected_pairs(folder, 0.5)
    assert why["empty"] == 289 and len(want) > 900
    assert got == want  # the same pairs, each the exact texts shown, identical triples once
    assert any(not t.strip() for triple in got for t in triple[1:])  # empty answers among them
    assert len(rows["train.jsonl"]) == manifest.counts_out["items"] == len(want)
    assert manifest.counts_in["requests_joined"] == 2139  # every pair imported, empty answers too
    assert "empty_output" not in manifest.drops
    decided = manifest.counts_out["items"] + manifest.drops.get("duplicate", 0)
    undecided = why["tie"] + why["no_majority"] + why["low_agreement"] + why["identical"]
    assert decided + undecided == 2139
    reasons = ("tie", "no_majority", "low_agreement", "identical_outputs")
    assert {k: manifest.drops.get(k, 0) for k in reasons} == {
        "tie": why["tie"],
        "no_majority": why["no_majority"],
        "low_agreement": why["low_agreement"],
        "identical_outputs": why["identical"],
    }
