"""``judge_log``: an LLM judge labels pairs of logged candidates against written principles.

Each pair is asked twice, in both orders, of any OpenAI-compatible chat endpoint; the verdict is
read in MT-Bench's pairwise convention (``[[A]]``, ``[[B]]``, ``[[C]]`` for a tie, the last one in
the answer). Two answers naming the same candidate become an ``ai_judge`` preference with both
rationales; anything else (the judge followed the position, not the content; or said tie) becomes
a tie, counted as ``inconsistent`` or ``ties``. An answer with no verdict is counted and the pair is
written not at all. The judge's model, the version the endpoint reports and the prompt's hash go in
``source`` (``id`` = model, ``version`` = ``<model version>+<prompt hash>``), so changing the
principles or the template starts a new judge whose labels never mix with the old one's.
"""

from __future__ import annotations

import hashlib
import itertools
import re
import threading
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any, Final, Literal

from preflog.errors import ConfigError, PreflogError
from preflog.events import now
from preflog.judges.http import DEFAULT_POLICY, EndpointPolicy, post_json
from preflog.judges.inputs import InferenceView, derived_id, iter_inferences
from preflog.progress import ProgressCallback
from preflog.progress import report as report_progress
from preflog.store import Store

Policy = Literal["all", "uncertain", "balanced"]
POLICIES: Final = ("all", "uncertain", "balanced")
VERDICT_RE: Final = re.compile(r"\[\[([ABC])\]\]")
MAX_RATIONALE: Final = 8000  # characters kept of the two answers (events cap short texts at 16 KiB)

SYSTEM_TEMPLATE: Final = (
    "You are an impartial judge. Compare the two AI assistant responses to the conversation below "
    "and decide which one better follows these principles:\n\n{principles}\n\n"
    "Do not let the order of the responses, their length or the assistants' names influence you. "
    "Explain your reasoning briefly, then give your final verdict on the last line, exactly as "
    '"[[A]]" if assistant A is better, "[[B]]" if assistant B is better, or "[[C]]" for a tie.'
)
USER_TEMPLATE: Final = (
    "[The Start of the Conversation]\n{question}\n[The End of the Conversation]\n\n"
    "[The Start of Assistant A's Answer]\n{a}\n[The End of Assistant A's Answer]\n\n"
    "[The Start of Assistant B's Answer]\n{b}\n[The End of Assistant B's Answer]"
)


def prompt_hash(principles: str) -> str:
    """The first 12 hex digits of SHA-256 over the templates and the principles."""
    text = "\x00".join((SYSTEM_TEMPLATE, USER_TEMPLATE, principles))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:12]


def read_verdict(answer: str) -> str | None:
    """``A``, ``B`` or ``C`` from the last ``[[X]]`` in ``answer``; None when there is none.

    >>> read_verdict("A is clearer. [[A]]")
    'A'
    >>> read_verdict("At first [[A]], but on reflection [[C]]")
    'C'
    >>> read_verdict("no verdict") is None
    True
    """
    found = VERDICT_RE.findall(answer)
    return found[-1] if found else None


@dataclass(frozen=True)
class Pair:
    inference: InferenceView
    first: str  # candidate ids, in log order
    second: str

    @property
    def models(self) -> tuple[str, str]:
        return tuple(
            sorted((self.inference.candidate(self.first).model, self.inference.candidate(self.second).model))
        )  # type: ignore[return-value]


@dataclass
class JudgeReport:
    judge: dict[str, str]
    pairs: int = 0  # pairs asked (both orders)
    preferences: int = 0  # consistent verdicts, stored as chosen/rejected
    ties: int = 0  # both answers said tie
    inconsistent: int = 0  # the two orders disagreed: stored as a tie
    unparsed: int = 0  # an answer without [[A]]/[[B]]/[[C]]: nothing stored for the pair
    skipped: int = 0  # pairs this judge version labelled before
    tokens: int = 0
    budget_exhausted: bool = False
    last_position: int = 0
    errors: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors

    def to_dict(self) -> dict[str, Any]:
        return {**self.__dict__, "ok": self.ok}


