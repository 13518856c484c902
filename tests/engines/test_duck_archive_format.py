"""An archive written before the typed text columns (format 1) never gives wrong output: a user's
``--from-archive`` of one takes the pipeline, with the reason in the manifest, and writes what the
store's compile writes — also once newer files (format 2) were added to it; the archive cache
behind ``--engine duckdb`` on a store is rebuilt in the current format."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from preflog.archive import archive_events, open_target
from preflog.archive.rows import FORMAT
from preflog.archive.target import part_files, read_state
from preflog.compile import CompileOptions, compile_dataset
from preflog.engines import compile_source
from preflog.store import Store, open_store
from tests import factories as f
from tests.compile.helpers import append_all
from tests.engines.test_same_bytes import digests

PROJECT = "p"
FORMAT_1 = [
    "position", "event_id", "type", "request_id", "occurred_at", "received_at", "user_id", "candidate_ids",
    "models", "model_versions", "chosen", "rejected", "outcome", "source_kind", "score", "signal",
    "erased", "event",
]  # fmt: skip


def requests(n: int, tag: str) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for i in range(n):
        inf = f.inference(prompt=f"question {tag}{i}?", outputs=(f"yes {tag}{i}", f"no {tag}{i}"))
        out += [inf, f.preference(inf["request_id"], criterion="helpful", strength=0.5)]
    return out


def make_format_1(root: Path) -> None:
    """Rewrite an archive as format 1 wrote it: files without the typed text columns, no format."""
    for _, _, path in part_files(open_target(str(root)), PROJECT):
        pq.write_table(pq.read_table(path, columns=FORMAT_1), path)
    state = root / "_preflog" / PROJECT / "state.json"
    state.write_text(json.dumps({k: v for k, v in json.loads(state.read_text()).items() if k != "format"}))


def compile_from(store: Store, source: Store, out: Path) -> str | None:
    opts = CompileOptions()
    local = compile_dataset(store, project=PROJECT, out_dir=out / "local", format="trl", options=opts)
    duck = compile_dataset(source, project=PROJECT, out_dir=out / "duck", format="trl", options=opts)
    assert digests(out / "duck") == digests(out / "local")
    assert local.counts_out["items"] == duck.counts_out["items"] > 0
    return duck.engine


def test_a_format_1_archive_takes_the_pipeline_and_says_why(tmp_path: Path) -> None:
    store = open_store(str(tmp_path / "events.db"))
    try:
        archive = tmp_path / "archive"
        append_all(store, requests(5, "a"), PROJECT)
        archive_events(store, project=PROJECT, out=str(archive))
        make_format_1(archive)
        duck = compile_source(store, project=PROJECT, engine="duckdb", from_archive=str(archive))
        engine = compile_from(store, duck, tmp_path / "old")
        assert engine == (
            "duckdb (pipeline fallback: archive format 1 has no typed text columns; "
            "rerun preflog archive into a new directory)"
        )
        append_all(store, requests(4, "b"), PROJECT)  # format 2 files join a format 1 archive
        archive_events(store, project=PROJECT, out=str(archive))
        assert read_state(open_target(str(archive)), PROJECT)["format"] == 1
        duck = compile_source(store, project=PROJECT, engine="duckdb", from_archive=str(archive))
        assert compile_from(store, duck, tmp_path / "mixed") == engine
        fresh = str(tmp_path / "fresh")  # what the reason tells to do
        archive_events(store, project=PROJECT, out=fresh)
        duck = compile_source(store, project=PROJECT, engine="duckdb", from_archive=fresh)
        assert compile_from(store, duck, tmp_path / "new") == "duckdb (vectorized)"
    finally:
        store.close()


def test_the_store_cache_of_an_older_format_is_rebuilt(tmp_path: Path) -> None:
    store = open_store(str(tmp_path / "events.db"))
    try:
        cache = tmp_path / "events.db.archive"
        append_all(store, requests(5, "a"), PROJECT)
        archive_events(store, project=PROJECT, out=str(cache))
        make_format_1(cache)
        append_all(store, requests(3, "b"), PROJECT)
        duck = compile_source(store, project=PROJECT, engine="duckdb", cache=str(cache))
        assert read_state(open_target(str(cache)), PROJECT)["format"] == FORMAT
        for _, _, path in part_files(open_target(str(cache)), PROJECT):
            assert "text_only" in pq.read_schema(path).names  # every file rewritten, none left old
        assert compile_from(store, duck, tmp_path / "out") == "duckdb (vectorized)"
    finally:
        store.close()
