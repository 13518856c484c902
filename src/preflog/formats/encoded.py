"""Already encoded JSON lines written to their file on a second thread, hashed as they are written
(:func:`write_chunks`): the producer of the lines (the DuckDB engine's final rows, a batch at a
time) goes on while the kernel takes each chunk. Writing 1.15 GB of lines was ~5 s of a 1M
compile's main thread, and reading the file back for its sha256 another ~0.7 s.
"""

from __future__ import annotations

import hashlib
import queue
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import Final, TypeAlias

#: A run of whole JSON lines: bytes, or a view of a buffer holding them (an Arrow array's data).
Chunk: TypeAlias = bytes | memoryview
# Chunks waiting for the writer: ~4 batches of ~20 MB.
WAITING: Final = 4


def write_chunks(path: Path, chunks: Iterable[tuple[Chunk, int]]) -> tuple[int, str]:
    """Write ``chunks`` (each with its row count) to ``path``; answer the rows and the sha256 of
    the file's bytes. An error of the writer or of ``chunks`` is raised here, once the writer
    has stopped."""
    waiting: queue.Queue[Chunk | None] = queue.Queue(WAITING)
    digest = hashlib.sha256()
    failed: list[BaseException] = []

    def write() -> None:
        try:
            with path.open("wb") as fh:
                while (chunk := waiting.get()) is not None:
                    fh.write(chunk)
                    digest.update(chunk)
        except BaseException as exc:  # raised again in the caller's thread
            failed.append(exc)
            while waiting.get() is not None:  # the caller stops at its next chunk
                pass

    writer = threading.Thread(target=write, name="preflog-write", daemon=True)
    writer.start()
    count = 0
    try:
        for chunk, rows in chunks:
            if failed:
                break
            waiting.put(chunk)
            count += rows
    finally:
        waiting.put(None)
        writer.join()
    if failed:
        raise failed[0]
    return count, digest.hexdigest()


__all__ = ["Chunk", "write_chunks"]
