"""``score_log``: score every logged candidate that this scorer version has not scored yet.

The run reads the project's inferences in log order, skips the candidates already scored by this
scorer name and version (and erased requests), scores the rest in batches and appends one score
event per candidate, a batch per append (atomic: a batch that fails is written not at all). Event
ids derive from (request, candidate, scorer name, version), so a rerun, a crash and a resume, or
two runners racing store each score once. ``follow=True`` keeps tailing the log for new
inferences until ``stop`` is set.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from preflog.errors import PreflogError
from preflog.events import now
from preflog.judges.inputs import derived_id, iter_inferences, scored_by
from preflog.judges.scorers import ScoreInput, Scorer
from preflog.progress import ProgressCallback
from preflog.progress import report as report_progress
from preflog.store import Store


@dataclass
class ScoreReport:
    scorer: dict[str, str]
    scored: int = 0  # score events stored by this run
    skipped: int = 0  # candidates already scored by this version (before or by a racing run)
    erased: int = 0  # candidates of erased requests, never scored
    batches: int = 0
    last_position: int = 0  # the last inference position looked at
    errors: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors

    def to_dict(self) -> dict[str, Any]:
        return {**self.__dict__, "ok": self.ok}


def _pending(
    store: Store, project: str, after: int, done: set[tuple[str, str]], report: ScoreReport
) -> Iterator[ScoreInput]:
    for view in iter_inferences(store, project=project, after=after):
        report.last_position = view.position
        for cand in view.candidates:
            key = (view.request_id, cand.candidate_id)
            if view.erased:
                report.erased += 1
            elif key in done:
                report.skipped += 1
            else:
                done.add(key)
                yield ScoreInput(view, cand)


def _event(item: ScoreInput, value: float, scorer: Scorer, criterion: str | None) -> dict[str, Any]:
    key = (item.inference.request_id, item.candidate.candidate_id, scorer.name, scorer.version)
    event: dict[str, Any] = {
        "event_id": derived_id("score", *key),
        "type": "score",
        "request_id": item.inference.request_id,
        "candidate_id": item.candidate.candidate_id,
        "occurred_at": now(),
        "score": value,
        "scorer": {"name": scorer.name, "version": scorer.version, "kind": "reward_model"},
    }
    if criterion:
        event["criterion"] = criterion
    return event


def _write(
    store: Store,
    project: str,
    batch: list[ScoreInput],
    scorer: Scorer,
    criterion: str | None,
    report: ScoreReport,
) -> None:
    values = scorer.score(batch)
    events = [_event(item, value, scorer, criterion) for item, value in zip(batch, values, strict=True)]
    results = store.append(events, project=project)
    for result in results:
        if result.status == "stored":
            report.scored += 1
        elif result.status in ("duplicate", "conflict"):  # a racing run scored it first
            report.skipped += 1
        else:
            report.errors.append(f"{result.event_id}: {result.field}: {result.reason}")
    report.batches += 1


def _run_once(
    store: Store,
    project: str,
    scorer: Scorer,
    done: set[tuple[str, str]],
    report: ScoreReport,
    *,
    batch_size: int,
    criterion: str | None,
    progress: ProgressCallback | None,
) -> bool:
    """Score what is pending after ``report.last_position``; False when a batch failed."""
    batch: list[ScoreInput] = []
    for item in _pending(store, project, report.last_position, done, report):
        batch.append(item)
        if len(batch) >= batch_size:
            if not _attempt(store, project, batch, scorer, criterion, report):
                return False
            report_progress(progress, "scoring candidates", report.scored, unit="candidates")
            batch = []
    return not batch or _attempt(store, project, batch, scorer, criterion, report)


def _attempt(
    store: Store,
    project: str,
    batch: list[ScoreInput],
    scorer: Scorer,
    criterion: str | None,
    report: ScoreReport,
) -> bool:
    try:
        _write(store, project, batch, scorer, criterion, report)
    except PreflogError as exc:  # the endpoint gave up, or the store refused: stop, report
        first = batch[0]
        report.errors.append(
            f"batch from request {first.inference.request_id} (position {first.inference.position}): {exc}"
        )
        return False
    return True


def score_log(
    store: Store,
    *,
    project: str,
    scorer: Scorer,
    batch_size: int = 16,
    criterion: str | None = None,
    after: int = 0,
    follow: bool = False,
    poll_s: float = 1.0,
    stop: threading.Event | None = None,
    progress: ProgressCallback | None = None,
) -> ScoreReport:
    """Score the pending candidates of ``project`` (see the module docstring) and report."""
    report = ScoreReport(scorer={"name": scorer.name, "version": scorer.version}, last_position=after)
    done = scored_by(store, project=project, name=scorer.name, version=scorer.version)
    stop = stop or threading.Event()
    while True:
        ok = _run_once(
            store,
            project,
            scorer,
            done,
            report,
            batch_size=batch_size,
            criterion=criterion,
            progress=progress,
        )
        if not ok or not follow or stop.wait(poll_s):
            return report
