"""Texts parked on disk between the join and the write, so a compile holds ids and digests in
memory, not a million outputs. A :class:`TextSpill` is an append-only temporary file of UTF-8
texts (or JSON values) addressed by index; :class:`LazyRecords` is the sequence of records handed
to a format writer, each built from its draft and the spill only when the writer reaches it."""

from __future__ import annotations

import json
import mmap
import tempfile
from array import array
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, overload

from preflog.compile.records import Pair, Record, Unpaired

NO_TEXT = -1


class TextSpill:
    """Append texts, get them back by index. Not thread-safe; one per compile."""

    def __init__(self) -> None:
        # open for the life of the spill, closed by close()
        self._file = tempfile.TemporaryFile(prefix="preflog-compile-")  # noqa: SIM115
        self._ends = array("q")
        self._json = bytearray()  # 1 where the entry is a JSON value, not a plain string
        self._size = 0
        self._buffer: list[bytes] = []
        self._buffered = 0
        self._map: mmap.mmap | None = None

    def add(self, value: str) -> int:
        return self._add(value.encode("utf-8"), 0)

    def add_json(self, value: Any) -> int:
        return self._add(json.dumps(value, ensure_ascii=False, sort_keys=True).encode("utf-8"), 1)

    def _add(self, data: bytes, is_json: int) -> int:
        if self._map is not None:
            raise RuntimeError("spill is closed for writing")
        self._size += len(data)
        self._ends.append(self._size)
        self._json.append(is_json)
        self._buffer.append(data)
        self._buffered += len(data)
        if self._buffered > 1 << 22:
            self._flush()
        return len(self._ends) - 1

    def _flush(self) -> None:
        self._file.write(b"".join(self._buffer))
        self._buffer.clear()
        self._buffered = 0

    def get(self, index: int) -> Any:
        view = self._map if self._map is not None else self._open()
        ends = self._ends
        text = view[ends[index - 1] if index else 0 : ends[index]].decode("utf-8")
        return json.loads(text) if self._json[index] else text

    def _open(self) -> mmap.mmap:
        """Stop appending; map the file for reading."""
        self._flush()
        self._file.flush()
        if self._size == 0:
            self._file.write(b" ")  # an empty file cannot be mapped
            self._file.flush()
        self._map = mmap.mmap(self._file.fileno(), 0, access=mmap.ACCESS_READ)
        return self._map

    def is_json(self, index: int) -> bool:
        return bool(self._json[index])

    @property
    def size(self) -> int:
        return self._size

    def close(self) -> None:
        if self._map is not None:
            self._map.close()
        self._file.close()


@dataclass(slots=True)
class Draft:
    """One output item before its texts are read back: the record with empty texts, the spill
    indexes of its texts (prompt, system or ``NO_TEXT``, then chosen and rejected or the
    completion), and what the later steps decide on."""

    record: Record
    refs: tuple[int, ...]
    key: tuple[str, ...]  # output order: inference time, request id, candidate ids
    prompt_key: bytes  # digest of the normalized prompt: split and per-prompt caps
    triple: bytes  # digest of (prompt, system, texts...): deduplication
    latest: int  # the position at which this item's join became possible (incremental compile)
    length_sign: int  # chosen longer than rejected: 1, shorter: -1, same: 0


def materialize(draft: Draft, spill: TextSpill) -> Record:
    """The draft's record with its texts."""
    get = spill.get
    refs = draft.refs
    system = get(refs[1]) if refs[1] != NO_TEXT else None
    record = draft.record
    if isinstance(record, Pair):
        return record.with_texts(get(refs[0]), system, get(refs[2]), get(refs[3]))
    return record.with_texts(get(refs[0]), system, get(refs[2]))


class LazyRecords(Sequence[Record]):
    """The records of one output file, read from the spill on access (never all at once).
    ``conversational`` tells a writer, without reading texts, whether any prompt is chat messages
    or has a system prompt."""

    def __init__(self, drafts: list[Draft], spill: TextSpill, *, conversational: bool) -> None:
        self._drafts = drafts
        self._spill = spill
        self.conversational = conversational

    def __len__(self) -> int:
        return len(self._drafts)

    @overload
    def __getitem__(self, index: int) -> Record: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[Record]: ...
    def __getitem__(self, index: int | slice) -> Record | Sequence[Record]:
        if isinstance(index, slice):
            return [materialize(d, self._spill) for d in self._drafts[index]]
        return materialize(self._drafts[index], self._spill)

    def __iter__(self) -> Iterator[Record]:
        for draft in self._drafts:
            yield materialize(draft, self._spill)


def any_conversational(items: Sequence[Pair] | Sequence[Unpaired] | Sequence[Record]) -> bool:
    """Whether any item's prompt is chat messages or carries a system prompt (then a file-wide
    conversational shape is needed). Cheap on :class:`LazyRecords`."""
    hint = getattr(items, "conversational", None)
    if isinstance(hint, bool):
        return hint
    return any(not isinstance(item.prompt, str) or item.system is not None for item in items)
