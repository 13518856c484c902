"""The format-module interface and the shared file I/O.

A format is a :class:`FormatSpec` registered in :data:`FORMATS` by its module at import time
(``register_format(FormatSpec(...))``). It turns compile records into rows and, where the format
allows, rows back into records:

- ``kind``: ``"pairs"`` (consumes :class:`~preflog.records.Pair`) or ``"unpaired"``
  (consumes :class:`~preflog.records.Unpaired`);
- ``write_rows(items)``: one row (a plain dict with explicit keys, one type per column across the
  file) per item, in the order given. It receives the whole sequence of one output file so that it
  may pick a file-wide shape first (e.g. TRL conversational vs standard) and then map each item
  with a pure one-row function;
- ``read_rows(rows)`` (optional): records back from rows, for import and round-trip tests;
- ``extra_files(files)`` (optional): side files written next to the data, e.g. LLaMA-Factory's
  ``dataset_info.json``; gets the data files written and returns ``{file name: text}``;
- ``carries``: which of :data:`preflog.records.FEATURES` (tool calls, continuations, refusals) the
  format writes faithfully. Compile never hands a writer an item needing anything else: it drops
  the item first, counted as ``unsupported_<feature>``. A writer of a format that carries nothing
  only ever sees text replies and plain ``{role, content}`` prompts;
- ``refuses(prompt, system)`` (optional): the drop reason (``unsupported_...``) when the format
  cannot take an item with this prompt (OpenAI and Vertex take prompts ending with a user turn),
  else None. Compile drops and counts such items before the writer sees them.

Writing JSONL (the default) or Parquet is done once, here (:func:`write_rows_file`), never per
format: JSONL is UTF-8, one compact JSON object per line in the writer's key order; Parquet goes
through pyarrow (the ``compile`` extra).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, TypeAlias

from preflog.errors import ConfigError
from preflog.formats.encoded import Chunk, write_chunks
from preflog.records import FEATURES, Prompt, Reply

ItemKind: TypeAlias = Literal["pairs", "unpaired"]
Row: TypeAlias = dict[str, Any]


@dataclass(frozen=True)
class DataFile:
    """One file written: its name relative to the output directory, row count, size and SHA-256."""

    name: str
    rows: int
    bytes: int
    sha256: str

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "rows": self.rows, "bytes": self.bytes, "sha256": self.sha256}


@dataclass(frozen=True)
class FormatSpec:
    """A registered output format (see the module docstring)."""

    name: str
    kind: ItemKind
    write_rows: Callable[[Sequence[Any]], Iterator[Row]]
    read_rows: Callable[[Iterable[Row]], Iterator[Any]] | None = None
    description: str = ""
    extra_files: Callable[[Sequence[DataFile]], dict[str, str]] | None = None
    carries: frozenset[str] = frozenset()
    refuses: Callable[[Prompt, str | None], str | None] | None = None


#: Every format registered so far, by name. Use :func:`preflog.formats.get_format`, which imports
#: the format modules first.
FORMATS: dict[str, FormatSpec] = {}


def register_format(spec: FormatSpec) -> FormatSpec:
    """Add ``spec`` to :data:`FORMATS` (a module calls this at import time)."""
    if spec.kind not in ("pairs", "unpaired"):
        raise ValueError(f"format {spec.name!r}: kind must be 'pairs' or 'unpaired', got {spec.kind!r}")
    unknown = spec.carries - set(FEATURES)
    if unknown:
        raise ValueError(f"format {spec.name!r}: carries unknown features {sorted(unknown)}")
    FORMATS[spec.name] = spec
    return spec


def text_reply(reply: Reply, fmt: str) -> str:
    """A reply a text-only format can write; compile drops the others before they get here."""
    if not isinstance(reply, str):
        raise ValueError(f"{fmt}: holds text replies only, not chat messages (compile drops those)")
    return reply


# ---------------------------------------------------------------------------------------------- file I/O


def data_file_name(stem: str, *, parquet: bool = False) -> str:
    """``train`` → ``train.jsonl`` (or ``train.parquet``)."""
    return f"{stem}.parquet" if parquet else f"{stem}.jsonl"


_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False)

try:  # the server extra installs orjson; its output is used only where it equals the stdlib's
    import orjson as _orjson
except ImportError:  # pragma: no cover - exercised where orjson is absent
    _orjson = None  # type: ignore[assignment]


def _plain(value: Any) -> bool:
    """Whether ``value`` holds only strings, bools, ints, None, lists and dicts — the values orjson
    writes byte for byte as the standard library does (floats are not: ``1e-6`` against ``1e-06``).

    >>> _plain({"prompt": [{"role": "user", "content": "hi"}], "label": True}), _plain({"margin": 0.5})
    (True, False)
    """
    t = type(value)
    if t is str or t is bool or t is int or value is None:
        return True
    if t is list:
        return all(map(_plain, value))
    if t is dict:
        return all(map(_plain, value.values()))
    return False


def json_line(row: Row) -> bytes:
    """One JSONL line: compact, UTF-8, keys in the writer's order, no NaN. The same bytes with or
    without orjson, which writes the rows without floats about ten times faster.

    >>> json_line({"prompt": "2+2?", "chosen": "4", "margin": 1e-06})
    b'{"prompt":"2+2?","chosen":"4","margin":1e-06}\\n'
    """
    if _orjson is not None and _plain(row):
        try:
            return _orjson.dumps(row, option=_orjson.OPT_APPEND_NEWLINE)
        except TypeError:
            pass  # a non-string key, an int beyond 64 bits, a lone surrogate: as the stdlib does
    return (_ENCODER.encode(row) + "\n").encode("utf-8")


class EncodedRows(Iterator[Row]):
    """A format's rows that may arrive already encoded: :func:`write_rows_file` writes the JSON
    lines ``chunks()`` gives (byte chunks, each with its row count; :func:`preflog.formats.columnar.spliced`
    makes them) as they are; iterating gives the rows from ``rows()`` (the Parquet writer, anyone
    else). Both must be the same rows: ``json_line`` of each row is its line."""

    def __init__(
        self, chunks: Callable[[], Iterator[tuple[Chunk, int]]], rows: Callable[[], Iterator[Row]]
    ) -> None:
        self.chunks = chunks
        self._rows = rows
        self._iterator: Iterator[Row] | None = None

    def __next__(self) -> Row:
        if self._iterator is None:
            self._iterator = self._rows()
        return next(self._iterator)


def write_rows_file(path: Path, rows: Iterable[Row], *, parquet: bool = False) -> DataFile:
    """Write ``rows`` to ``path`` as JSONL or Parquet; answer its :class:`DataFile` (name = file name)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if parquet:
        count = _write_parquet(path, rows)
    elif isinstance(rows, EncodedRows):
        count, sha256 = write_chunks(path, rows.chunks())  # hashed as written
        return DataFile(path.name, count, path.stat().st_size, sha256)
    else:
        count = 0
        with path.open("wb") as fh:
            buffer: list[bytes] = []
            for row in rows:
                buffer.append(json_line(row))
                count += 1
                if len(buffer) >= 4096:
                    fh.write(b"".join(buffer))
                    buffer.clear()
            fh.write(b"".join(buffer))
    return DataFile(path.name, count, path.stat().st_size, sha256_file(path))


