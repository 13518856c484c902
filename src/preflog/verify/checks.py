"""``check_rows``: every row of a compiled dataset through the schema checks of its format and, with
a tokenizer, through the chat template the way each target trainer encodes it. Each check is
reported with the rows that fail it (see :mod:`preflog.verify.report`):

| check | fails when |
|---|---|
| ``schema`` | a key the trainer reads is missing or mistyped |
| ``roles`` | a role the trainer refuses (axolotl#3217) |
| ``extra_columns`` | columns the trainer does not read: fails for Axolotl (axolotl#2415), warns elsewhere |
| ``template`` | the chat template raises on the row |
| ``dropped_turns`` | a turn's text is missing from the rendering (the template skips that role) |
| ``prompt_in_completion`` | the completion repeats the prompt (OpenRLHF#909, TRL#1541, TRL#1752) |
| ``prompt_not_prefix`` | the prompt's tokens are not a prefix of prompt + completion (TRL#5213) |
| ``double_bos`` / ``double_eos`` | two BOS at the start (axolotl#1616) / two EOS at the end (TRL#4481) |
| ``identical_after_template`` | chosen and rejected encode to the same tokens |
| ``max_length`` | per trainer: rows over ``max_length`` dropped (fail, TRL PR #2209) or truncated (warn) |
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, Final

from preflog.progress import ProgressCallback, report
from preflog.verify.encode import ENCODERS, Encoded
from preflog.verify.report import CheckResult, Status
from preflog.verify.schemas import STRICT_COLUMNS, row_problems
from preflog.verify.views import NO_VIEW, Example, Message, example_of

Progress = ProgressCallback  # the library's one progress seam (preflog.progress)
SCHEMA_CHECKS: Final = ("schema", "roles", "extra_columns")
TOKEN_CHECKS: Final = (
    "prompt_in_completion",
    "prompt_not_prefix",
    "double_bos",
    "double_eos",
    "identical_after_template",
)


@dataclass(frozen=True)
class Target:
    """A trainer a format is meant for: how it encodes rows and what it does past ``max_length``.

    ``drops_over``: rows longer than ``max_length`` are dropped (else truncated).
    ``drops_prompt_at``: rows whose prompt alone reaches ``max_length + drops_prompt_at`` tokens are
    dropped even where longer rows are truncated (TRL: 0, the completion would be cut away;
    OpenRLHF DPO: -2, room for the answer)."""

    trainer: str
    encoder: str
    drops_over: bool
    drops_prompt_at: int | None = None


TRL_DPO: Final = Target("trl-dpo", "trl", drops_over=False, drops_prompt_at=0)
TRL_REWARD: Final = Target("trl-reward", "trl", drops_over=True)
TRL_KTO: Final = Target("trl-kto", "trl", drops_over=False, drops_prompt_at=0)
LLAMAFACTORY: Final = Target("llamafactory", "chat-template", drops_over=False)  # cutoff_len truncates

#: format → the trainers it is written for.
TARGETS: Final[dict[str, tuple[Target, ...]]] = {
    "trl": (TRL_DPO, TRL_REWARD, TRL_KTO),
    "trl-reward": (TRL_REWARD, TRL_DPO),
    "trl-kto": (TRL_KTO,),
    "hh-rlhf": (TRL_DPO,),
    "ultrafeedback": (TRL_DPO,),
    "axolotl": (Target("axolotl", "axolotl", drops_over=True),),  # excess_length_strategy: drop
    "openrlhf": (
        Target("openrlhf-rm", "openrlhf", drops_over=False),
        Target("openrlhf-dpo", "openrlhf", drops_over=False, drops_prompt_at=-2),
    ),
    "llamafactory": (LLAMAFACTORY,),
    "llamafactory-alpaca": (LLAMAFACTORY,),
    "nemo-rl": (Target("nemo-rl", "nemo-rl", drops_over=True),),  # loss_multiplier 0: not trained
}


@dataclass
class _Length:
    dropped: int = 0
    truncated: int = 0
    longest: int = 0


@dataclass
class _Run:
    """The checks of one run, filled row by row."""

    fmt: str
    targets: tuple[Target, ...]
    max_length: int
    checks: dict[tuple[str, str | None], CheckResult] = field(default_factory=dict)
    lengths: dict[str, _Length] = field(default_factory=dict)

    def result(self, check: str, trainer: str | None = None) -> CheckResult:
        key = (check, trainer)
        if key not in self.checks:
            self.checks[key] = CheckResult(check, trainer)
        return self.checks[key]

    def saw(self, check: str, trainer: str | None = None) -> CheckResult:
        result = self.result(check, trainer)
        result.rows += 1
        return result


def _encoders(targets: Iterable[Target]) -> list[str]:
    return list(dict.fromkeys(t.encoder for t in targets))


def _label(encoder: str, targets: Iterable[Target]) -> str:
    """The report's name of an encoder: the trainers that share it."""
    return ", ".join(t.trainer for t in targets if t.encoder == encoder)


