"""Backend-agnostic helpers: append events to any store, compile, read the rows back."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from preflog.compile import CompileOptions, Manifest, compile_dataset
from preflog.store import Store


def append_all(store: Store, events: Sequence[dict[str, Any]], project: str) -> None:
    results = store.append(list(events), project=project)
    bad = [(r.field, r.reason) for r in results if r.status not in ("stored", "duplicate")]
    assert not bad, bad


def compile_rows(
    store: Store, project: str, out: Path, fmt: str = "trl", **options: Any
) -> tuple[Manifest, dict[str, list[dict[str, Any]]]]:
    """Compile and answer the manifest and every data file's rows, by file name."""
    since = options.pop("since_manifest", None)
    manifest = compile_dataset(
        store,
        project=project,
        out_dir=out,
        format=fmt,
        options=CompileOptions(**options),
        since_manifest=since,
    )
    rows = {f.name: read_jsonl(out / f.name) for f in manifest.files if f.name.endswith(".jsonl")}
    return manifest, rows


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


def all_rows(rows: dict[str, list[dict[str, Any]]]) -> list[dict[str, Any]]:
    return [row for name in sorted(rows) for row in rows[name]]


def texts(rows: dict[str, list[dict[str, Any]]]) -> set[tuple[str, str]]:
    """(chosen, rejected) of every standard-form pair row."""
    return {(r["chosen"], r["rejected"]) for r in all_rows(rows)}


def dir_bytes(out: Path) -> dict[str, bytes]:
    """Every file's bytes, by relative name; the manifest's ``created_at`` line blanked (the one
    moment a compile records, fixed only under ``SOURCE_DATE_EPOCH``)."""
    return {p.relative_to(out).as_posix(): _timeless(p) for p in sorted(out.rglob("*")) if p.is_file()}


def _timeless(path: Path) -> bytes:
    data = path.read_bytes()
    if path.name != "manifest.json":
        return data
    return re.sub(rb'\n  "created_at": "[^"]*",\n', b"\n", data, count=1)