class ChatJudge:
    """An OpenAI-compatible ``/chat/completions`` endpoint (``base_url`` like ``http://host/v1``)."""

    def __init__(
        self,
        base_url: str,
        model: str,
        principles: str,
        *,
        api_key: str | None = None,
        temperature: float = 0.0,
        max_tokens: int = 1024,
        policy: EndpointPolicy = DEFAULT_POLICY,
    ) -> None:
        if not base_url.startswith(("http://", "https://")):
            raise ConfigError(f"endpoint: {base_url!r} is not an http(s) URL")
        if not principles.strip():
            raise ConfigError("principles: empty (write the principles the judge applies)")
        base = base_url.rstrip("/")
        self.url = base if base.endswith("/chat/completions") else base + "/chat/completions"
        self.model = model
        self.principles = principles
        self.headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self.temperature = temperature
        self.max_tokens = max_tokens
        self.policy = policy
        self.version = model  # replaced by what the endpoint reports (response.model)
        self.prompt_hash = prompt_hash(principles)
        self.retries = 0
        self._lock = threading.Lock()

    def ask(self, question: str, a: str, b: str) -> tuple[str, int]:
        """The judge's answer text and the tokens it cost."""
        payload = {
            "model": self.model,
            "temperature": self.temperature,
            "max_tokens": self.max_tokens,
            "messages": [
                {"role": "system", "content": SYSTEM_TEMPLATE.format(principles=self.principles)},
                {"role": "user", "content": USER_TEMPLATE.format(question=question, a=a, b=b)},
            ],
        }
        answer = post_json(
            self.url, payload, headers=self.headers, policy=self.policy, on_retry=self._retried
        )
        try:
            text = answer["choices"][0]["message"]["content"] or ""
        except (KeyError, IndexError, TypeError):
            raise PreflogError(f"{self.url}: not a chat completion: {str(answer)[:120]}") from None
        with self._lock:
            if isinstance(answer.get("model"), str) and answer["model"]:
                self.version = answer["model"]
        usage = answer.get("usage") or {}
        tokens = usage.get("total_tokens")
        if not isinstance(tokens, int):  # no usage reported: about four characters a token
            tokens = (len(question) + len(a) + len(b) + len(text)) // 4
        return str(text), tokens

    def _retried(self, _: str) -> None:
        with self._lock:
            self.retries += 1

    @property
    def source(self) -> dict[str, str]:
        return {"kind": "ai_judge", "id": self.model, "version": f"{self.version}+{self.prompt_hash}"}


# ---------------------------------------------------------------------------------------------- pairs


def _judged(store: Store, project: str, judge_id: str, prompt_hash_: str) -> set[str]:
    """Event ids of the preferences this judge (any model version, same prompt) already wrote."""
    done: set[str] = set()
    for item in store.iter_events(project=project, types=["preference"]):
        source = item.event.get("source") or {}
        version = str(source.get("version", ""))
        if (
            source.get("kind") == "ai_judge"
            and source.get("id") == judge_id
            and version.endswith(prompt_hash_)
        ):
            done.add(item.event_id)
    return done


def _human_votes(store: Store, project: str) -> dict[tuple[str, str, str], Counter[str]]:
    """Per (request, candidate, candidate) in id order: how often each side won, from every judgment
    that is not this kind of judge — the evidence the ``uncertain`` policy weighs."""
    votes: dict[tuple[str, str, str], Counter[str]] = defaultdict(Counter)
    for item in store.iter_events(project=project, types=["preference"]):
        event = item.event
        if (event.get("source") or {}).get("kind") == "ai_judge" or event.get("chosen") is None:
            continue
        x, y = sorted((str(event["chosen"]), str(event["rejected"])))
        votes[(str(event["request_id"]), x, y)][str(event["chosen"])] += 1
    return votes


def _pairs(views: Iterable[InferenceView]) -> Iterator[Pair]:
    for view in views:
        if view.erased:
            continue
        ids = [c.candidate_id for c in view.candidates]
        for x, y in itertools.combinations(ids, 2):
            yield Pair(view, x, y)


def order_pairs(
    pairs: Sequence[Pair], policy: Policy, votes: dict[tuple[str, str, str], Counter[str]]
) -> list[Pair]:
    """``all``: log order. ``uncertain``: pairs whose existing votes are closest to even first (no
    votes counts as even), then log order. ``balanced``: round robin over model pairs, so a budget
    is shared evenly between the models compared."""
    if policy == "all":
        return list(pairs)
    if policy == "uncertain":

        def margin(pair: Pair) -> float:
            x, y = sorted((pair.first, pair.second))
            count = votes.get((pair.inference.request_id, x, y), Counter())
            total = sum(count.values())
            return abs(count[x] - count[y]) / total if total else 0.0

        return sorted(pairs, key=margin)  # sorted() is stable: log order among equals
    if policy == "balanced":
        groups: dict[tuple[str, str], list[Pair]] = defaultdict(list)
        for pair in pairs:
            groups[pair.models].append(pair)
        queues = [groups[key] for key in sorted(groups)]
        return [p for row in itertools.zip_longest(*queues) for p in row if p is not None]
    raise ConfigError(f"policy: must be one of {', '.join(POLICIES)}, got {policy!r}")


# ---------------------------------------------------------------------------------------------- the run


@dataclass(frozen=True)
class _Verdict:
    pair: Pair
    answers: tuple[str, str]  # first asked with pair.first as A, then with pair.second as A
    verdicts: tuple[str | None, str | None]
    tokens: int


def _ask_both(judge: ChatJudge, pair: Pair) -> _Verdict:
    view = pair.inference
    a, b = view.candidate(pair.first).text, view.candidate(pair.second).text
    first, t1 = judge.ask(view.question, a, b)
    second, t2 = judge.ask(view.question, b, a)
    return _Verdict(pair, (first, second), (read_verdict(first), read_verdict(second)), t1 + t2)


