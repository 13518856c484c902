"""Progress bars on a terminal for the library's progress updates (:mod:`preflog.progress`).

:class:`TerminalProgress` is a :data:`~preflog.progress.ProgressCallback`: one tqdm bar per stage
on stderr, with the count, the total and a bar when the total is known, and the rate. It draws
only when stderr is a terminal and ``CI`` is not set, so a pipe, a log file or a CI run gets the
summary alone. tqdm comes with the ``cli`` extra (installed by ``make run`` and ``make test``);
without it there is no bar and nothing else changes.
"""

from __future__ import annotations

import os
import sys
from types import TracebackType
from typing import Any

from preflog.progress import ProgressUpdate

__all__ = ["TerminalProgress", "progress_wanted"]

# Redraw at most 10 times a second: enough to look alive, too seldom to cost anything measurable.
MIN_INTERVAL_S = 0.1
KNOWN = "{desc}: {done}{of}{pct} |{bar:24}| {speed}{elapsed}<{remaining}"
UNKNOWN = "{desc}: {done} {unit} · {speed}{elapsed}"


def progress_wanted() -> bool:
    """A terminal on stderr and not under CI (``CI=true``, as CI services set it)."""
    in_ci = os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")
    try:
        return sys.stderr.isatty() and not in_ci
    except (AttributeError, ValueError):  # a closed or replaced stderr
        return False


def _bar_class() -> Any:
    try:
        from tqdm import tqdm
    except ImportError:  # no cli extra: no bars
        return None

    class Bar(tqdm):  # type: ignore[misc]  # tqdm ships no type hints
        """A tqdm bar whose numbers have thousands separators and whose rate names its unit."""

        @property
        def format_dict(self) -> dict[str, Any]:
            d: dict[str, Any] = super().format_dict
            d["ncols"] = d["ncols"] or None  # a terminal of unknown width reports 0: do not trim to nothing
            n, total, rate = d["n"], d["total"], d["rate"]
            if rate is None and d["elapsed"]:
                rate = (n - d["initial"]) / d["elapsed"]
            d["done"] = f"{n:,}"
            d["of"] = f" of {total:,}" if total else ""
            d["pct"] = f" ({100 * n // total}%)" if total else ""
            d["speed"] = f"{rate:,.0f} {d['unit']}/s · " if rate else ""
            return d

    return Bar


class TerminalProgress:
    """Draw each stage of a library call as a bar on stderr; ``label`` names the command.

    ``enabled`` defaults to :func:`progress_wanted`. Use it as a context manager, or call
    :meth:`close`, so the last bar is cleared before the summary is printed."""

    def __init__(self, label: str, *, enabled: bool | None = None) -> None:
        self.label = label
        self.enabled = progress_wanted() if enabled is None else enabled
        self._cls = _bar_class() if self.enabled else None
        self._bar: Any = None
        self._stage: str | None = None

    def __call__(self, update: ProgressUpdate) -> None:
        if self._cls is None:
            return
        if update.stage != self._stage or self._bar is None:
            self.close()
            self._stage = update.stage
            self._bar = self._cls(
                desc=f"{self.label} · {update.stage}" if update.stage else self.label,
                total=update.total,
                unit=update.unit,
                file=sys.stderr,
                leave=False,
                mininterval=MIN_INTERVAL_S,
                bar_format=KNOWN if update.total else UNKNOWN,
                dynamic_ncols=True,
            )
        bar = self._bar
        if update.total != bar.total:
            bar.total = update.total
            bar.bar_format = KNOWN if update.total else UNKNOWN
        bar.update(update.done - bar.n)

    def refresh(self) -> None:
        if self._bar is not None:
            self._bar.refresh()

    def close(self) -> None:
        """Draw the stage's last count (a short stage may not have been drawn yet), then clear it."""
        if self._bar is not None:
            self._bar.refresh()
            self._bar.close()
            self._bar = None

    def __enter__(self) -> TerminalProgress:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
