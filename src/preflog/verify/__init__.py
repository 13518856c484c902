"""``preflog verify``: prove a compiled dataset is accepted by the trainers it is meant for, before
anyone spends GPU hours on it. Nothing is downloaded; the template checks and the trainer steps need
the ``verify`` extra.

- :mod:`~preflog.verify.run` — :func:`verify_dataset`, the one call;
- :mod:`~preflog.verify.schemas` (and :mod:`~preflog.verify.layouts`) — every row against the keys
  its trainer reads;
- :mod:`~preflog.verify.views`, :mod:`~preflog.verify.encode`, :mod:`~preflog.verify.checks` — every
  row rendered with a local tokenizer's chat template the way each trainer encodes it, and the
  checks on the tokens;
- :mod:`~preflog.verify.trainers` — a few optimizer steps of the real TRL trainers on a tiny model;
- :mod:`~preflog.verify.report` — what it answers.
"""

from __future__ import annotations

from preflog.verify.report import CheckResult, RowFailure, TrainerResult, VerifyReport, render_text
from preflog.verify.run import DEFAULT_MAX_LENGTH, load_tokenizer, verify_dataset
from preflog.verify.trainers import DEFAULT_TRAINERS, TRAINERS, build_model, build_tokenizer

__all__ = [
    "DEFAULT_MAX_LENGTH",
    "DEFAULT_TRAINERS",
    "TRAINERS",
    "CheckResult",
    "RowFailure",
    "TrainerResult",
    "VerifyReport",
    "build_model",
    "build_tokenizer",
    "load_tokenizer",
    "render_text",
    "verify_dataset",
]
