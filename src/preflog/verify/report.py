"""What ``verify_dataset`` answers: one :class:`TrainerResult` per trainer run, one
:class:`CheckResult` per check (and per target trainer where the answer depends on it), gathered in
a :class:`VerifyReport`. Everything is plain data with a ``to_dict`` for ``--format json``.

A check's ``status`` is ``pass``, ``fail`` (the rows named will break or silently mistrain: exit 1),
``warn`` (worth knowing, training still works: rows truncated) or ``skip`` (does not apply, with
the reason in ``detail``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Final, Literal, TypeAlias

Status: TypeAlias = Literal["pass", "fail", "warn", "skip"]

#: Failing rows listed per check; the count is always exact.
MAX_LISTED: Final = 20


@dataclass
class TrainerResult:
    trainer: str
    ok: bool
    steps: int = 0
    loss: float | None = None
    seconds: float = 0.0
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class RowFailure:
    """One failing row: ``where`` is ``file:line`` (1-based), ``why`` one line."""

    where: str
    why: str

    def to_dict(self) -> dict[str, str]:
        return {"row": self.where, "why": self.why}


@dataclass
class CheckResult:
    """One check over every row: how many it saw, how many failed, the first few of them."""

    check: str
    trainer: str | None = None
    status: Status = "pass"
    rows: int = 0
    failed: int = 0
    detail: str = ""
    examples: list[RowFailure] = field(default_factory=list)

    def add(self, where: str, why: str) -> None:
        self.failed += 1
        if len(self.examples) < MAX_LISTED:
            self.examples.append(RowFailure(where, why))

    @property
    def share(self) -> float:
        return self.failed / self.rows if self.rows else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "check": self.check,
            "trainer": self.trainer,
            "status": self.status,
            "rows": self.rows,
            "failed": self.failed,
            "share": round(self.share, 6),
            "detail": self.detail,
            "examples": [e.to_dict() for e in self.examples],
        }


@dataclass
class VerifyReport:
    path: str
    format: str
    rows: int
    results: list[TrainerResult] = field(default_factory=list)
    checks: list[CheckResult] = field(default_factory=list)
    tokenizer: str | None = None

    @property
    def ok(self) -> bool:
        if not self.results and not self.checks:
            return False
        return all(r.ok for r in self.results) and all(c.status != "fail" for c in self.checks)

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "format": self.format,
            "rows": self.rows,
            "tokenizer": self.tokenizer,
            "ok": self.ok,
            "results": [r.to_dict() for r in self.results],
            "checks": [c.to_dict() for c in self.checks],
        }


def _trainer_line(r: TrainerResult) -> str:
    status = "pass" if r.ok else "FAIL"
    loss = f"loss {r.loss:.4f}" if r.loss is not None else ""
    return f"{r.trainer:7s} {status}  {r.steps} steps  {loss}  {r.seconds:.1f}s  {r.error or ''}".rstrip()


def _check_lines(c: CheckResult, rows_shown: int) -> list[str]:
    status = c.status.upper() if c.status == "fail" else c.status
    counted = f"{c.failed} of {c.rows} rows" if c.status != "skip" else ""
    line = f"{status:4s}  {c.check:24s} {c.trainer or '':28s} {counted:18s} {c.detail}".rstrip()
    shown = c.examples[:rows_shown] if c.status in ("fail", "warn") else []
    more = [f"      ... and {c.failed - len(shown)} more"] if shown and c.failed > len(shown) else []
    return [line] + [f"      {e.where}  {e.why}" for e in shown] + more


def render_text(report: VerifyReport, *, rows_shown: int = 5) -> str:
    """The report for a terminal: one line per trainer run (as before the checks existed), then one
    per check with its first failing rows."""
    lines = [_trainer_line(r) for r in report.results]
    if report.checks:
        source = f", tokenizer {report.tokenizer}" if report.tokenizer else ""
        lines.append(f"checks of {report.rows} {report.format} rows{source}:")
        for check in report.checks:
            lines += ["  " + line for line in _check_lines(check, rows_shown)]
    failed = [
        f"{c.check} ({c.trainer})" if c.trainer else c.check for c in report.checks if c.status == "fail"
    ]
    failed += [f"trainer {r.trainer}" for r in report.results if not r.ok]
    if failed or not report.ok:
        lines.append(f"FAILED: {', '.join(failed) or 'nothing was checked'}")
    else:
        lines.append("ok")
    return "\n".join(lines)


__all__ = [
    "MAX_LISTED",
    "CheckResult",
    "RowFailure",
    "Status",
    "TrainerResult",
    "VerifyReport",
    "render_text",
]
