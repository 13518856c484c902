"""Judges run by preflog over the log: reward models score candidates (``score_log``) and LLM
judges label pairs against written principles (``judge_log``). Both write ordinary ``score`` and
``preference`` events with ids derived from what was judged, so every rerun is idempotent.
See docs/judges.md."""

from preflog.judges.judge import ChatJudge, JudgeReport, judge_log, read_verdict
from preflog.judges.score import ScoreReport, score_log
from preflog.judges.scorers import EndpointScorer, RewardModelScorer, Scorer

__all__ = [
    "ChatJudge",
    "EndpointScorer",
    "JudgeReport",
    "RewardModelScorer",
    "ScoreReport",
    "Scorer",
    "judge_log",
    "read_verdict",
    "score_log",
]
