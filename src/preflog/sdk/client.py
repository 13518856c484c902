"""``preflog.Client``: the one object an application uses to log inferences and judgments.

>>> import os, tempfile, preflog
>>> path = os.path.join(tempfile.mkdtemp(), "feedback.db")
>>> with preflog.Client(db=path, project="demo") as client:
...     rid = client.log_inference("What is 2+2?", ["4", "5"], model="gpt-x")
...     event_id = client.log_preference(rid, chosen="c0", rejected="c1")
>>> client.stats().sent
2

Every ``log_*`` call checks its arguments (a bad one raises :class:`~preflog.errors.ValidationError`
naming it), appends a record to an in-memory queue and returns; a background thread builds the
events and delivers them in batches. Nothing that happens after the call — a slow or failing store,
an event over a size limit, a full queue — raises into the application: it is counted in
:meth:`Client.stats` and logged (rarely) on the ``preflog`` logger.
"""

from __future__ import annotations

import dataclasses
import os
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, Final

from preflog import config
from preflog.errors import ConfigError, FieldError, ValidationError
from preflog.events import PROJECT_RE, PROJECT_RULE, Limits, check_event, new_id
from preflog.sdk import args
from preflog.sdk.args import _KNOWN_MODELS
from preflog.sdk.base import Spool, Transport
from preflog.sdk.batcher import Batcher, BatchOptions
from preflog.sdk.build import build_inference, build_prepared
from preflog.sdk.candidates import CandidateSet, LaterInference, build_later
from preflog.sdk.replay import ReplayReport
from preflog.sdk.retry import RetryPolicy
from preflog.sdk.spool import default_spool_dir
from preflog.sdk.stats import ClientStats, Warner
from preflog.sdk.transport import make_transport

Prompt = str | Sequence[Mapping[str, Any]]
Output = str | Mapping[str, Any]
Model = str | Mapping[str, Any]
When = datetime | str | float

# Judgments are checked at call time for their shape only; their size is checked in the worker.
_SHAPE_ONLY: Final = Limits(
    max_prompt_bytes=sys.maxsize,
    max_output_bytes=sys.maxsize,
    max_candidates=sys.maxsize,
    max_metadata_bytes=sys.maxsize,
    max_text_bytes=sys.maxsize,
    max_tags=sys.maxsize,
)
_PLACEHOLDER_TIME: Final = "2000-01-01T00:00:00Z"
_now = time.time


