"""The Spark engine writes the store's bytes: a real pyspark session in local mode (one for the whole
module, ~18 s to start) reads the archive, filters, joins and orders; the files compiled from it are
the local engine's (sha256 per file) for every format and pipeline option, and the manifests count
the same events. Without pyspark or Java the CLI says so in one line.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from preflog.archive import archive_events
from preflog.compile import CompileOptions, compile_dataset
from preflog.engines import compile_source
from preflog.engines.spark import SparkArchiveStore, java_binary
from preflog.formats import available_formats
from preflog.store import Store, open_store
from tests import factories as f
from tests.compile.helpers import append_all
from tests.conftest import require
from tests.engines.test_same_bytes import OPTION_SETS, digests

pytestmark = [pytest.mark.spark, pytest.mark.slow]

PROJECT = "p"
# what the pipeline's options do on top of OPTION_SETS: caps, balance, the latest vote, duplicates
MORE_OPTIONS: tuple[dict[str, Any], ...] = (
    {"aggregate": "latest", "max_per_prompt": 2, "balance_length": True, "seed": 3, "test_fraction": 0.4},
    {"group_by": "user", "max_per_user": 1, "seed": 11},
)


@pytest.fixture(scope="module")
def spark_ready() -> None:
    """pyspark and Java present, and the module's one SparkSession started."""
    require(importlib.util.find_spec("pyspark") is not None, "pyspark is not installed (the spark extra)")
    require(java_binary() is not None, "Java 17 is not installed (no JAVA_HOME, no java on PATH)")
    from preflog.engines.spark import spark_session

    spark_session()


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> tuple[Store, str]:
    """A store with two archive runs (so two file groups), an erasure between them that rewrites the
    first run's files, unjudged inferences, an orphan judgment, duplicates and a tool-calling reply."""
    root = tmp_path_factory.mktemp("spark-project")
    store = open_store(str(root / "events.db"))
    archive = str(root / "archive")
    append_all(store, _batch(0, 14), PROJECT)
    archive_events(store, project=PROJECT, out=archive)
    late_inf = f.inference(prompt="late?", user_id="u1")
    orphan = f.preference(f.inference()["request_id"])  # its inference never comes
    tool = f.tool_inference(user_id="u2")
    append_all(store, [f.erasure(user_id="u2"), f.preference(late_inf["request_id"]), orphan], PROJECT)
    append_all(store, [*_batch(14, 24), late_inf, tool, f.preference(tool["request_id"])], PROJECT)
    archive_events(store, project=PROJECT, out=archive)
    yield store, archive
    store.close()


def _batch(start: int, stop: int) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    for i in range(start, stop):
        outputs = (f"yes {i % 6}", f"no {i % 6}", f"maybe {i}")  # i and i+6 repeat a pair: dedupe
        inf = f.inference(
            outputs=outputs, prompt=f"q{i % 6}?", user_id=f"u{i % 4}", models=("m-a", "m-b", "m-a")
        )
        rid = inf["request_id"]
        events.append(inf)
        if i % 5 == 4:
            continue  # unjudged: Spark's join sends only its envelope
        events += [f.preference(rid), f.score(rid, "c0", 0.9 - i / 100), f.score(rid, "c1", 1e-6)]
        if i % 3 == 0:
            events += [f.signal(rid, "c1", "thumbs_down"), f.preference(rid, "c2", "c1", kind="ai_judge")]
    return events


def _compile(
    source: Store, out: Path, fmt: str, options: dict[str, Any], since: Path | None = None
) -> dict[str, Any]:
    manifest = compile_dataset(
        source,
        project=PROJECT,
        out_dir=out,
        format=fmt,
        options=CompileOptions(**options),
        since_manifest=since,
    )
    return {"files": digests(out), "counts_in": manifest.counts_in, "drops": manifest.drops}


