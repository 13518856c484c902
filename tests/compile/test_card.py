"""The dataset card's Hugging Face front matter: ``datasets.load_dataset(out_dir)`` (offline) gives
exactly the manifest's splits and row counts for every format, per user group too, and never reads
``manifest.json`` or a side file as data."""

from __future__ import annotations

import doctest
import os
import uuid
from pathlib import Path
from typing import Any

import pytest

from preflog.compile import card
from preflog.formats import available_formats
from preflog.store import Store
from tests import factories as f
from tests.compile.helpers import append_all, compile_rows

os.environ.setdefault("HF_DATASETS_OFFLINE", "1")  # before `datasets` is imported: no hub here
os.environ.setdefault("HF_HUB_OFFLINE", "1")
NS = uuid.UUID("3b1f6d0c-7a55-4c39-9d0e-6a1c2b3d4e5f")


def test_docstring_examples() -> None:
    result = doctest.testmod(card)
    assert result.attempted > 0 and result.failed == 0


def events(n: int = 12) -> list[dict[str, Any]]:
    """n requests of three users, string and chat prompts, each judged once."""
    out: list[dict[str, Any]] = []
    for i in range(n):
        rid = str(uuid.uuid5(NS, f"r{i}"))
        prompt: Any = [{"role": "user", "content": f"Chat question {i}?"}] if i % 3 == 0 else f"Question {i}?"
        out.append(
            f.inference(
                rid,
                outputs=(f"Answer {i}.", f"Wrong {i}."),
                prompt=prompt,
                user_id=["alice@example.com", "bob", None][i % 3],
            )
        )
        out.append(f.preference(rid))
    return out


def load(out: Path, tmp_path: Path, config: str | None = None) -> Any:
    datasets = pytest.importorskip("datasets")
    return datasets.load_dataset(str(out), config, cache_dir=str(tmp_path / "hf-cache"))


def declared_splits(manifest_files: list[Any], prefix: str = "") -> dict[str, int]:
    counts: dict[str, int] = {}
    for file in manifest_files:
        if file.name.startswith(prefix) and file.name.endswith((".jsonl", ".parquet")) and file.rows:
            stem = Path(file.name).stem
            counts[stem] = counts.get(stem, 0) + file.rows
    return counts


PAIR_FORMATS = [name for name in available_formats() if name != "trl-kto"]


@pytest.mark.parametrize("parquet", [False, True], ids=["jsonl", "parquet"])
@pytest.mark.parametrize("fmt", [*PAIR_FORMATS, "trl-kto"])
def test_load_dataset_gives_the_manifest_splits(
    store: Store, project: str, tmp_path: Path, fmt: str, parquet: bool
) -> None:
    if parquet:
        pytest.importorskip("pyarrow")
    append_all(store, events(), project)
    out = tmp_path / "out"
    extra: dict[str, Any] = {"unpaired_from_pairs": True} if fmt == "trl-kto" else {}
    manifest, _ = compile_rows(store, project, out, fmt, test_fraction=0.4, parquet=parquet, **extra)
    expected = declared_splits(manifest.files)
    assert sorted(expected) == ["test", "train"], manifest.counts_out  # the fixture fills both
    loaded = load(out, tmp_path)
    assert {split: len(ds) for split, ds in loaded.items()} == expected
    columns = set(loaded["train"].column_names)
    assert "files" not in columns and "watermark" not in columns  # manifest.json was not read as data
    text = (out / "README.md").read_text(encoding="utf-8")
    assert text.startswith("---\nconfigs:\n- config_name: default\n")


def test_an_empty_split_is_left_out(store: Store, project: str, tmp_path: Path) -> None:
    append_all(store, events(2), project)
    out = tmp_path / "out"
    manifest, _ = compile_rows(store, project, out, "trl", test_fraction=0.01)
    assert {f.name: f.rows for f in manifest.files} == {"test.jsonl": 0, "train.jsonl": 2}
    assert {split: len(ds) for split, ds in load(out, tmp_path).items()} == {"train": 2}
    assert "test.jsonl is empty, so not listed" in (out / "README.md").read_text(encoding="utf-8")


def test_per_user_configs(store: Store, project: str, tmp_path: Path) -> None:
    append_all(store, events(), project)
    out = tmp_path / "out"
    manifest, _ = compile_rows(store, project, out, "trl", test_fraction=0.4, group_by="user")
    groups = sorted({Path(f.name).parent.name for f in manifest.files})
    assert groups == ["_no_user", "alice%40example.com", "bob"]
    everyone = load(out, tmp_path)
    assert {split: len(ds) for split, ds in everyone.items()} == declared_splits(manifest.files)
    datasets = pytest.importorskip("datasets")
    names = datasets.get_dataset_config_names(str(out))
    assert sorted(names) == ["default"] + [f"user-{g}" for g in groups]
    for group in groups:
        alone = load(out, tmp_path, f"user-{group}")
        expected = declared_splits(manifest.files, prefix=f"users/{group}/")
        assert {split: len(ds) for split, ds in alone.items()} == expected


def test_scalar_quotes_what_yaml_would_misread() -> None:
    assert card.scalar("users/bob/train.jsonl") == "users/bob/train.jsonl"
    assert card.scalar("user-yes") == "user-yes"
    for risky in ("yes", "Off", "null", "a: b", "#x", "-x", "a b", "é"):
        assert card.scalar(risky).startswith('"'), risky