class Client:
    """Logs preference events for one project, in the background.

    ``db``: the embedded store — a file path or ``sqlite:///path.db`` (env ``PREFLOG_DB``, default
    ``./preflog.db``). ``url``/``api_key``: the ingestion service instead (env ``PREFLOG_URL``,
    used when neither ``db`` nor ``url`` is given, and ``PREFLOG_API_KEY``); ``url="kafka://HOST:
    PORT/TOPIC"`` produces straight to the stream (:mod:`preflog.sdk.kafka`). ``project``: env
    ``PREFLOG_PROJECT``, default ``default``. ``transport`` passes any :class:`Transport`. The
    client is the SDK's edge: it reads these variables (through :func:`preflog.config.get`) and
    hands what it found to the transport and the spool, which read no environment.

    Batching: a batch is sent when ``batch_size`` events are waiting, every ``flush_interval``
    seconds, and on :meth:`flush`; when more are waiting (a backlog) a batch takes up to
    ``max_batch_size`` events (default: ``batch_size``, or the transport's
    ``backlog_batch_size`` if larger: 10,000 for the embedded store), and it holds at most
    ``max_batch_bytes`` of estimated JSON (default: the transport's ``batch_bytes``, 4 MiB; 32 MiB
    for the embedded store).
    At most ``max_queue`` events wait in memory; when full, ``on_full`` says what happens:
    ``"drop_new"`` (default: the new event is dropped), ``"drop_oldest"``, or ``"block"`` (the call
    waits up to ``block_timeout`` seconds for room, then drops). Dropped events are counted.
    A batch whose delivery failed with a :class:`~preflog.errors.RetryableError` (service
    unreachable, 5xx, 429, a busy store) is retried ``max_retries`` times with exponential backoff
    from ``retry_backoff`` seconds, jittered (a transport given with its own ``retry`` policy keeps
    it); other failures are not retried. A batch not delivered goes to the spool, else counts as
    failed. At interpreter exit the client flushes for at most ``exit_timeout`` seconds.
    ``limits``: the size limits checked in the worker (default
    :meth:`preflog.events.Limits.from_env`).

    Spool (with ``url=``): a :class:`~preflog.sdk.spool.DiskSpool` in ``spool_dir`` (env
    ``PREFLOG_SPOOL_DIR_EXACT``; default one directory per service and project under
    ``PREFLOG_SPOOL_DIR`` or the user cache), at most ``spool_max_bytes`` (env
    ``PREFLOG_SPOOL_MAX_BYTES``, 256 MiB). ``spool=`` passes another, ``spool=False`` turns it off.
    It is replayed in the background: at start, and after an outage by probes from
    ``replay_backoff`` seconds doubling up to ``replay_max_backoff`` (also the interval of the slow
    retries of a refused key); see docs/sdk.md.
    """

    def __init__(
        self,
        db: str | os.PathLike[str] | None = None,
        project: str | None = None,
        *,
        url: str | None = None,
        api_key: str | None = None,
        transport: Transport | None = None,
        batch_size: int = 500,
        max_batch_size: int | None = None,
        flush_interval: float = 1.0,
        max_batch_bytes: int | None = None,
        max_queue: int = 100_000,
        on_full: str = "drop_new",
        block_timeout: float = 1.0,
        max_retries: int = 3,
        retry_backoff: float = 0.1,
        exit_timeout: float = 5.0,
        limits: Limits | None = None,
        spool: Spool | bool | None = None,
        spool_dir: str | os.PathLike[str] | None = None,
        spool_max_bytes: int | None = None,
        replay_backoff: float = 1.0,
        replay_max_backoff: float = 60.0,
    ) -> None:
        project = project or config.get("PREFLOG_PROJECT")
        if not isinstance(project, str) or not PROJECT_RE.match(project):
            raise ConfigError(f"project: {project!r} {PROJECT_RULE}")
        options = BatchOptions(
            batch_size=batch_size,
            max_batch_size=max_batch_size,
            flush_interval=flush_interval,
            max_batch_bytes=max_batch_bytes,
            max_queue=max_queue,
            on_full=on_full,
            block_timeout=block_timeout,
            max_retries=max_retries,
            retry_backoff=retry_backoff,
            exit_timeout=exit_timeout,
            replay_backoff=replay_backoff,
            replay_max_backoff=replay_max_backoff,
        )
        limits = limits or Limits.from_env()
        if spool is True:
            spool = None  # the default: a disk spool when there is a service to deliver to
        if transport is None:
            spool_options = (spool is None, spool_dir, spool_max_bytes)
            transport = _transport_from_options(
                db, url, api_key, project, limits, RetryPolicy(max_retries, retry_backoff), spool_options
            )
        elif db is not None or url is not None:
            raise ConfigError("give transport= or db=/url=, not both")
        if spool is None:  # a transport that keeps a spool (HTTP) wants its failed batches there
            spool = getattr(transport, "spool", None)
        self.project = project
        self.transport = transport
        self._batcher = Batcher(transport, project, options, limits, None if spool is False else spool)
        self._put = self._batcher.put
        self._integration_errors = 0
        self._integration_lock = threading.Lock()
        self._integration_warner = Warner(every=100)

    # ------------------------------------------------------------------------------------------ inference

    def log_inference(
        self,
        prompt: Prompt,
        outputs: Output | Sequence[Output] | None = None,
        *,
        model: Model | None = None,
        candidates: Sequence[Mapping[str, Any]] | None = None,
        request_id: str | None = None,
        system: str | None = None,
        params: Mapping[str, Any] | None = None,
        presented: Sequence[str] | None = None,
        user_id: str | None = None,
        session_id: str | None = None,
        tags: Sequence[str] | None = None,
        metadata: Mapping[str, Any] | None = None,
        features: Mapping[str, Any] | None = None,
        occurred_at: When | None = None,
    ) -> str:
        """Log a prompt and the candidate outputs shown for it; return the request id.

        ``outputs`` are the texts (all from ``model=``, with ``params=``; an empty one is an answer
        too) or candidate dicts ``{output, model, candidate_id, params, usage, latency_ms,
        metadata}`` with, for tool-using models, ``tool_calls`` (OpenAI's shape; ``output`` may then
        be None), ``refusal`` and ``finish_reason``, or ``{messages, model, ...}`` for an agent's
        multi-message continuation; ``candidates=`` is the same as dicts. Candidate ids are
        ``c0``, ``c1``, ... unless given. ``request_id`` is generated unless you pass your own
        (e.g. your LLM gateway's id). ``prompt`` is a string or a list of chat messages ``{role,
        content}`` (the conversation before the outputs, tool calls and tool results included).
        """
        if request_id is None:
            request_id = new_id()
        elif type(request_id) is not str or not request_id or request_id.isspace():
            args.check_ident(request_id, "request_id")
        if type(prompt) is not str or not prompt or prompt.isspace():
            prompt = args.check_prompt(prompt)
        if system is not None:
            args.check_text(system, "system")
        if type(outputs) is list and candidates is None and type(model) is str and model in _KNOWN_MODELS:
            # The usual call (a list of output strings from one known model), checked inline.
            outs = tuple(outputs)
            for out in outs:
                if type(out) is not str or not out or out.isspace():
                    outs = args.check_outputs(outputs, candidates, model, params)
                    break
            if not outs:
                args.check_outputs(outputs, candidates, model, params)
            if params is not None:
                args.check_params(params, "params")
        else:
            outs = args.check_outputs(outputs, candidates, model, params)
        extras = None
        if (
            presented is not None
            or user_id is not None
            or session_id is not None
            or tags is not None
            or metadata is not None
            or features is not None
            or occurred_at is not None
        ):
            extras = _inference_extras(
                outs, presented, user_id, session_id, tags, metadata, features, occurred_at
            )
        self._put((build_inference, _now(), request_id, prompt, system, outs, model, params, extras))
        return request_id

    def candidate_set(
        self,
        prompt: Prompt | None = None,
        request_id: str | None = None,
        presented: Sequence[str] | None = None,
        *,
        system: str | None = None,
        user_id: str | None = None,
        metadata: Mapping[str, Any] | None = None,
    ) -> CandidateSet:
        """A context manager gathering the answers of several wrapped calls (or of
        :meth:`CandidateSet.add`) into one inference, logged on exit: an A/B test across providers
        (see :mod:`preflog.sdk.candidates` and docs/integrations.md). ``prompt`` None: the first
        wrapped call's. ``request_id``: generated when omitted."""
        if request_id is not None:
            args.check_ident(request_id, "request_id")
        if prompt is not None:
            prompt = args.check_prompt(prompt)
        return CandidateSet(
            self,
            prompt,
            request_id=request_id,
            presented=presented,
            system=system,
            user_id=user_id,
            metadata=metadata,
        )

    def log_inference_later(self, make: LaterInference) -> None:
        """Queue an inference whose arguments are computed in the background: ``make()`` returns
        what :meth:`log_inference` takes (``prompt``, ``candidates``, ``request_id``, optionally
        ``system``, ``user_id``, ``metadata``), and runs in the worker thread, where its
        arguments are checked too (a bad one makes the event ``rejected``, with its reason). For
        integrations (:mod:`preflog.integrations`): the calling thread only enqueues, so a wrapped
        LLM call is not held up by turning a response into candidates (bench/wrap_overhead.py:
        +435 µs of the caller's CPU per n=3 call when done there, none measurable deferred).
        ``make`` must read only what nobody changes afterwards (copy the caller's lists first)."""
        self._put((build_later, _now(), make))

    def count_integration_error(self, where: str, exc: BaseException) -> None:
        """What a wrapped LLM client (:mod:`preflog.integrations`) does with an error of preflog's
        own (a response it could not map, a candidate the contract refuses): counted in
        ``stats().integration_errors`` and logged (the first, then one in 100), never raised into
        the application's call."""
        with self._integration_lock:
            self._integration_errors += 1
        self._integration_warner.warn(
            "integration_error", "%s could not log a call: %s: %s", where, type(exc).__name__, exc
        )

    # ------------------------------------------------------------------------------------------ judgments

    def log_preference(
        self,
        request_id: str,
        *,
        chosen: str | None = None,
        rejected: str | None = None,
        ranking: Sequence[str | Sequence[str]] | None = None,
        outcome: str | None = None,
        candidates: Sequence[str] | None = None,
        source: str | Mapping[str, Any] = "human",
        source_id: str | None = None,
        source_version: str | None = None,
        strength: float | None = None,
        criterion: str | None = None,
        rationale: str | None = None,
        scores: Mapping[str, float] | None = None,
        presented: Sequence[str] | None = None,
        metadata: Mapping[str, Any] | None = None,
        event_id: str | None = None,
        occurred_at: When | None = None,
    ) -> str:
        """Log a judgment of a request's candidates; return its event id.

        Exactly one form: ``chosen=`` + ``rejected=`` (candidate ids); ``ranking=`` (ids best first,
        a nested list for a tie: ``["c2", ["c0", "c1"]]``); or ``outcome="tie" | "both_bad"`` with
        ``candidates=[id, id]``. ``source`` is a kind (``human``, ``end_user``, ``reward_model``,
        ``ai_judge``, ``implicit``) or ``{kind, id, version}``; ``source_id=`` names the annotator.
        """
        event = {
            "type": "preference",
            "request_id": request_id,
            "chosen": chosen,
            "rejected": rejected,
            "ranking": _ranking(ranking),
            "outcome": outcome,
            "candidates": _list(candidates),
            "source": args.source(source, source_id, source_version),
            "strength": strength,
            "criterion": criterion,
            "rationale": rationale,
            "scores": _dict(scores),
            "presented": _list(presented),
            "metadata": _dict(metadata),
        }
        return self._log_judgment(event, event_id, occurred_at)

    def log_score(
        self,
        request_id: str,
        candidate_id: str,
        score: float,
        *,
        scorer: str | Mapping[str, Any],
        scorer_version: str | None = None,
        scorer_kind: str | None = None,
        criterion: str | None = None,
        metadata: Mapping[str, Any] | None = None,
        event_id: str | None = None,
        occurred_at: When | None = None,
    ) -> str:
        """Log a scalar score that a scorer (reward model, AI judge) gave one candidate."""
        spec = {"name": scorer} if isinstance(scorer, str) else _dict(scorer)
        if spec is not None:
            spec.update(
                {k: v for k, v in (("version", scorer_version), ("kind", scorer_kind)) if v is not None}
            )
        event = {
            "type": "score",
            "request_id": request_id,
            "candidate_id": candidate_id,
            "score": score,
            "scorer": spec,
            "criterion": criterion,
            "metadata": _dict(metadata),
        }
        return self._log_judgment(event, event_id, occurred_at)

    def log_signal(
        self,
        request_id: str,
        candidate_id: str,
        signal: str,
        value: float | None = None,
        *,
        user_id: str | None = None,
        session_id: str | None = None,
        metadata: Mapping[str, Any] | None = None,
        event_id: str | None = None,
        occurred_at: When | None = None,
    ) -> str:
        """Log implicit behaviour on one candidate: ``thumbs_up``, ``thumbs_down``, ``copy``,
        ``regenerate``, ``edit``, ``dwell_ms`` (``value`` in ms, required), ``click``, ``conversion``."""
        event = {
            "type": "signal",
            "request_id": request_id,
            "candidate_id": candidate_id,
            "signal": signal,
            "value": value,
            "user_id": user_id,
            "session_id": session_id,
            "metadata": _dict(metadata),
        }
        return self._log_judgment(event, event_id, occurred_at)

    def retract(
        self,
        event_id: str,
        request_id: str,
        *,
        reason: str | None = None,
        source: str | Mapping[str, Any] | None = None,
        metadata: Mapping[str, Any] | None = None,
        occurred_at: When | None = None,
    ) -> str:
        """Withdraw an earlier judgment (its ``event_id``) of ``request_id``; return the retraction's id."""
        event = {
            "type": "retraction",
            "request_id": request_id,
            "retracts": event_id,
            "reason": reason,
            "source": None if source is None else args.source(source),
            "metadata": _dict(metadata),
        }
        return self._log_judgment(event, None, occurred_at, renames={"retracts": "event_id"})

    def erase(
        self, *, request_id: str | None = None, user_id: str | None = None, reason: str | None = None
    ) -> str:
        """Ask the store to blank the content of one request or of everything from one user."""
        if (request_id is None) == (user_id is None):
            raise args.bad("request_id", "give exactly one of request_id= or user_id=")
        event = {"type": "erasure", "request_id": request_id, "user_id": user_id, "reason": reason}
        return self._log_judgment(event, None, None)

    def _log_judgment(
        self,
        event: dict[str, Any],
        event_id: str | None,
        occurred_at: When | None,
        renames: Mapping[str, str] | None = None,
    ) -> str:
        event = {k: v for k, v in event.items() if v is not None}
        event["event_id"] = new_id() if event_id is None else event_id
        when = None if occurred_at is None else args.occurred_at(occurred_at)
        errors = check_event({**event, "occurred_at": when or _PLACEHOLDER_TIME}, limits=_SHAPE_ONLY)
        if errors:
            raise ValidationError([_renamed(e, renames) for e in errors])
        if when is not None:
            event["occurred_at"] = when
        self._put((build_prepared, _now(), event))
        return str(event["event_id"])

    # ------------------------------------------------------------------------------------------ control

    def feedback_token(
        self,
        request_id: str,
        *,
        kinds: Sequence[str] = ("thumbs", "pick", "comment"),
        ttl: int | None = None,
        user_id: str | None = None,
    ) -> str:
        """A signed token for a product page to send its end user's feedback on ``request_id``
        (``kinds`` of ``thumbs``, ``pick``, ``comment``; valid ``ttl`` seconds, a day by default;
        the judgments carry ``user_id``). Minted by the service this client sends to: one call,
        which raises when it fails (see :mod:`preflog.sdk.feedback`)."""
        from preflog.sdk.feedback import feedback_token

        return feedback_token(self.transport, request_id, kinds=kinds, ttl=ttl, user_id=user_id)

    def flush(self, timeout: float | None = None) -> bool:
        """Block until every event logged before this call is delivered or counted; False when
        ``timeout`` seconds passed first (a slow or stuck backend)."""
        return self._batcher.flush(timeout)

    def close(self, timeout: float | None = None) -> bool:
        """Flush (for at most ``timeout`` seconds), stop the worker, close the transport. Calls
        after this are dropped and counted. Returns whether everything was delivered in time."""
        return self._batcher.close(timeout)

    def stats(self) -> ClientStats:
        """Counters: ``logged``, ``queued``, ``in_flight``, ``sent`` (= ``stored``), ``duplicates``,
        ``conflicts``, ``rejected``, ``failed``, ``spooled``, ``dropped``, ``batches``, ``retries``,
        ``last_error``; ``unauthorized``, ``replayed``, ``replay_rejected``, ``spool_pending``
        (see :mod:`preflog.sdk.stats`); ``integration_errors``: calls of wrapped LLM clients that
        preflog could not log (:meth:`count_integration_error`)."""
        stats = self._batcher.stats()
        if self._integration_errors:
            stats = dataclasses.replace(stats, integration_errors=self._integration_errors)
        return stats

    def replay_spool(self) -> ReplayReport:
        """Replay the spool now, in this thread (the background replay does the same on its own),
        and report what this client's replays did so far and what is still pending. A client
        without a disk spool reports nothing pending."""
        report = self._batcher.replay_spool()
        return report if report is not None else ReplayReport(0, 0, 0, "", None)

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Client(project={self.project!r}, transport={self.transport!r})"