def _event(
    verdict: _Verdict, judge: ChatJudge, criterion: str | None, report: JudgeReport
) -> dict[str, Any] | None:
    pair = verdict.pair
    v1, v2 = verdict.verdicts
    if v1 is None or v2 is None:
        report.unparsed += 1
        return None
    # v1 names pair.first as A; v2 names pair.second as A.
    winner1 = {"A": pair.first, "B": pair.second}.get(v1)
    winner2 = {"A": pair.second, "B": pair.first}.get(v2)
    event: dict[str, Any] = {
        "event_id": derived_id(
            "judge", pair.inference.request_id, pair.first, pair.second, judge.model, judge.prompt_hash
        ),
        "type": "preference",
        "request_id": pair.inference.request_id,
        "occurred_at": now(),
        "source": judge.source,
        "rationale": "\n\n---\n\n".join(verdict.answers)[:MAX_RATIONALE],
        "metadata": {
            "judge": {
                "orders": [[pair.first, pair.second], [pair.second, pair.first]],
                "verdicts": [v1, v2],
                "prompt_hash": judge.prompt_hash,
            }
        },
    }
    if criterion:
        event["criterion"] = criterion
    if winner1 is not None and winner1 == winner2:
        loser = pair.second if winner1 == pair.first else pair.first
        event.update(chosen=winner1, rejected=loser)
        report.preferences += 1
    else:
        event.update(outcome="tie", candidates=[pair.first, pair.second])
        if v1 == v2 == "C":
            report.ties += 1
        else:
            report.inconsistent += 1
    return event


def _store_verdict(
    store: Store,
    project: str,
    verdict: _Verdict,
    judge: ChatJudge,
    criterion: str | None,
    report: JudgeReport,
) -> None:
    event = _event(verdict, judge, criterion, report)
    if event is None:
        return
    for result in store.append([event], project=project):
        if result.status == "rejected":
            report.errors.append(f"{result.event_id}: {result.field}: {result.reason}")


def _run_pairs(
    store: Store,
    project: str,
    judge: ChatJudge,
    pairs: list[Pair],
    report: JudgeReport,
    *,
    concurrency: int,
    token_budget: int | None,
    criterion: str | None,
    progress: ProgressCallback | None,
) -> bool:
    """Ask about ``pairs`` with ``concurrency`` requests in flight; False when an endpoint failed."""
    remaining = iter(pairs)
    with ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="preflog-judge") as pool:
        running: set[Future[_Verdict]] = set()
        while True:
            while len(running) < concurrency and not report.errors:
                if token_budget is not None and report.tokens >= token_budget:
                    report.budget_exhausted = True
                    break
                pair = next(remaining, None)
                if pair is None:
                    break
                running.add(pool.submit(_ask_both, judge, pair))
            if not running:
                return not report.errors
            finished = next(iter(_first_done(running)))
            running.discard(finished)
            try:
                verdict = finished.result()
            except PreflogError as exc:  # retries exhausted or a final answer: nothing written for it
                report.errors.append(str(exc))
                continue
            report.pairs += 1
            report.tokens += verdict.tokens
            _store_verdict(store, project, verdict, judge, criterion, report)
            report_progress(progress, "judging pairs", report.pairs, len(pairs), unit="pairs")


def _first_done(futures: set[Future[_Verdict]]) -> set[Future[_Verdict]]:
    done, _ = wait(futures, return_when=FIRST_COMPLETED)
    return done


def judge_log(
    store: Store,
    *,
    project: str,
    judge: ChatJudge,
    policy: Policy = "all",
    limit: int | None = None,
    concurrency: int = 4,
    token_budget: int | None = None,
    criterion: str | None = None,
    after: int = 0,
    follow: bool = False,
    poll_s: float = 1.0,
    stop: threading.Event | None = None,
    progress: ProgressCallback | None = None,
) -> JudgeReport:
    """Judge the project's unjudged pairs (see the module docstring) and report."""
    if policy not in POLICIES:
        raise ConfigError(f"policy: must be one of {', '.join(POLICIES)}, got {policy!r}")
    if concurrency < 1:
        raise ConfigError("concurrency: must be at least 1")
    report = JudgeReport(judge={"model": judge.model, "prompt_hash": judge.prompt_hash}, last_position=after)
    done = _judged(store, project, judge.model, judge.prompt_hash)
    stop = stop or threading.Event()
    while True:
        views = list(iter_inferences(store, project=project, after=report.last_position))
        if views:
            report.last_position = views[-1].position
        fresh = []
        for pair in _pairs(views):
            key = derived_id(
                "judge", pair.inference.request_id, pair.first, pair.second, judge.model, judge.prompt_hash
            )
            if key in done:
                report.skipped += 1
            else:
                done.add(key)
                fresh.append(pair)
        ordered = order_pairs(fresh, policy, _human_votes(store, project) if policy == "uncertain" else {})
        if limit is not None:
            ordered = ordered[: max(0, limit - report.pairs)]
        ok = _run_pairs(
            store,
            project,
            judge,
            ordered,
            report,
            concurrency=concurrency,
            token_budget=token_budget,
            criterion=criterion,
            progress=progress,
        )
        report.judge["version"] = judge.source["version"]
        finished = limit is not None and report.pairs >= limit
        if not ok or report.budget_exhausted or finished or not follow or stop.wait(poll_s):
            return report
