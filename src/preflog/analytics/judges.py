"""Judges against people: each reward model and AI judge, by name and version, next to the humans.

For every judge that is not a person — an AI judge's preferences, a reward model's preferences, and
the scorers of ``score`` events (their battles, :mod:`preflog.analytics.scored`) — one row:

- ``agreement``: the share of items (a request and a candidate pair) with a strict human majority
  on which the judge gives that majority's verdict (the report's agreement, Wilson interval);
- ``longer_wins``: the share of its decisive battles between outputs of different length won by
  the longer one, and the fitted length coefficient (the report's length bias), to hold against
  the humans' own share (``humans``): a judge far above it rewards length, not quality.

This is what closes the loop after ``preflog score`` / ``preflog judge``: a new scorer version
shows here, keyed ``kind:name@version``, as soon as its scores are in the store.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from preflog.analytics.frame import Battles
from preflog.analytics.report import JUDGE_KINDS, LengthBias, agreement, judge_labels, length_row
from preflog.analytics.stats import Proportion


@dataclass(frozen=True)
class JudgeSummary:
    """One judge: who (``judge`` is ``kind:name@version``), from what, and how it compares."""

    judge: str
    kind: str
    name: str
    version: str
    from_scores: bool  # battles derived from score events (else from preference events)
    battles: int
    units: int  # items with a human majority that it judged too
    agreement: Proportion
    length: LengthBias


@dataclass(frozen=True)
class JudgesReport:
    humans: LengthBias  # the human annotators' length bias, the reference
    judges: list[JudgeSummary] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def judges_report(battles: Battles, *, level: float = 0.95) -> JudgesReport:
    """Every non-human judge of ``battles`` against the human majority and the humans' length bias."""
    labels = np.array(judge_labels(battles), dtype=object)
    judge_mask = battles.source_kind.mask(JUDGE_KINDS) | battles.scored
    human = battles.source_kind.mask("human") & ~battles.scored
    agreed = {j.judge: j for j in agreement(battles, level=level).judges}
    rows = []
    for label in sorted(set(labels[judge_mask].tolist())):
        mask = judge_mask & (labels == label)
        k = int(np.flatnonzero(mask)[0])
        found = agreed.get(label)
        rows.append(
            JudgeSummary(
                judge=label,
                kind=battles.source_kind.labels[battles.source_kind.codes[k]],
                name=battles.source_id.labels[battles.source_id.codes[k]],
                version=battles.source_version.labels[battles.source_version.codes[k]],
                from_scores=bool(battles.scored[k]),
                battles=int(mask.sum()),
                units=found.units if found else 0,
                agreement=found.agreement if found else Proportion(0, 0, None, None, None),
                length=length_row(battles, mask, label, None, level),
            )
        )
    return JudgesReport(humans=length_row(battles, human, "human", None, level), judges=rows)