def _transport_from_options(
    db: str | os.PathLike[str] | None,
    url: str | None,
    api_key: str | None,
    project: str,
    limits: Limits,
    retry: RetryPolicy,
    spool: tuple[bool, str | os.PathLike[str] | None, int | None],
) -> Transport:
    """The transport for ``db=``/``url=`` and the environment: explicit options first, then
    ``PREFLOG_URL`` (when neither is given), ``PREFLOG_DB``, ``PREFLOG_API_KEY``, ``PREFLOG_SPOOL_*``."""
    if url is None and db is None:
        url = config.get("PREFLOG_URL")
    if url is None:
        local = os.fspath(db) if db is not None else config.get("PREFLOG_DB")
        return make_transport(db=local, api_key=api_key, project=project, limits=limits)
    if db is not None:
        raise ConfigError("give db= (embedded store) or url= (ingestion service), not both")
    want_spool, spool_dir, spool_max_bytes = spool
    return make_transport(
        url=url,
        api_key=api_key if api_key is not None else config.get("PREFLOG_API_KEY"),
        project=project,
        limits=limits,
        retry=retry,
        spool=want_spool,
        spool_dir=spool_dir or spool_location(url, project),
        spool_max_bytes=spool_max_bytes or config.get("PREFLOG_SPOOL_MAX_BYTES"),
    )