def _repeated(ex: Example) -> str | None:
    """Why the completion repeats the prompt, judged on the row itself."""
    if isinstance(ex.prompt, str):
        head = ex.prompt.strip()
        for completion in ex.completions:
            if head and isinstance(completion, str) and completion.lstrip().startswith(head):
                return "the completion starts with the whole prompt"
        return None
    for completion in ex.completions:
        for message in completion if isinstance(completion, list) else []:
            if message.get("role") in ("user", "system"):
                return f"the completion holds a {message['role']} turn"
    return None


def _dropped_turn(tok: Any, ex: Example) -> str | None:
    """The first turn whose text the template leaves out of the rendering."""
    assert isinstance(ex.prompt, list)
    kwargs = {"tools": ex.tools} if ex.tools else {}
    for completion in ex.completions:
        turns: list[Message] = ex.prompt + (completion if isinstance(completion, list) else [])
        text = str(tok.apply_chat_template(turns, tokenize=False, **kwargs))
        for i, turn in enumerate(turns):
            content = turn.get("content")
            if isinstance(content, str) and content.strip() and content.strip() not in text:
                return f"turn {i} (role {turn.get('role')!r}) is not in the rendering"
    return None


class _Blank:
    """Which ids decode to whitespace only (between two EOS they still make a double EOS)."""

    def __init__(self, tok: Any) -> None:
        self.tok = tok
        self.special = set(tok.all_special_ids)
        self.cache: dict[int, bool] = {}

    def __call__(self, token: int) -> bool:
        if token not in self.cache:
            self.cache[token] = token not in self.special and not self.tok.decode([token]).strip()
        return self.cache[token]


def _double_eos(ids: list[int], eos: int | None, blank: _Blank) -> bool:
    ends = [i for i, t in enumerate(ids) if t == eos]
    if eos is None or len(ends) < 2:
        return False
    tail = ids[ends[-2] + 1 :]
    return all(t == eos or blank(t) for t in tail)


def _token_problems(tok: Any, ex: Example, enc: Encoded, blank: _Blank) -> dict[str, str]:
    problems: dict[str, str] = {}
    repeated = enc.repeated or _repeated(ex)
    if repeated:
        problems["prompt_in_completion"] = repeated
    if not enc.prefix_ok:
        problems["prompt_not_prefix"] = (
            f"the prompt's {len(enc.prompt_ids)} tokens diverge from prompt + completion at {enc.prompt_len}"
        )
    bos = tok.bos_token_id
    if bos is not None and any(s[:2] == [bos, bos] for s in enc.sequences):
        problems["double_bos"] = f"the sequence starts with {tok.bos_token!r} twice"
    if any(_double_eos(s[enc.prompt_len :], tok.eos_token_id, blank) for s in enc.sequences):
        problems["double_eos"] = f"the completion ends with {tok.eos_token!r} twice"
    completions = [s[enc.prompt_len :] for s in enc.sequences]
    if len(completions) == 2 and completions[0] == completions[1]:
        problems["identical_after_template"] = "chosen and rejected encode to the same tokens"
    return problems


def _length(run: _Run, target: Target, enc: Encoded, where: str) -> None:
    result = run.saw("max_length", target.trainer)
    tally = run.lengths.setdefault(target.trainer, _Length())
    longest = max(len(s) for s in enc.sequences)
    tally.longest = max(tally.longest, longest)
    limit = run.max_length
    if target.drops_prompt_at is not None and len(enc.prompt_ids) >= limit + target.drops_prompt_at:
        tally.dropped += 1
        result.add(where, f"dropped: the prompt alone is {len(enc.prompt_ids)} tokens (max_length {limit})")
    elif longest > limit:
        action = "dropped" if target.drops_over else "truncated"
        tally.dropped += target.drops_over
        tally.truncated += not target.drops_over
        result.add(where, f"{action}: {longest} tokens > max_length {limit}")


