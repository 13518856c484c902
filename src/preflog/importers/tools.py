"""Importers from the tools users migrate from: ``import_files(store, "langfuse", [paths], ...)``.

:data:`TOOL_IMPORTERS` names each format as ``preflog import`` takes it (``langfuse``,
``langsmith``, ``label-studio``, ``openai-stored``). Their rows refer to each other across files
(scores to generations, feedback to runs, messages to completions), so each is a bundle format
(:mod:`preflog.importers.bundle`) reading every file of one import together. No network: these
read the files the tools' APIs or export buttons produce (docs/importers.md shows how to get them).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Final

from preflog.errors import ConfigError
from preflog.importers.base import ImportOptions
from preflog.importers.bundle import BundleConverter, BundleReport, import_bundle
from preflog.importers.label_studio import label_studio_events
from preflog.importers.langfuse import langfuse_events
from preflog.importers.langsmith import langsmith_events
from preflog.importers.openai_stored import openai_stored_events
from preflog.progress import ProgressCallback
from preflog.store.base import Store

TOOL_IMPORTERS: Final[dict[str, BundleConverter]] = {
    "label-studio": label_studio_events,
    "langfuse": langfuse_events,
    "langsmith": langsmith_events,
    "openai-stored": openai_stored_events,
}


def import_files(
    store: Store,
    format: str,
    paths: Sequence[Path | str],
    *,
    project: str,
    options: ImportOptions | None = None,
    batch_size: int = 1000,
    progress: ProgressCallback | None = None,
) -> BundleReport:
    """Import the files ``paths`` of one export of ``format`` (see :data:`TOOL_IMPORTERS`) into
    ``project``; answer what was read, stored, a duplicate, skipped, rejected or in conflict."""
    converter = TOOL_IMPORTERS.get(format)
    if converter is None:
        raise ConfigError(
            f"unknown tool format {format!r}; choose one of: {', '.join(sorted(TOOL_IMPORTERS))}"
        )
    if not paths:
        raise ConfigError("no files to import")
    return import_bundle(
        store,
        format,
        paths,
        converter,
        project=project,
        options=options,
        batch_size=batch_size,
        progress=progress,
    )