def spool_location(url: str, project: str) -> Path:
    """Where a client for ``url`` and ``project`` keeps its spool: ``$PREFLOG_SPOOL_DIR_EXACT``,
    else one directory per service and project under ``$PREFLOG_SPOOL_DIR`` (default: the user's
    cache, ``~/.cache/preflog/spool``)."""
    exact = config.get("PREFLOG_SPOOL_DIR_EXACT")
    return Path(exact) if exact else default_spool_dir(url, project, config.get("PREFLOG_SPOOL_DIR"))


def _inference_extras(
    outs: tuple[Any, ...],
    presented: Sequence[str] | None,
    user_id: str | None,
    session_id: str | None,
    tags: Sequence[str] | None,
    metadata: Mapping[str, Any] | None,
    features: Mapping[str, Any] | None,
    occurred_at: When | None,
) -> dict[str, Any]:
    """The less common fields of an inference, checked and copied (so later changes by the caller
    do not leak into the event)."""
    extras: dict[str, Any] = {}
    if presented is not None:
        extras["presented"] = args.check_id_list(presented, "presented", args.candidate_ids(outs))
    for name, value in (("user_id", user_id), ("session_id", session_id)):
        if value is not None:
            extras[name] = args.check_ident(value, name)
    if tags is not None:
        extras["tags"] = args.check_tags(tags)
    for name, obj in (("metadata", metadata), ("features", features)):
        if obj is not None:
            extras[name] = dict(args.check_mapping(obj, name))
    if occurred_at is not None:
        extras["occurred_at"] = args.occurred_at(occurred_at)
    return extras


def _renamed(error: FieldError, renames: Mapping[str, str] | None) -> FieldError:
    if not renames:
        return error
    head, sep, tail = error.path.partition(".")
    return FieldError(renames.get(head, head) + sep + tail, error.reason)


def _list(value: Sequence[Any] | None) -> list[Any] | None:
    if value is None or isinstance(value, str):
        return value  # type: ignore[return-value]  # a string is reported by the event check
    return list(value)


def _dict(value: Mapping[str, Any] | None) -> dict[str, Any] | None:
    return dict(value) if isinstance(value, Mapping) else value


def _ranking(ranking: Sequence[str | Sequence[str]] | None) -> list[Any] | None:
    if ranking is None or isinstance(ranking, str):
        return ranking  # type: ignore[return-value]
    return [list(item) if isinstance(item, list | tuple) else item for item in ranking]
