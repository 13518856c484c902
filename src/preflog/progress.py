"""Progress of long library calls: one callback shape for all of them.

A call that can take minutes — :func:`~preflog.compile.compile_dataset`,
:func:`~preflog.importers.import_file`, :func:`~preflog.ndjson.append_ndjson`,
:func:`~preflog.verify.verify_dataset`, :func:`~preflog.demo.load_demo`, and whatever comes next
(archive, score, judge) — takes ``progress: ProgressCallback | None = None`` and calls it with a
:class:`ProgressUpdate` as its work advances: which ``stage`` it is in, how many ``unit`` are
``done`` (a running total, not an increment) and, when known, the ``total``. The library never
draws anything; the CLI turns updates into a bar on a terminal (``preflog.cli.progress``) and an
application can log them or ignore them. Calls come every few thousand items, never per item,
so a callback may be plain Python.

>>> seen = []
>>> list(counting("abcde", seen.append, "letters", unit="letters", every=2))
['a', 'b', 'c', 'd', 'e']
>>> [(u.done, u.total) for u in seen]
[(2, None), (4, None), (5, None)]
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import TypeAlias, TypeVar

__all__ = ["ProgressCallback", "ProgressUpdate", "counting", "report"]

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class ProgressUpdate:
    """``done`` of ``total`` (None: not known) ``unit`` in ``stage``, e.g. 120,000 events of
    ``"reading events"``. A new ``stage`` starts its count from 0."""

    stage: str
    done: int
    total: int | None = None
    unit: str = "items"


ProgressCallback: TypeAlias = Callable[[ProgressUpdate], None]


def report(
    progress: ProgressCallback | None, stage: str, done: int, total: int | None = None, *, unit: str
) -> None:
    """Call ``progress`` (when there is one) with an update."""
    if progress is not None:
        progress(ProgressUpdate(stage, done, total, unit))


def counting(
    items: Iterable[T],
    progress: ProgressCallback | None,
    stage: str,
    *,
    unit: str,
    total: int | None = None,
    every: int = 1000,
) -> Iterator[T]:
    """Yield ``items`` unchanged, reporting every ``every`` items and once at the end."""
    if progress is None:
        yield from items
        return
    done = 0
    for item in items:
        yield item
        done += 1
        if done % every == 0:
            progress(ProgressUpdate(stage, done, total, unit))
    progress(ProgressUpdate(stage, done, total, unit))