def _template_row(run: _Run, tok: Any, ex: Example, where: str, blank: _Blank) -> None:
    template = run.saw("template")
    try:
        dropped = _dropped_turn(tok, ex) if ex.conversational else None
    except Exception as exc:  # a template's raise_exception, or a filter it cannot apply
        template.add(where, f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}")
        return
    turns = run.saw("dropped_turns")
    if dropped:
        turns.add(where, dropped)
    for encoder in _encoders(run.targets):
        if encoder in ("axolotl", "nemo-rl") and not ex.conversational:
            continue
        label = _label(encoder, run.targets)
        try:
            enc = ENCODERS[encoder](tok, ex)
        except Exception as exc:  # the trainer's own rendering of the row raised
            template.add(where, f"{label}: {type(exc).__name__}: {exc}")
            continue
        problems = _token_problems(tok, ex, enc, blank)
        for check in TOKEN_CHECKS:
            result = run.saw(check, label)
            if check in problems:
                result.add(where, problems[check])
        for target in run.targets:
            if target.encoder == encoder:
                _length(run, target, enc, where)


def _schema_row(run: _Run, row: dict[str, Any], where: str) -> bool:
    """Record the row's schema problems; answer whether it is sound enough to render."""
    for check in SCHEMA_CHECKS:
        run.saw(check, run.fmt)
    problems = row_problems(run.fmt, row)
    for check, why in problems:
        run.result(check, run.fmt).add(where, why)
    return not any(check == "schema" for check, _ in problems)


def check_rows(
    fmt: str,
    rows: Iterable[tuple[str, dict[str, Any]]],
    *,
    total: int,
    tokenizer: Any = None,
    max_length: int = 1024,
    trainers: tuple[str, ...] | None = None,
    progress: Progress | None = None,
) -> list[CheckResult]:
    """Check ``rows`` (``(where, row)`` pairs) of a ``fmt`` dataset; answer one result per check
    (and per trainer where it depends on the trainer). ``progress`` hears the rows checked as they
    go by (:mod:`preflog.progress`)."""
    targets = tuple(t for t in TARGETS.get(fmt, ()) if trainers is None or t.trainer in trainers)
    run = _Run(fmt, targets, max_length)
    blank = _Blank(tokenizer) if tokenizer is not None else None
    for done, (where, row) in enumerate(rows, 1):
        sound = _schema_row(run, row, where)
        if sound and blank is not None and targets:
            _template_row(run, tokenizer, example_of(fmt, row), where, blank)
        if progress is not None and (done % 256 == 0 or done == total):
            report(progress, "checking rows", done, total, unit="rows")
    return _finish(run, tokenizer is not None)


def _finish(run: _Run, templated: bool) -> list[CheckResult]:
    results = list(run.checks.values())
    for result in results:
        result.status = _status(run, result)
    if not run.targets:
        results.append(
            CheckResult("template", None, "skip", detail=NO_VIEW.get(run.fmt, "no template checks"))
        )
    elif not templated:
        results.append(CheckResult("template", None, "skip", detail="no tokenizer directory given"))
    return results


def _status(run: _Run, result: CheckResult) -> Status:
    if result.check == "max_length":
        t = run.lengths.get(result.trainer or "", _Length())
        result.detail = (
            f"{result.share:.1%} over {run.max_length} tokens: {t.dropped} dropped, {t.truncated} truncated; "
            f"the longest is {t.longest}"
        )
        return "fail" if t.dropped else "warn" if t.truncated else "pass"
    if not result.failed:
        return "pass"
    return "warn" if result.check == "extra_columns" and run.fmt not in STRICT_COLUMNS else "fail"


def iter_where(name: str, rows: Iterable[dict[str, Any]]) -> Iterator[tuple[str, dict[str, Any]]]:
    """``(file:line, row)`` for the rows of one file."""
    for line, row in enumerate(rows, 1):
        yield f"{name}:{line}", row


__all__ = ["SCHEMA_CHECKS", "TARGETS", "TOKEN_CHECKS", "Target", "check_rows", "iter_where"]
