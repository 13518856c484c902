"""The archive on a local directory and on S3: nothing lost, partitioned by the UTC day,
incremental runs equal a full one, reruns change nothing, and erasures reach the files."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from preflog.archive import ArchiveStale, ArchiveStore, S3Options, archive_events, open_target
from preflog.archive.target import part_files
from preflog.compile import compile_dataset
from preflog.erasure import erase
from preflog.store import Store
from tests.archive.conftest import PROJECT, day_events
from tests.compile.helpers import append_all

Target = tuple[str, "S3Options | None"]


def archived_rows(uri: str, s3: S3Options | None) -> pa.Table:
    """Every committed row of the project, in position order, with its partition day."""
    place = open_target(uri, s3=s3, create=False)
    tables = []
    for _, _, path in part_files(place, PROJECT):
        table = pq.read_table(path, filesystem=place.fs)
        day = path.rsplit("/", 2)[-2]
        tables.append(table.append_column("day", pa.array([day] * len(table))))
    return pa.concat_tables(tables).sort_by("position")


def file_bytes(uri: str, s3: S3Options | None) -> dict[str, bytes]:
    place = open_target(uri, s3=s3, create=False)
    out = {}
    for _, _, path in part_files(place, PROJECT):
        with place.fs.open_input_stream(path) as stream:
            out[path.removeprefix(place.root)] = stream.read()
    return out


def test_every_event_comes_back_whole_and_typed(filled: Store, target: Target) -> None:
    uri, s3 = target
    report = archive_events(filled, project=PROJECT, out=uri, s3=s3)
    assert report.events == 100 and report.watermark == filled.last_position(project=PROJECT)
    back = list(ArchiveStore(uri, project=PROJECT, s3=s3).iter_events(project=PROJECT))
    stored = list(filled.iter_events(project=PROJECT))
    assert [(e.position, e.event, e.erased) for e in back] == [
        (e.position, e.event, e.erased) for e in stored
    ]
    rows = archived_rows(uri, s3)
    first = rows.slice(0, 1).to_pylist()[0]
    assert first["type"] == "inference" and first["candidate_ids"] == ["c0", "c1"]
    assert first["models"] == ["model-a", "model-b"] and first["user_id"] == "u1"
    assert rows.slice(1, 1).to_pylist()[0]["chosen"] == "c0"
    # 01:xx at +02:00 on the 2nd is the 1st in UTC: the day is UTC's
    assert set(rows["day"].to_pylist()) == {"day=2026-11-01", "day=2026-11-02"}


def test_an_incremental_archive_holds_the_rows_of_a_full_one(
    store: Store, target: Target, tmp_path: Path
) -> None:
    uri, s3 = target
    append_all(store, day_events(10, day=2), PROJECT)
    archive_events(store, project=PROJECT, out=uri, s3=s3)
    append_all(store, day_events(10, day=2, tag="x") + day_events(5, day=4), PROJECT)
    second = archive_events(store, project=PROJECT, out=uri, s3=s3)
    assert second.previous == 20 and second.events == 30
    full = str(tmp_path / "full")
    archive_events(store, project=PROJECT, out=full)
    assert archived_rows(uri, s3).equals(archived_rows(full, None))


def test_a_rerun_with_nothing_new_changes_nothing(filled: Store, target: Target) -> None:
    uri, s3 = target
    archive_events(filled, project=PROJECT, out=uri, s3=s3, batch=40)
    before = file_bytes(uri, s3)
    again = archive_events(filled, project=PROJECT, out=uri, s3=s3, batch=40)
    assert again.events == 0 and again.files_written == [] and file_bytes(uri, s3) == before
    names = sorted(Path(p).name for p in before)
    assert names[0] == "part-000000000001-000000000040.parquet"  # named by the positions held


def test_an_erasure_after_archiving_reaches_the_files_and_the_compile(
    filled: Store, target: Target, tmp_path: Path
) -> None:
    uri, s3 = target
    archive_events(filled, project=PROJECT, out=uri, s3=s3)
    erase(filled, project=PROJECT, user_id="u2")
    with pytest.raises(ArchiveStale, match="run preflog archive first"):
        ArchiveStore(uri, project=PROJECT, s3=s3, store=filled)
    report = archive_events(filled, project=PROJECT, out=uri, s3=s3)
    assert report.files_rewritten  # u2's day, rewritten blanked
    texts = "\n".join(archived_rows(uri, s3)["event"].to_pylist())
    assert "answer A3-" not in texts and "question 3-" not in texts and "answer A2-" in texts
    archive = ArchiveStore(uri, project=PROJECT, s3=s3, store=filled)
    manifest = compile_dataset(archive, project=PROJECT, out_dir=tmp_path / "ds", format="trl")
    written = "".join((tmp_path / "ds" / f.name).read_text() for f in manifest.files)
    assert "question 2-" in written and "question 3-" not in written and "answer A3-" not in written


def test_compiling_the_archive_gives_the_stores_bytes(filled: Store, target: Target, tmp_path: Path) -> None:
    uri, s3 = target
    archive_events(filled, project=PROJECT, out=uri, s3=s3)
    archive = ArchiveStore(uri, project=PROJECT, s3=s3, store=filled)
    for name, source in (("from-store", filled), ("from-archive", archive)):
        compile_dataset(source, project=PROJECT, out_dir=tmp_path / name, format="trl")
    files = sorted((tmp_path / "from-store").glob("*.jsonl"))
    assert files
    for data in files:
        assert data.read_bytes() == (tmp_path / "from-archive" / data.name).read_bytes()


def test_a_reader_sees_only_committed_parts(filled: Store, tmp_path: Path) -> None:
    uri = str(tmp_path / "archive")
    archive_events(filled, project=PROJECT, out=uri)
    stray = Path(uri) / f"project={PROJECT}" / "day=2026-11-09" / "part-000000000500-000000000600.parquet"
    stray.parent.mkdir()
    stray.write_bytes(b"not parquet: a crashed run's part after the watermark")
    assert len(list(ArchiveStore(uri, project=PROJECT).iter_events(project=PROJECT))) == 100
    assert archive_events(filled, project=PROJECT, out=uri).leftovers_removed == 1 and not stray.exists()


def test_an_archive_of_another_project_is_refused(filled: Store, tmp_path: Path) -> None:
    uri = str(tmp_path / "archive")
    archive_events(filled, project=PROJECT, out=uri)
    with pytest.raises(Exception, match="holds no archive of project 'other'"):
        ArchiveStore(uri, project="other")
    state = json.loads((Path(uri) / "_preflog" / PROJECT / "state.json").read_text())
    assert state["position"] == 100
