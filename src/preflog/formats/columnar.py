"""Standard rows of plain strings already encoded as whole JSON lines, column-wise: the DuckDB
engine makes each ``trl`` row's line in SQL (:mod:`preflog.engines.sql_lines`, exact but for a few
rows it flags), and :func:`spliced` gives the file's bytes as views of those lines with each
flagged row's own :func:`preflog.formats.base.json_line` in its place — a million rows written
without a Python object per row (the row-by-row writer was ~8 s of a 1M compile).
"""

from __future__ import annotations

from collections.abc import Sequence

import pyarrow as pa

from preflog.formats.base import json_line
from preflog.formats.encoded import Chunk


def spliced(
    lines: pa.Array, rare: list[int], keys: Sequence[str], columns: Sequence[pa.Array]
) -> list[Chunk]:
    """``lines`` (a string array of whole lines) as runs of joined bytes (views of its data, no
    copy), with each rare row's own json_line, of ``{keys: columns[...][row]}``, in its place."""
    _, offset_buffer, data = lines.buffers()
    offsets = memoryview(offset_buffer).cast("i" if lines.type == pa.string() else "q")[lines.offset :]
    out: list[Chunk] = []
    start = 0
    for index in [*rare, len(lines)]:
        if index > start:
            out.append(memoryview(data[offsets[start] : offsets[index]]))
        if index < len(lines):
            out.append(json_line({k: c[index].as_py() for k, c in zip(keys, columns, strict=True)}))
        start = index + 1
    return out


__all__ = ["spliced"]
