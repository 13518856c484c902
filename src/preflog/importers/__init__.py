"""Importers: public preference data sets → preflog events, idempotently.

``import_file(store, "arena", "battles.jsonl", project="p")`` reads a file in one of
:data:`IMPORTERS` (``arena``, ``trl``, ``hh-rlhf``, ``ultrafeedback``), turns each row into events
with that format's pure converter (one row in, its events out) and appends them, answering an
:class:`ImportReport`. Event and request ids are UUID version 5 over the row's content, so importing
twice adds nothing. :func:`~preflog.importers.llmfao.llmfao_to_arena_rows` turns the LLMFAO crowd
data into arena rows.
"""

from __future__ import annotations

from preflog.importers.base import DEFAULT_OCCURRED_AT, ImportOptions
from preflog.importers.run import IMPORTERS, ImportReport, RowProblem, convert_row, import_file, iter_rows

__all__ = [
    "DEFAULT_OCCURRED_AT",
    "IMPORTERS",
    "ImportOptions",
    "ImportReport",
    "RowProblem",
    "convert_row",
    "import_file",
    "iter_rows",
]
