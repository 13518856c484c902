"""Texts parked on disk between the join and the write, so a compile holds ids and digests in
memory, not a million outputs. A :class:`TextSpill` is an append-only temporary file of UTF-8
texts (or JSON values) addressed by index; :class:`LazyRecords` is the sequence of records handed
to a format writer, each built from its draft and the spill only when the writer reaches it."""

from __future__ import annotations

import json
import marshal
import os
import tempfile
from array import array
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, overload

from preflog.records import Pair, Record, Unpaired

NO_TEXT = -1
_SPAN_LIMIT = 1 << 16  # read an item's entries in one call when they lie within 64 KiB


class TextSpill:
    """Append texts, get them back by index. Not thread-safe; one per compile."""

    def __init__(self) -> None:
        # open for the life of the spill, closed by close()
        self._file = tempfile.TemporaryFile(prefix="preflog-compile-")  # noqa: SIM115
        self._ends = array("q")
        self._json = bytearray()  # 1 where the entry is a JSON value, 2 a marshalled tuple
        self.refs = array("q")  # the spill indexes of each draft's texts and fields, five per draft
        self._size = 0
        self._buffer: list[bytes] = []
        self._buffered = 0

    def add(self, value: str) -> int:
        return self._add(value.encode("utf-8"), 0)

    def add_meta(self, fields: tuple[Any, ...]) -> int:
        """A tuple of plain values (str, int, float, bool, None, tuples of them)."""
        return self._add(marshal.dumps(fields), 2)

    def add_refs(self, *indexes: int) -> int:
        """Store a draft's five spill indexes; answer where they start in :attr:`refs`."""
        at = len(self.refs)
        self.refs.extend(indexes)
        return at

    def add_json(self, value: Any) -> int:
        return self._add(json.dumps(value, ensure_ascii=False, sort_keys=True).encode("utf-8"), 1)

    def _add(self, data: bytes, is_json: int) -> int:
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
        self._file.flush()  # down to the OS, where os.pread reads
        self._buffer.clear()
        self._buffered = 0

    def get(self, index: int) -> Any:
        return self.get_many((index,))[0]

    def get_many(self, indexes: Sequence[int]) -> list[Any]:
        """Several entries with one read of the span they lie in (an item's texts and fields are
        written together, so they usually lie side by side). Reads go through ``os.pread``, not
        a memory map: texts read back never count as this process's resident memory."""
        if self._buffer:
            self._flush()
        ends = self._ends
        starts = [ends[i - 1] if i else 0 for i in indexes]
        low, high = min(starts), max(ends[i] for i in indexes)
        if high - low <= _SPAN_LIMIT:
            data = os.pread(self._file.fileno(), high - low, low)
            parts = [data[a - low : ends[i] - low] for a, i in zip(starts, indexes, strict=True)]
        else:
            fd = self._file.fileno()
            parts = [os.pread(fd, ends[i] - a, a) for a, i in zip(starts, indexes, strict=True)]
        return [self._decode(part, self._json[i]) for part, i in zip(parts, indexes, strict=True)]

    @staticmethod
    def _decode(data: bytes, kind: int) -> Any:
        if kind == 2:
            return marshal.loads(data)
        text = data.decode("utf-8")
        return json.loads(text) if kind == 1 else text

    def is_json(self, index: int) -> bool:
        return self._json[index] == 1

    @property
    def size(self) -> int:
        return self._size

    def close(self) -> None:
        self._file.close()


@dataclass(slots=True)
class Draft:
    """One output item before its texts are read back: only what deduplication, sampling, the
    split and the output order need stays in memory. Its texts and the rest of its record are in
    the spill, at the indexes ``refs`` points to in :attr:`TextSpill.refs`: prompt, system (or
    ``NO_TEXT``), chosen and rejected (or the completion and ``NO_TEXT``), then the record's other
    fields (a marshalled tuple)."""

    key: str  # output order: inference time, request id, candidate ids
    refs: int
    prompt_key: bytes  # digest of the normalized prompt: split and per-prompt caps
    triple: bytes  # digest of (prompt, system, texts...): deduplication
    user_id: str | None
    margin: float | None
    chosen_first: bool | None
    latest: int  # the position at which this item's join became possible (incremental compile)
    length_sign: int  # chosen longer than rejected: 1, shorter: -1, same: 0


def materialize(draft: Draft, spill: TextSpill, kind: str) -> Record:
    """The draft's record with its texts, read back from the spill."""
    at = draft.refs
    prompt, system, first, second, meta = spill.refs[at : at + 5]
    if system == NO_TEXT and second == NO_TEXT:
        prompt_value, first_value, meta_value = spill.get_many((prompt, first, meta))
        return Unpaired(prompt_value, None, first_value, *meta_value)
    wanted = (
        [prompt, first, meta]
        + ([second] if second != NO_TEXT else [])
        + ([system] if system != NO_TEXT else [])
    )
    values = spill.get_many(wanted)
    system_value = values[-1] if system != NO_TEXT else None
    if kind == "pairs":
        return Pair(values[0], system_value, values[1], values[3], *values[2])
    return Unpaired(values[0], system_value, values[1], *values[2])


def is_chat(draft: Draft, spill: TextSpill) -> bool:
    """Whether the draft's prompt is chat messages or has a system prompt, or a reply is messages."""
    at = draft.refs
    prompt, system, first, second = spill.refs[at : at + 4]
    if system != NO_TEXT or spill.is_json(prompt) or spill.is_json(first):
        return True
    return second != NO_TEXT and spill.is_json(second)


class LazyRecords(Sequence[Record]):
    """The records of one output file, read from the spill on access (never all at once).
    ``conversational`` tells a writer, without reading texts, whether any prompt is chat messages
    or has a system prompt. ``seen`` is called with each record iterated (for counts)."""

    def __init__(
        self,
        drafts: list[Draft],
        spill: TextSpill,
        kind: str,
        *,
        conversational: bool,
        seen: Callable[[Record], None] | None = None,
    ) -> None:
        self._drafts = drafts
        self._spill = spill
        self._kind = kind
        self._seen = seen
        self.conversational = conversational

    def __len__(self) -> int:
        return len(self._drafts)

    @overload
    def __getitem__(self, index: int) -> Record: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[Record]: ...
    def __getitem__(self, index: int | slice) -> Record | Sequence[Record]:
        if isinstance(index, slice):
            return [materialize(d, self._spill, self._kind) for d in self._drafts[index]]
        return materialize(self._drafts[index], self._spill, self._kind)

    def __iter__(self) -> Iterator[Record]:
        spill, kind, seen = self._spill, self._kind, self._seen
        for draft in self._drafts:
            record = materialize(draft, spill, kind)
            if seen is not None:
                seen(record)
            yield record
