"""Importer tests run on a real SQLite file in the test's temporary directory."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest

from preflog.store import Store, open_store

PROJECT = "imports"


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    opened = open_store(str(tmp_path / "events.db"))
    yield opened
    opened.close()


def write_jsonl(path: Path, rows: Iterable[Any]) -> Path:
    """Rows as JSONL; a ``str`` row is written as the raw line (to test bad input)."""
    with path.open("w", encoding="utf-8") as fh:
        for row in rows:
            fh.write((row if isinstance(row, str) else json.dumps(row)) + "\n")
    return path


def events_of(store: Store, etype: str | None = None) -> list[dict[str, Any]]:
    types = [etype] if etype else None
    return [e.event for e in store.iter_events(project=PROJECT, types=types)]