def test_every_format_compiles_on_spark_to_the_local_engines_bytes(
    spark_ready: None, project: tuple[Store, str], tmp_path: Path
) -> None:
    store, archive = project
    spark = compile_source(store, project=PROJECT, engine="spark", from_archive=archive)
    assert isinstance(spark, SparkArchiveStore)
    for fmt in available_formats():
        options = {"group_by": "user", "test_fraction": 0.3, "max_per_prompt": 2, "seed": 5}
        local = _compile(store, tmp_path / f"local-{fmt}", fmt, options)
        assert local["files"], f"{fmt}: nothing compiled"
        assert _compile(spark, tmp_path / f"spark-{fmt}", fmt, options) == local, fmt


def test_every_option_set_compiles_on_spark_to_the_local_engines_bytes(
    spark_ready: None, project: tuple[Store, str], tmp_path: Path
) -> None:
    store, archive = project
    spark = compile_source(store, project=PROJECT, engine="spark", from_archive=archive)
    for n, options in enumerate(OPTION_SETS + MORE_OPTIONS):
        local = _compile(store, tmp_path / f"local-{n}", "trl", options)
        assert _compile(spark, tmp_path / f"spark-{n}", "trl", options) == local, options
    assert _compile(store, tmp_path / "plain", "trl", {})["drops"].get("duplicate")  # dedupe had work


def test_unjudged_inferences_come_from_spark_as_their_envelope_only(
    spark_ready: None, project: tuple[Store, str]
) -> None:
    store, archive = project
    spark = compile_source(store, project=PROJECT, engine="spark", from_archive=archive)
    judged = {
        e.request_id for e in store.iter_events(project=PROJECT, types=["preference", "score", "signal"])
    }
    seen = list(spark.iter_events(project=PROJECT, types=["inference"]))
    whole = list(store.iter_events(project=PROJECT, types=["inference"]))
    assert [e.position for e in seen] == [e.position for e in whole]
    unjudged = [e for e in seen if e.request_id not in judged]
    assert unjudged and all(set(e.event) == {"type", "event_id", "request_id"} for e in unjudged)
    by_position = {e.position: e for e in whole}
    assert all(e.event == by_position[e.position].event for e in seen if e.request_id in judged)
    every = SparkArchiveStore(archive, project=PROJECT, judged_only=False)
    assert [e.event for e in every.iter_events(project=PROJECT, types=["inference"])] == [
        e.event for e in whole
    ]
    mixed = list(spark.iter_events(project=PROJECT, types=["inference", "preference"], after=10))
    assert [e.event for e in mixed] == [
        e.event for e in store.iter_events(project=PROJECT, types=["inference", "preference"], after=10)
    ]


def test_incremental_compiles_on_spark_from_a_store_match_the_store(
    spark_ready: None, tmp_path: Path
) -> None:
    store = open_store(str(tmp_path / "events.db"))
    cache = str(tmp_path / "cache")
    try:
        first = [f.inference(prompt=f"first {i}?", user_id="u1") for i in range(4)]
        append_all(store, first + [f.preference(e["request_id"]) for e in first], PROJECT)
        for name in ("store", "spark"):  # spark on a store: the archive cache is brought up to date first
            source = (
                store
                if name == "store"
                else compile_source(store, project=PROJECT, engine="spark", cache=cache)
            )
            compile_dataset(source, project=PROJECT, out_dir=tmp_path / name / "one", format="trl")
        late = [f.preference(first[0]["request_id"], kind="ai_judge")]  # agrees: first 0 comes again
        more = [f.inference(prompt=f"second {i}?") for i in range(3)]
        append_all(store, late + more + [f.preference(e["request_id"]) for e in more], PROJECT)
        seen = {}
        for name in ("store", "spark"):
            source = (
                store
                if name == "store"
                else compile_source(store, project=PROJECT, engine="spark", cache=cache)
            )
            since = tmp_path / name / "one" / "manifest.json"
            seen[name] = _compile(source, tmp_path / name / "two", "trl", {}, since=since)
        assert seen["spark"] == seen["store"] and seen["store"]["files"]
        text = (tmp_path / "spark" / "two" / "train.jsonl").read_text()
        assert "second 0?" in text and "first 0?" in text and "first 1?" not in text
    finally:
        store.close()


