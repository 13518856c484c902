"""What every LLM-client wrapper shares: one call's answers → candidates → one inference (or a
candidate set's share), the request id handed back, and the guard that keeps preflog out of the way.

A wrapper (:mod:`~preflog.integrations.openai_sdk`, :mod:`~preflog.integrations.anthropic_sdk`)
describes one endpoint with an :class:`Endpoint`: how to read the prompt, the sampling parameters
and the user from the call's keywords, and an :class:`Answer` from a response or from the chunks
of a stream. Everything else is here:

* :func:`guard` runs preflog's part of a call and counts any error of it in
  ``client.stats().integration_errors`` instead of raising: the application's call always returns
  what the provider returned (its own errors propagate unchanged).
* :class:`Call` is one call in flight: its keywords, its start time, the request id the caller
  chose (``preflog_request_id=``, removed before the provider sees the call) and the candidate set
  open when it started. :meth:`Call.log_response` (and ``log_stream``, ``log``) reads only the
  response's id and choice indexes in the calling thread and hands the rest to the SDK's worker
  (:meth:`preflog.Client.log_inference_later`), where the :class:`Answer` becomes candidates
  ``c{index}`` (model name from the request, version from the response); in a candidate set the
  candidates are built at once and added to it.
* The request id: the set's, else ``preflog_request_id=``, else the response id, else a new one;
  readable from :func:`preflog.current_request_id` and from the returned object's
  ``preflog_request_id`` (``preflog_candidate_ids`` names its candidates).
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from preflog.events import new_id
from preflog.sdk.candidates import CandidateSet, active_set, set_current_request_id

if TYPE_CHECKING:
    from preflog.sdk.client import Client

T = TypeVar("T")
logger = logging.getLogger("preflog")

REQUEST_ID_KEYWORD = "preflog_request_id"


@dataclass
class Answer:
    """What one provider response (or stream) said: one reply per choice, in the OpenAI candidate
    shape (``output``, ``tool_calls``, ``refusal``, ``finish_reason``, ``metadata``), by index."""

    response_id: str | None = None
    model_version: str | None = None
    replies: dict[int, dict[str, Any]] = field(default_factory=dict)
    usage: dict[str, float] | None = None


MetadataOf = Callable[[Answer], Mapping[str, Any]]  # a call's candidate metadata, given its answer


def _no_metadata(answer: Answer) -> Mapping[str, Any]:
    return {}


@dataclass(frozen=True)
class Endpoint:
    """One provider endpoint as preflog reads it. ``prompt(kwargs)`` gives ``(prompt, system)``;
    ``params`` and ``user_id`` read the keywords; ``answer`` reads a response, ``stream_answer``
    the chunks (or events) of a stream, in order."""

    name: str  # e.g. "openai.chat.completions", recorded in each candidate's metadata
    provider: str  # OpenTelemetry's gen_ai.provider.name: "openai", "azure.ai.openai", "anthropic"
    prompt: Callable[[Mapping[str, Any]], tuple[Any, str | None]]
    params: Callable[[Mapping[str, Any]], dict[str, Any] | None]
    user_id: Callable[[Mapping[str, Any]], str | None]
    answer: Callable[[Any], Answer]
    stream_answer: Callable[[Sequence[Any]], Answer]
    # A response's (a stream's chunks') id and the indexes of its choices: all the calling
    # thread reads of it; the rest is read in the SDK's worker.
    ids: Callable[[Any], tuple[str | None, list[int]]]
    stream_ids: Callable[[Sequence[Any]], tuple[str | None, list[int]]]

    def with_provider(self, provider: str) -> Endpoint:
        return dataclasses.replace(self, provider=provider)


def guard(client: Client, where: str, fn: Callable[..., T], *args: Any) -> T | None:
    """``fn(*args)``, or None when it raised: preflog's errors are counted, never the caller's."""
    try:
        return fn(*args)
    except Exception as exc:
        try:
            client.count_integration_error(where, exc)
        except Exception:  # a client without the counter (closed, replaced): still never raise
            logger.debug("preflog: could not count an integration error", exc_info=True)
        return None


class Call:
    """One wrapped call in flight (see the module docstring).

    Its keywords are kept as a shallow copy, with the ``messages`` / ``input`` lists copied too:
    applications append the reply to their history list right after the call, and the prompt is
    read later, in the SDK's worker thread (:meth:`preflog.Client.log_inference_later`), where
    the response becomes candidates: the calling thread only reads the response's id and choice
    indexes.
    """

    def __init__(self, client: Client, endpoint: Endpoint, kwargs: dict[str, Any]) -> None:
        self.client = client
        self.endpoint = endpoint
        given = kwargs.pop(REQUEST_ID_KEYWORD, None)
        self.kwargs = {k: list(v) if type(v) is list else v for k, v in kwargs.items()}
        self.given_request_id = given if isinstance(given, str) and given else None
        self.candidate_set = active_set(client)
        self.started = time.perf_counter()
        self.request_id: str | None = None

    def hold(self) -> None:
        """A stream: the open candidate set waits for it."""
        if self.candidate_set is not None:
            self.candidate_set.hold()

    def log_response(self, response: Any) -> tuple[str, list[str]]:
        """Log a provider's response (or add it to the candidate set); return the request id
        and candidate ids."""
        response_id, indexes = self.endpoint.ids(response)
        return self._log(lambda: self.endpoint.answer(response), response_id, indexes, _no_metadata)

    def log_stream(self, chunks: list[Any], metadata: MetadataOf) -> tuple[str, list[str]]:
        """Log a stream's chunks, assembled (with ``metadata(answer)``) in the worker."""
        response_id, indexes = self.endpoint.stream_ids(chunks)
        return self._log(lambda: self.endpoint.stream_answer(chunks), response_id, indexes, metadata)

    def log(self, answer: Answer, metadata: MetadataOf) -> tuple[str, list[str]]:
        """Log an answer already read (the Anthropic helper's message)."""
        return self._log(lambda: answer, answer.response_id, sorted(answer.replies), metadata)

    def _log(
        self,
        answer: Callable[[], Answer],
        response_id: str | None,
        indexes: list[int],
        metadata: MetadataOf,
    ) -> tuple[str, list[str]]:
        latency_ms = round((time.perf_counter() - self.started) * 1000, 3)
        cset = self.candidate_set
        if cset is not None:  # the set logs at its exit: its candidates are built now
            prompt, system = self.endpoint.prompt(self.kwargs)
            read = answer()
            candidates = self._candidates(read, latency_ms, metadata(read))
            user_id = self.endpoint.user_id(self.kwargs)
            ids = cset.gather(candidates, prompt=prompt, system=system, user_id=user_id)
            request_id = cset.request_id
        else:
            request_id = self.given_request_id or response_id or new_id()
            ids = [f"c{index}" for index in indexes]
            if ids:
                self.client.log_inference_later(
                    lambda: self._inference(answer(), request_id, latency_ms, metadata)
                )
        self.request_id = request_id
        set_current_request_id(request_id)
        return request_id, ids

    def _inference(
        self, answer: Answer, request_id: str, latency_ms: float, metadata: MetadataOf
    ) -> dict[str, Any]:
        """``log_inference``'s arguments, built in the SDK's worker thread."""
        prompt, system = self.endpoint.prompt(self.kwargs)
        return {
            "prompt": prompt,
            "candidates": self._candidates(answer, latency_ms, metadata(answer)),
            "request_id": request_id,
            "system": system,
            "user_id": self.endpoint.user_id(self.kwargs),
            "metadata": {"integration": self.endpoint.name},
        }

    def _candidates(
        self, answer: Answer, latency_ms: float, metadata: Mapping[str, Any]
    ) -> list[dict[str, Any]]:
        name = _text(self.kwargs.get("model")) or answer.model_version or "unknown"
        model = {"name": name, "version": answer.model_version, "provider": self.endpoint.provider}
        params = self.endpoint.params(self.kwargs)
        metadata = {"integration": self.endpoint.name, **metadata}
        return build_candidates(answer, model, params, latency_ms, metadata)


