"""Candidate sets and the current request id: what ties wrapped LLM calls to preflog inferences.

``client.candidate_set(prompt)`` opens a :class:`CandidateSet`; while it is open (in this thread
or async task, through a :mod:`contextvars` variable), every call made through a wrapped client
(:mod:`preflog.integrations`) adds its answers to the set instead of logging an inference of its
own, and on exit the set logs **one** inference holding them all: an A/B test across providers,
or ``n`` answers from a provider that has no ``n`` (Anthropic).

>>> import os, tempfile, preflog
>>> path = os.path.join(tempfile.mkdtemp(), "feedback.db")
>>> with preflog.Client(db=path) as client:
...     with client.candidate_set("Name a colour.", request_id="r1") as ab:
...         ab.add({"output": "Red.", "model": "model-a"}, {"output": "Blue.", "model": "model-b"})
...         ab.presented = ["c1", "c0"]
...     preflog.current_request_id()
['c0', 'c1']
'r1'

Candidate ids are ``c0``, ``c1``, ... in the order the answers reached the set. A stream opened
inside the set holds it: the inference is logged when the set has exited *and* every such stream
has ended (or was closed, or failed). A set left by an exception still logs what it gathered, with
``metadata.incomplete`` naming the exception.

:func:`current_request_id` is the request id of the last inference a wrapped call logged (or the
open set's) in this context; async tasks started with :func:`asyncio.gather` each have their own
copy, so read it from the returned object's ``preflog_request_id`` there.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from contextvars import ContextVar, Token
from typing import Any, Protocol

from preflog.events import new_id
from preflog.sdk import args
from preflog.sdk.build import Clock, Record, build_inference

Prompt = str | Sequence[Mapping[str, Any]]


class Client(Protocol):
    """What a set needs of :class:`preflog.Client` (a protocol: this module is imported by it)."""

    def log_inference(
        self,
        prompt: Prompt,
        outputs: Any = None,
        *,
        candidates: Sequence[Mapping[str, Any]] | None = None,
        request_id: str | None = None,
        system: str | None = None,
        presented: Sequence[str] | None = None,
        user_id: str | None = None,
        metadata: Mapping[str, Any] | None = None,
    ) -> str: ...

    def count_integration_error(self, where: str, exc: BaseException) -> None: ...


__all__ = [
    "CandidateSet",
    "active_set",
    "build_later",
    "current_request_id",
    "set_current_request_id",
]

_REQUEST_ID: ContextVar[str | None] = ContextVar("preflog_request_id", default=None)
_ACTIVE: ContextVar[CandidateSet | None] = ContextVar("preflog_candidate_set", default=None)


def current_request_id() -> str | None:
    """The request id of the last inference logged by a wrapped call in this context (or of the
    open candidate set), None before any."""
    return _REQUEST_ID.get()


def set_current_request_id(request_id: str) -> None:
    _REQUEST_ID.set(request_id)


def build_later(record: Record, project: str, clock: Clock) -> dict[str, Any]:
    """The worker's side of :meth:`preflog.Client.log_inference_later`: ``make()`` gives the
    arguments of ``log_inference`` (``prompt``, ``candidates``, ``request_id``, and optionally
    ``system``, ``user_id``, ``metadata``), checked here as that call checks them; a
    :class:`~preflog.errors.ValidationError` (or any error of ``make``) makes the event rejected,
    counted with its reason."""
    _, ts, make = record
    spec: Mapping[str, Any] = make()
    request_id = args.check_ident(spec["request_id"], "request_id")
    prompt = args.check_prompt(spec["prompt"])
    outs = args.check_outputs(None, spec["candidates"], None, None)
    system = spec.get("system")
    if system is not None:
        args.check_text(system, "system")
    extras: dict[str, Any] = {}
    if spec.get("user_id") is not None:
        extras["user_id"] = args.check_ident(spec["user_id"], "user_id")
    if spec.get("metadata") is not None:
        extras["metadata"] = dict(args.check_mapping(spec["metadata"], "metadata"))
    return build_inference(
        (build_inference, ts, request_id, prompt, system, outs, None, None, extras), project, clock
    )


LaterInference = Callable[[], Mapping[str, Any]]


def active_set(client: Client) -> CandidateSet | None:
    """The candidate set open in this context for ``client``, if any (a set of another client is
    not this one's: its calls log their own inferences)."""
    found = _ACTIVE.get()
    return found if found is not None and found.client is client else None


class CandidateSet:
    """Gathers candidates from several calls into one inference; see the module docstring.

    ``prompt`` may be None: the prompt (and system prompt) of the first wrapped call is used.
    ``presented`` (the order shown) may also be set on the object inside the block, once the
    candidate ids are known.
    """

    def __init__(
        self,
        client: Client,
        prompt: Prompt | None,
        *,
        request_id: str | None = None,
        presented: Sequence[str] | None = None,
        system: str | None = None,
        user_id: str | None = None,
        metadata: Mapping[str, Any] | None = None,
    ) -> None:
        self.client = client
        self.prompt = prompt
        self.system = system
        self.user_id = user_id
        self.request_id = request_id if request_id is not None else new_id()
        self.presented = None if presented is None else list(presented)
        self.metadata = dict(metadata or {})
        self.candidates: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._holds = 0
        self._exited = False
        self._logged = False
        self._token: Token[CandidateSet | None] | None = None

    # ---------------------------------------------------------------------------------------- gathering

    def add(self, *candidates: Mapping[str, Any]) -> list[str]:
        """Add candidate dicts (as :meth:`Client.log_inference` takes them: ``{output, model, ...}``);
        return the ids they got. A ``candidate_id`` given is replaced: ids number the whole set."""
        return self.gather(list(candidates))

    def gather(
        self,
        candidates: list[dict[str, Any]] | list[Mapping[str, Any]],
        *,
        prompt: Prompt | None = None,
        system: str | None = None,
        user_id: str | None = None,
    ) -> list[str]:
        """What a wrapped call does with its answers: numbered, kept, their ids returned. The first
        call's prompt, system prompt and user id fill the set's when it was opened without."""
        with self._lock:
            start = len(self.candidates)
            ids = [f"c{start + i}" for i in range(len(candidates))]
            for cid, cand in zip(ids, candidates, strict=True):
                self.candidates.append({**cand, "candidate_id": cid})
            if self.prompt is None and prompt is not None:
                self.prompt, self.system = prompt, self.system or system
            if self.user_id is None:
                self.user_id = user_id
        return ids

    def hold(self) -> None:
        """A stream opened in the set: the inference waits for :meth:`release`."""
        with self._lock:
            self._holds += 1

    def release(self) -> None:
        with self._lock:
            self._holds -= 1
            due = self._exited and self._holds == 0 and not self._logged
            self._logged = self._logged or due
        if due:
            self._log()

    # ---------------------------------------------------------------------------------------- context

    def __enter__(self) -> CandidateSet:
        self._token = _ACTIVE.set(self)
        _REQUEST_ID.set(self.request_id)
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: Any) -> None:
        if self._token is not None:
            _ACTIVE.reset(self._token)
            self._token = None
        _REQUEST_ID.set(self.request_id)
        if exc_type is not None:
            self.metadata.setdefault("incomplete", exc_type.__name__)
        if self._due():
            self._log(raise_errors=exc_type is None)

    def close(self) -> None:
        """Log the set now (or when its last stream ends), without a ``with`` block: for callers
        that gather outside one (the LiteLLM logger's traces). A caller's mistake is counted in
        ``stats().integration_errors``, not raised."""
        if self._due():
            self._log()

    def _due(self) -> bool:
        """Mark the set exited; whether it is to be logged now (no stream holds it, not yet logged)."""
        with self._lock:
            self._exited = True
            due = self._holds == 0 and not self._logged
            self._logged = self._logged or due
        return due

    async def __aenter__(self) -> CandidateSet:
        return self.__enter__()

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: Any
    ) -> None:
        self.__exit__(exc_type, exc, tb)

    def _log(self, *, raise_errors: bool = False) -> None:
        """Log the inference. A mistake of the caller's (a ``presented`` naming no candidate, no
        prompt) raises when the block ends normally; after an exception, or when a stream ends the
        set later, it is counted in ``stats().integration_errors`` instead."""
        if not self.candidates:
            return
        try:
            self.client.log_inference(
                self.prompt if self.prompt is not None else "",
                candidates=self.candidates,
                request_id=self.request_id,
                system=self.system,
                presented=self.presented,
                user_id=self.user_id,
                metadata=self.metadata or None,
            )
        except Exception as exc:
            if raise_errors:
                raise
            self.client.count_integration_error("candidate_set", exc)

    def __repr__(self) -> str:
        return f"CandidateSet(request_id={self.request_id!r}, candidates={len(self.candidates)})"
