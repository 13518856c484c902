"""The DuckDB engine's lines written on a second thread (preflog.formats.encoded.write_chunks):
the file holds the chunks in order and the sha256 is the file's; an error of the writer or of the
producer reaches the caller, and the writer stops."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from preflog.formats.encoded import Chunk, write_chunks


def test_the_chunks_are_written_in_order_and_hashed_as_the_file_is(tmp_path: Path) -> None:
    chunks: list[tuple[Chunk, int]] = [(b'{"a":1}\n' * 3, 3), (memoryview(b'{"a":2}\n'), 1), (b"", 0)] * 50
    path = tmp_path / "train.jsonl"
    rows, sha256 = write_chunks(path, chunks)
    data = path.read_bytes()
    assert rows == 200 and data == b"".join(bytes(c) for c, _ in chunks)
    assert sha256 == hashlib.sha256(data).hexdigest()


def test_a_writer_that_cannot_open_its_file_raises_in_the_caller(tmp_path: Path) -> None:
    chunks = ((b"x\n", 1) for _ in range(1000))
    with pytest.raises(FileNotFoundError):
        write_chunks(tmp_path / "missing" / "train.jsonl", chunks)


def test_a_failing_producer_stops_the_writer_and_its_error_is_raised(tmp_path: Path) -> None:
    def chunks() -> Iterator[tuple[Chunk, int]]:
        yield b"one\n", 1
        raise RuntimeError("the final rows came back out of order")

    with pytest.raises(RuntimeError, match="out of order"):
        write_chunks(tmp_path / "train.jsonl", chunks())
    assert (tmp_path / "train.jsonl").read_bytes() == b"one\n"