def _write_parquet(path: Path, rows: Iterable[Row]) -> int:
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError as exc:
        raise ConfigError(f"parquet: needs pyarrow: pip install 'preflog[compile]' ({exc})") from exc
    materialized = list(rows)
    # Table.from_pylist takes its columns from the first row only: a key the first row leaves out
    # (vertex's system_instruction, arena's tstamp) would vanish from the whole file. Every key of
    # any row is a column; the rows without it hold null there.
    columns = list(dict.fromkeys(key for row in materialized for key in row))
    table = pa.Table.from_pydict({key: [row.get(key) for row in materialized] for key in columns})
    pq.write_table(table, path, compression="zstd")
    return len(materialized)


def read_rows_file(path: Path) -> Iterator[Row]:
    """The rows of a JSONL or Parquet file written by :func:`write_rows_file` (or by anyone else)."""
    if path.suffix == ".parquet":
        try:
            import pyarrow.parquet as pq
        except ImportError as exc:
            raise ConfigError(f"Parquet needs pyarrow: pip install 'preflog[compile]' ({exc})") from exc
        yield from pq.read_table(path).to_pylist()
        return
    with path.open("r", encoding="utf-8") as fh:
        for number, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise ConfigError(f"{path}:{number}: not JSON ({exc})") from exc
            if not isinstance(row, dict):
                raise ConfigError(f"{path}:{number}: a row must be a JSON object")
            yield row


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


__all__ = [
    "FORMATS",
    "DataFile",
    "FormatSpec",
    "ItemKind",
    "Row",
    "data_file_name",
    "json_line",
    "read_rows_file",
    "register_format",
    "sha256_file",
    "text_reply",
    "write_rows_file",
]