def _cli_compile(
    archive: str, out: Path, *flags: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """``preflog compile`` of the project's store (beside the archive) → trl in ``out``."""
    db = str(Path(archive).parent / "events.db")
    run = [sys.executable, "-m", "preflog", "compile", "--db", db, "--project", PROJECT, "--out", str(out)]
    run += ["--format", "trl", "--from-archive", archive, *flags]
    return subprocess.run(run, capture_output=True, text=True, env=env or dict(os.environ, PYTHONPATH="src"))


def test_cli_compile_engine_spark_writes_the_local_engines_bytes(
    spark_ready: None, project: tuple[Store, str], tmp_path: Path
) -> None:
    _, archive = project
    outs = {}
    for engine in ("local", "spark"):
        done = _cli_compile(
            archive, tmp_path / engine, "--engine", engine, "--test-fraction", "0.3", "--json"
        )
        assert done.returncode == 0, done.stderr
        assert "Traceback" not in done.stderr
        manifest = json.loads(done.stdout)
        assert manifest["engine"] == engine  # as duckdb's says "duckdb (...)"
        outs[engine] = (digests(tmp_path / engine), manifest["counts_out"])
    assert outs["spark"] == outs["local"] and outs["local"][0]


def _hidden_java_env(tmp_path: Path) -> dict[str, str]:
    """PATH without any java (only this Python's directory and the basic tools), no JAVA_HOME."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("bash", "sh", "env", "dirname", "uname", "ls", "cat", "ps", "head"):
        for where in ("/usr/bin", "/bin"):
            if (Path(where) / tool).exists() and not (bin_dir / tool).exists():
                (bin_dir / tool).symlink_to(Path(where) / tool)
    env = {k: v for k, v in os.environ.items() if k != "JAVA_HOME"}
    env.update(PATH=f"{Path(sys.executable).parent}:{bin_dir}", PYTHONPATH="src")
    return env


def test_cli_says_in_one_line_when_java_is_missing(project: tuple[Store, str], tmp_path: Path) -> None:
    require(importlib.util.find_spec("pyspark") is not None, "pyspark is not installed (the spark extra)")
    done = _cli_compile(project[1], tmp_path / "out", "--engine", "spark", env=_hidden_java_env(tmp_path))
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "preflog: error: --engine: spark needs Java 17 and none was found (no JAVA_HOME, no java on PATH)"
    ]
    assert not (tmp_path / "out").exists()  # refused before any work


def test_cli_says_in_one_line_when_pyspark_is_missing(project: tuple[Store, str], tmp_path: Path) -> None:
    shadow = tmp_path / "shadow" / "pyspark"  # an import of pyspark fails as on a machine without it
    shadow.mkdir(parents=True)
    (shadow / "__init__.py").write_text("raise ImportError('No module named pyspark')\n")
    env = dict(os.environ, PYTHONPATH=f"{shadow.parent}:src")
    done = _cli_compile(project[1], tmp_path / "out", "--engine", "spark", env=env)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "preflog: error: --engine: spark needs pyspark, which is not installed (pip install 'preflog[spark]')"
    ]


def test_leaderboard_battles_read_by_spark_are_the_stores(
    spark_ready: None, project: tuple[Store, str]
) -> None:
    """``leaderboard --engine spark`` and ``report`` read their battles through the same engine."""
    import numpy as np

    from preflog.analytics import extract_battles

    store, archive = project
    spark = compile_source(store, project=PROJECT, engine="spark", from_archive=archive)
    for source in (None, "human"):  # a source filter reads the scores too
        mine, theirs = (
            extract_battles(spark, PROJECT, source=source),
            extract_battles(store, PROJECT, source=source),
        )
        assert len(mine.a) > 0 and mine.models == theirs.models and mine.skipped == theirs.skipped
        for name in ("a", "b", "outcome", "judgment", "time", "scored"):
            assert np.array_equal(getattr(mine, name), getattr(theirs, name), equal_nan=name == "time"), name
