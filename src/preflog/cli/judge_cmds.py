"""``preflog score`` and ``preflog judge``: one library call each
(:func:`preflog.judges.score_log`, :func:`preflog.judges.judge_log`). See docs/judges.md."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from preflog.cli.common import open_store_for
from preflog.cli.progress import TerminalProgress
from preflog.errors import ConfigError

if TYPE_CHECKING:
    _Subparsers = argparse._SubParsersAction[argparse.ArgumentParser]


def register(sub: _Subparsers) -> None:
    _register_score(sub)
    _register_judge(sub)


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--after", type=int, default=0, metavar="N", help="start after log position N (default 0)")
    p.add_argument("--follow", action="store_true", help="keep tailing new inferences until interrupted")
    p.add_argument("--poll", type=float, default=1.0, metavar="S", help="seconds between polls with --follow")
    p.add_argument("--criterion", help="what is judged (helpfulness, harmlessness...), written in each event")
    p.add_argument("--retries", type=int, default=4, metavar="N", help="attempts per request (default 4)")
    p.add_argument(
        "--timeout", type=float, default=60.0, metavar="S", help="seconds per request (default 60)"
    )
    p.add_argument("--format", choices=("text", "json"), default="text", help="the summary's format")


def _register_score(sub: _Subparsers) -> None:
    p = sub.add_parser(
        "score",
        help="score logged candidates with a reward model (local checkpoint or HTTP service)",
        description="Score every candidate that this scorer version has not scored yet and log the "
        "scores as score events (ids derived from request, candidate and scorer version: a rerun "
        "stores nothing twice).",
    )
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument(
        "--model", metavar="DIR", help="a local Hugging Face sequence-classification checkpoint"
    )
    source.add_argument(
        "--endpoint", metavar="URL", help="a reward-model service (JSON shape: docs/judges.md)"
    )
    p.add_argument(
        "--scorer", metavar="NAME", help="scorer name (default: the model directory's or URL's name)"
    )
    p.add_argument(
        "--scorer-version", metavar="V", help="with --endpoint: the service's version (default 'unversioned')"
    )
    p.add_argument(
        "--batch-size", type=int, default=16, metavar="N", help="candidates per batch (default 16)"
    )
    p.add_argument("--max-length", type=int, default=1024, metavar="N", help="tokens per input with --model")
    _common(p)
    p.set_defaults(handler=_score)


def _register_judge(sub: _Subparsers) -> None:
    from preflog.judges.judge import POLICIES

    p = sub.add_parser(
        "judge",
        help="label pairs of logged candidates with an LLM judge (any OpenAI-compatible endpoint)",
        description="Ask an LLM judge about each pair of candidates in both orders against written "
        "principles; consistent verdicts become ai_judge preferences, inconsistent ones ties.",
    )
    p.add_argument(
        "--endpoint", required=True, metavar="URL", help="the API base URL, e.g. http://host:8000/v1"
    )
    p.add_argument("--model", required=True, metavar="NAME", help="the judge model's name")
    p.add_argument("--principles", required=True, metavar="FILE", help="a text file of the principles")
    p.add_argument("--api-key", help="the endpoint's key (default $OPENAI_API_KEY)")
    p.add_argument("--policy", choices=POLICIES, default="all", help="which pairs first (default all)")
    p.add_argument("--limit", type=int, metavar="N", help="judge at most N pairs")
    p.add_argument("--concurrency", type=int, default=4, metavar="N", help="requests in flight (default 4)")
    p.add_argument("--token-budget", type=int, metavar="N", help="stop once the judge has used N tokens")
    p.add_argument("--max-tokens", type=int, default=1024, metavar="N", help="tokens per judge answer")
    _common(p)
    p.set_defaults(handler=_judge)


@contextlib.contextmanager
def _stop_on_signals() -> Iterator[threading.Event]:
    """An event set by SIGTERM or SIGINT while the run lasts, so ``--follow`` ends cleanly between
    batches (what was written stays written); the previous handlers are restored after."""
    stop = threading.Event()

    def handler(signum: int, frame: Any) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield stop
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def _policy(args: argparse.Namespace) -> Any:
    from preflog.judges.http import DEFAULT_POLICY

    if args.retries < 1:
        raise ConfigError("--retries must be at least 1")
    return DEFAULT_POLICY.with_attempts(args.retries, args.timeout)


def _print(report: Any, fmt: str, lines: list[str]) -> int:
    if fmt == "json":
        print(json.dumps(report.to_dict(), indent=2))
    else:
        print("\n".join(lines))
        for error in report.errors:
            print(f"preflog: error: {error}", file=sys.stderr)
    return 0 if report.ok else 1


def _score(args: argparse.Namespace) -> int:
    from preflog.judges import EndpointScorer, RewardModelScorer, score_log

    scorer: Any
    if args.model:
        scorer = RewardModelScorer(args.model, name=args.scorer, max_length=args.max_length)
    else:
        scorer = EndpointScorer(
            args.endpoint, name=args.scorer, version=args.scorer_version, policy=_policy(args)
        )
    with (
        _stop_on_signals() as stop,
        open_store_for(args, create=False) as store,
        TerminalProgress("score") as bar,
    ):
        report = score_log(
            store,
            project=args.project,
            scorer=scorer,
            batch_size=args.batch_size,
            criterion=args.criterion,
            after=args.after,
            follow=args.follow,
            poll_s=args.poll,
            stop=stop,
            progress=bar,
        )
    name = f"{scorer.name} {scorer.version}"
    lines = [
        f"scored {report.scored:,} candidates with {name} in {report.batches:,} batches; "
        f"{report.skipped:,} already scored, {report.erased:,} erased; last position {report.last_position}"
    ]
    return _print(report, args.format, lines)


def _judge(args: argparse.Namespace) -> int:
    from preflog.judges import ChatJudge, judge_log

    try:
        principles = Path(args.principles).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"--principles: cannot read {args.principles}: {exc.strerror}") from None
    judge = ChatJudge(
        args.endpoint,
        args.model,
        principles,
        api_key=args.api_key or os.environ.get("OPENAI_API_KEY"),
        max_tokens=args.max_tokens,
        policy=_policy(args),
    )
    with (
        _stop_on_signals() as stop,
        open_store_for(args, create=False) as store,
        TerminalProgress("judge") as bar,
    ):
        report = judge_log(
            store,
            project=args.project,
            judge=judge,
            policy=args.policy,
            limit=args.limit,
            concurrency=args.concurrency,
            token_budget=args.token_budget,
            criterion=args.criterion,
            after=args.after,
            follow=args.follow,
            poll_s=args.poll,
            stop=stop,
            progress=bar,
        )
    lines = [
        f"judged {report.pairs:,} pairs with {judge.model} ({report.judge.get('version', judge.model)}): "
        f"{report.preferences:,} preferences, {report.ties:,} ties, {report.inconsistent:,} inconsistent "
        f"(stored as ties), {report.unparsed:,} without a verdict; {report.skipped:,} judged before; "
        f"{report.tokens:,} tokens" + ("; token budget reached" if report.budget_exhausted else ""),
    ]
    return _print(report, args.format, lines)
