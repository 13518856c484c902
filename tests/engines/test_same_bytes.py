"""Every engine writes the same bytes: the store, the local engine on the archive and the DuckDB
engine (on the archive, and on the store through its archive cache) compile random projects to
the same files (sha256 per file), for every format and with every pipeline option."""

from __future__ import annotations

import hashlib
import tempfile
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from preflog.archive import archive_events
from preflog.compile import CompileOptions, compile_dataset
from preflog.engines import compile_source
from preflog.formats import available_formats
from preflog.store import Store, open_store
from tests import factories as f
from tests.compile.helpers import append_all
from tests.compile.test_properties import streams

PROJECT = "p"
OPTION_SETS: tuple[dict[str, Any], ...] = (
    {},
    {"max_per_prompt": 1, "seed": 7, "test_fraction": 0.5},
    {"group_by": "user", "test_fraction": 0.3},
    {"aggregate": "unanimous", "balance_position": True, "prefer_low_margin": True, "max_per_user": 2},
    {"sources": ("human",), "models": ("model-a",), "users": ("u1", "u2")},
)


def digests(out: Path) -> dict[str, str]:
    files = [
        p for p in sorted(out.rglob("*")) if p.is_file() and p.name not in ("manifest.json", "README.md")
    ]
    return {p.relative_to(out).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest() for p in files}


def compile_everywhere(
    store: Store, root: Path, fmt: str, options: dict[str, Any], since: bool = False
) -> None:
    """Compile with every engine into root/<engine>; assert the files are the same bytes."""
    archive = str(root / "archive")
    archive_events(store, project=PROJECT, out=archive)
    sources = {
        "store": store,
        "local-archive": compile_source(store, project=PROJECT, from_archive=archive),
        "duckdb-archive": compile_source(store, project=PROJECT, engine="duckdb", from_archive=archive),
        "duckdb-store": compile_source(store, project=PROJECT, engine="duckdb", cache=str(root / "cache")),
    }
    seen = {}
    for name, source in sources.items():
        out = root / f"{name}-{fmt}"
        manifest = compile_dataset(
            source, project=PROJECT, out_dir=out, format=fmt, options=CompileOptions(**options)
        )
        seen[name] = digests(out)
        # the DuckDB engine says which path it took: SQL, or the pipeline and why (same bytes)
        assert (manifest.engine or "").startswith("duckdb (") == name.startswith("duckdb"), manifest.engine
    assert seen["store"], "nothing compiled"
    assert all(d == seen["store"] for d in seen.values()), seen


@given(stream=streams(), fmt=st.sampled_from(available_formats()), options=st.sampled_from(OPTION_SETS))
@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_random_projects_compile_to_the_same_bytes_on_every_engine(
    stream: tuple[list[dict[str, Any]], list[Any]], fmt: str, options: dict[str, Any]
) -> None:
    events, _ = stream
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        store = open_store(str(root / "events.db"))
        try:
            append_all(store, events + _filler(), PROJECT)
            compile_everywhere(store, root, fmt, options)
        finally:
            store.close()


def _filler() -> list[dict[str, Any]]:
    """One plain pair, so every example compiles at least one row in pair formats."""
    inf = f.inference(user_id="u0")
    return [inf, f.preference(inf["request_id"]), f.signal(inf["request_id"], user_id="u0")]


def test_every_format_and_every_option_set_is_the_same_on_every_engine(tmp_path: Path) -> None:
    store = open_store(str(tmp_path / "events.db"))
    try:
        for i in range(12):
            inf = f.inference(
                outputs=(f"yes {i}", f"no {i}", f"maybe {i}"),
                prompt=f"q{i % 5}?",
                user_id=f"u{i % 3}",
                models=("model-a", "model-b", "model-a"),
            )
            rid = inf["request_id"]
            append_all(
                store, [inf, f.preference(rid), f.score(rid, "c0", 0.9), f.score(rid, "c1", 0.1)], PROJECT
            )
            append_all(
                store,
                [f.signal(rid, "c1", "thumbs_down"), f.preference(rid, "c2", "c1", kind="ai_judge")],
                PROJECT,
            )
        for fmt in available_formats():  # every format with a rich option set
            compile_everywhere(store, tmp_path / fmt, fmt, OPTION_SETS[2])
        for n, options in enumerate(OPTION_SETS):  # every option set on trl
            compile_everywhere(store, tmp_path / f"trl-{n}", "trl", options)
    finally:
        store.close()


def test_incremental_compiles_from_a_manifest_are_the_same_on_every_engine(tmp_path: Path) -> None:
    store = open_store(str(tmp_path / "events.db"))
    try:
        first = [f.inference(prompt=f"first {i}?", user_id="u1") for i in range(4)]
        append_all(store, first + [f.preference(e["request_id"]) for e in first], PROJECT)
        archive, cache = str(tmp_path / "archive"), str(tmp_path / "cache")
        engines = {
            "store": lambda: store,
            "local-archive": lambda: compile_source(store, project=PROJECT, from_archive=archive),
            "duckdb-store": lambda: compile_source(store, project=PROJECT, engine="duckdb", cache=cache),
        }
        archive_events(store, project=PROJECT, out=archive)
        for name, source in engines.items():
            compile_dataset(source(), project=PROJECT, out_dir=tmp_path / name / "one", format="trl")
        late = [f.preference(first[0]["request_id"], "c1", "c0", kind="ai_judge")]
        more = [f.inference(prompt=f"second {i}?") for i in range(3)]
        append_all(store, late + more + [f.preference(e["request_id"]) for e in more], PROJECT)
        archive_events(store, project=PROJECT, out=archive)
        seen = {}
        for name, source in engines.items():
            out = tmp_path / name / "two"
            since = tmp_path / name / "one" / "manifest.json"
            compile_dataset(source(), project=PROJECT, out_dir=out, format="trl", since_manifest=since)
            seen[name] = digests(out)
        assert seen["store"] and all(d == seen["store"] for d in seen.values()), seen
        assert "second 0?" in (tmp_path / "store" / "two" / "train.jsonl").read_text()
    finally:
        store.close()