def build_candidates(
    answer: Answer,
    model: Mapping[str, Any],
    params: Mapping[str, Any] | None,
    latency_ms: float | None,
    metadata: Mapping[str, Any],
) -> list[dict[str, Any]]:
    """One candidate ``c{index}`` per reply of ``answer``, each with the call's model, params,
    usage (one response's usage is shared by its choices: ``choices: n`` says so), latency and
    ``metadata`` (with the response id)."""
    model = {k: v for k, v in model.items() if v}
    usage = answer.usage
    if usage is not None and len(answer.replies) > 1:
        usage = {**usage, "choices": len(answer.replies)}
    candidates = []
    for index in sorted(answer.replies):
        reply = dict(answer.replies[index])
        own = {**metadata, **reply.pop("metadata", {})}
        if answer.response_id:
            own["response_id"] = answer.response_id
        cand: dict[str, Any] = {"candidate_id": f"c{index}", **reply, "model": dict(model)}
        if latency_ms is not None:
            cand["latency_ms"] = latency_ms
        if params:
            cand["params"] = dict(params)
        if usage:
            cand["usage"] = usage
        cand["metadata"] = own
        candidates.append(cand)
    return candidates


def release(cset: CandidateSet | None) -> None:
    if cset is not None:
        cset.release()


def tag(result: Any, request_id: str, candidate_ids: list[str]) -> None:
    """Attach the request id and candidate ids to what the provider returned. ``object.__setattr__``
    keeps them out of a pydantic model's fields: ``model_dump()`` and ``to_json()`` stay the API's."""
    try:
        object.__setattr__(result, "preflog_request_id", request_id)
        object.__setattr__(result, "preflog_candidate_ids", candidate_ids)
    except (AttributeError, TypeError):  # an object with __slots__: the contextvar still has it
        pass


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def plain_params(kwargs: Mapping[str, Any], names: Mapping[str, str]) -> dict[str, Any] | None:
    """The sampling parameters among ``kwargs``, renamed to OpenTelemetry GenAI's names
    (``names``: keyword → name), also when sent in ``extra_body`` (the only way to send what an
    SDK version has no keyword for: ``anthropic`` 2.x has no ``temperature``). Only plain values:
    the SDKs' "not given" sentinels are skipped."""
    params: dict[str, Any] = {}
    extra = kwargs.get("extra_body")
    extra = extra if isinstance(extra, Mapping) else {}
    for keyword, name in names.items():
        value = kwargs.get(keyword, extra.get(keyword))
        if isinstance(value, bool) or value is None:
            continue
        if isinstance(value, int | float):
            params[name] = value
        elif isinstance(value, str):
            params[name] = [value] if name == "stop_sequences" else value
        elif isinstance(value, list | tuple) and all(isinstance(v, str) for v in value):
            params[name] = list(value)
    return params or None


def usage_of(raw: Any, names: Mapping[str, str]) -> dict[str, float] | None:
    """Token counts of a response's usage object, renamed (``names``: attribute → name)."""
    if raw is None:
        return None
    usage = {}
    for attr, name in names.items():
        value = raw.get(attr) if isinstance(raw, Mapping) else getattr(raw, attr, None)
        if isinstance(value, int | float) and not isinstance(value, bool) and value >= 0:
            usage[name] = value
    return usage or None


def dumped(value: Any) -> Any:
    """A pydantic object (the SDKs' types, passed back in a prompt) as plain JSON values."""
    dump = getattr(value, "model_dump", None)
    if callable(dump):
        return dump(mode="json", exclude_none=True)
    if isinstance(value, Mapping):
        return {k: dumped(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [dumped(v) for v in value]
    return value
