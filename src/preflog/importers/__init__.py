"""Importers: public preference data sets → preflog events, idempotently.

``import_file(store, "arena", "battles.jsonl", project="p")`` reads a file in one of
:data:`IMPORTERS` (``arena``, ``trl``, ``hh-rlhf``, ``ultrafeedback``), turns each row into events
with that format's pure converter (one row in, its events out) and appends them, answering an
:class:`ImportReport`. Event and request ids are UUID version 5 over the row's content, so importing
twice adds nothing. :func:`~preflog.importers.llmfao.llmfao_to_arena_rows` turns the LLMFAO crowd
data into arena rows.

``import_files(store, "langfuse", [observations, scores], project="p")`` imports the exports of the
tools users migrate from (:data:`TOOL_IMPORTERS`: ``langfuse``, ``langsmith``, ``label-studio``,
``openai-stored``), whose rows refer to each other across files; ids derive from the tools' own.
"""

from __future__ import annotations

from preflog.importers.base import DEFAULT_OCCURRED_AT, ImportOptions
from preflog.importers.run import IMPORTERS, ImportReport, RowProblem, convert_row, import_file, iter_rows
from preflog.importers.tools import TOOL_IMPORTERS, import_files

__all__ = [
    "DEFAULT_OCCURRED_AT",
    "IMPORTERS",
    "TOOL_IMPORTERS",
    "ImportOptions",
    "ImportReport",
    "RowProblem",
    "convert_row",
    "import_file",
    "import_files",
    "iter_rows",
]
