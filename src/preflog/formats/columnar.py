"""Standard rows of plain strings written a column at a time: :func:`text_lines` gives, for Arrow
string columns, exactly the bytes :func:`preflog.formats.base.json_line` writes for the rows
``{keys[0]: columns[0][i], ...}`` — the DuckDB engine's SQL path writes a million ``trl`` rows
this way without a Python object per row (the row-by-row writer was ~8 s of a 1M compile).

JSON escapes in a string, as the standard library writes them with ``ensure_ascii=False`` (and
orjson, where :func:`json_line` uses it): ``"`` and ``\\``, the short forms ``\\n``, ``\\r``,
``\\t``, ``\\b``, ``\\f``, and ``\\u00XX`` for the other control characters; nothing else
(non-ASCII, ``\\u2028``, DEL and emoji stay as they are). The five most common are replaced
column-wide; a row holding any other control character is written by :func:`json_line` itself.
Arrow strings are valid UTF-8, so no lone surrogate reaches here.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Final

import pyarrow as pa
import pyarrow.compute as pc

from preflog.formats.base import json_line
from preflog.formats.encoded import Chunk

# Replaced column-wide, in this order (the backslash first, so no escape is escaped twice).
ESCAPES: Final = (("\\", "\\\\"), ('"', '\\"'), ("\n", "\\n"), ("\r", "\\r"), ("\t", "\\t"))
# The control characters left to json_line: rare in real texts (none in the 1M bench's).
RARE: Final = "[\\x00-\\x08\\x0b\\x0c\\x0e-\\x1f]"


def text_lines(keys: Sequence[str], columns: Sequence[pa.Array]) -> list[Chunk]:
    """The JSON lines of the rows of ``columns`` (non-null strings, one per key), as byte chunks
    to write one after another."""
    count = len(columns[0]) if columns else 0
    if count == 0:
        return []
    if any(c.null_count for c in columns):
        raise ValueError("text_lines: a column holds a null; only plain strings are written here")
    rare = pc.match_substring_regex(columns[0], RARE)
    pieces: list[pa.Array | str] = []
    for i, (key, column) in enumerate(zip(keys, columns, strict=True)):
        if i:
            rare = pc.or_(rare, pc.match_substring_regex(column, RARE))
        pieces.append(("{" if i == 0 else '",') + json.dumps(key, ensure_ascii=False) + ':"')
        for plain, escaped in ESCAPES:
            column = pc.replace_substring(column, plain, escaped)
        pieces.append(column)
    pieces.append('"}\n')
    lines = pc.binary_join_element_wise(*pieces, "")
    return spliced(lines, pc.indices_nonzero(rare).to_pylist(), keys, columns)


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


__all__ = ["spliced", "text_lines"]
