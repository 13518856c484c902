"""``PreflogLogger``: a LiteLLM callback (a ``CustomLogger``) that logs every completion as an
inference, all ``n`` choices as candidates, streamed ones included.

    litellm.callbacks = [PreflogLogger(client)]

LiteLLM calls its hooks after each call (sync calls: ``log_success_event``; ``acompletion``:
``async_log_success_event``; failures: the ``*_failure_event`` twins), with the call's keywords and
the OpenAI-shaped ``ModelResponse`` (for a stream, the whole response assembled at its end). Each
choice becomes candidate ``c{index}`` as with :func:`~preflog.integrations.wrap_openai`: model
``{name: the request's model, version: the provider's, provider: LiteLLM's provider}``, params,
usage, latency (LiteLLM's start and end times), finish reason and tool calls.

* **Request id**: ``metadata={"preflog_request_id": ...}`` of the call, else LiteLLM's
  ``litellm_call_id``.
* **Traces are candidate sets**: calls that share a trace — ``metadata={"trace_id": ...}``, or
  LiteLLM's ``litellm_trace_id=`` keyword when the application passed one (LiteLLM makes up a
  trace id for every other call; those are not grouped) — become **one** inference: its request id
  is the first call's ``preflog_request_id``, else the trace id, and its candidates are numbered
  across the calls in arrival order. LiteLLM says nothing when a trace is over, so the inference is
  logged once the trace has had no call for ``trace_window`` seconds (default 2), at
  :meth:`PreflogLogger.flush`, or at interpreter exit. A failed call of a trace is counted in the
  inference's ``metadata.failed_calls``; a failed call alone logs nothing (there is no answer).
* Calls other than chat completions (embeddings, images...) are not inferences: ignored.

Like the wrappers, the hooks never raise: preflog's errors are counted in
``client.stats().integration_errors`` (LiteLLM would log them as its own otherwise).

When ``litellm`` is not importable the class is the same duck-typed object (LiteLLM finds its
hooks by name); with it, it subclasses ``litellm.integrations.custom_logger.CustomLogger``.
"""

from __future__ import annotations

import atexit
import threading
import weakref
from collections import OrderedDict
from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any, Final

from preflog.integrations import chat
from preflog.integrations.capture import REQUEST_ID_KEYWORD, build_candidates, dumped, guard, plain_params
from preflog.integrations.openai_sdk import CHAT_PARAMS, chat_answer
from preflog.sdk.candidates import CandidateSet

if TYPE_CHECKING:
    from preflog.sdk.client import Client


def _base() -> Any:
    try:
        from litellm.integrations.custom_logger import CustomLogger
    except ImportError:  # LiteLLM calls the hooks by name: a plain class has them as well
        return object
    return CustomLogger


_Base: Any = _base()

NAME: Final = "litellm"
PARAMS: Final = {**CHAT_PARAMS, "top_k": "top_k", "stop_sequences": "stop_sequences"}
_SEEN_MAX: Final = 10_000  # call ids remembered, so that a call reported twice is logged once


class PreflogLogger(_Base):  # type: ignore[misc]  # CustomLogger when litellm is there, else object
    """Logs LiteLLM completions to ``client`` (see the module docstring)."""

    def __init__(self, client: Client, *, trace_window: float = 2.0) -> None:
        if _Base is not object:
            super().__init__()
        self.client = client
        self.trace_window = trace_window
        self._traces: dict[str, tuple[CandidateSet, threading.Timer]] = {}
        self._seen: OrderedDict[str, None] = OrderedDict()
        self._lock = threading.Lock()
        atexit.register(_flush_at_exit, weakref.ref(self))

    # ---------------------------------------------------------------------------------------- the hooks

    def log_success_event(self, kwargs: Any, response_obj: Any, start_time: Any, end_time: Any) -> None:
        guard(self.client, NAME, self._success, kwargs, response_obj, start_time, end_time)

    async def async_log_success_event(
        self, kwargs: Any, response_obj: Any, start_time: Any, end_time: Any
    ) -> None:
        guard(self.client, NAME, self._success, kwargs, response_obj, start_time, end_time)

    def log_failure_event(self, kwargs: Any, response_obj: Any, start_time: Any, end_time: Any) -> None:
        guard(self.client, NAME, self._failure, kwargs)

    async def async_log_failure_event(
        self, kwargs: Any, response_obj: Any, start_time: Any, end_time: Any
    ) -> None:
        guard(self.client, NAME, self._failure, kwargs)

    def flush(self) -> None:
        """Log every trace still gathering, now."""
        with self._lock:
            traces = list(self._traces.values())
            self._traces.clear()
        for cset, timer in traces:
            timer.cancel()
            cset.close()

    # ---------------------------------------------------------------------------------------- inside

    def _success(self, kwargs: Mapping[str, Any], response: Any, start: Any, end: Any) -> None:
        choices = getattr(response, "choices", None)
        if not choices or getattr(choices[0], "message", None) is None:
            return  # not a chat completion
        call_id = kwargs.get("litellm_call_id")
        if not self._first_time(call_id):
            return
        metadata = _metadata(kwargs)
        # What LiteLLM may change after the hook is copied now; the rest is read in the worker.
        call: dict[str, Any] = {
            "model": kwargs.get("model"),
            "provider": kwargs.get("custom_llm_provider"),
            "messages": list(kwargs.get("messages") or []),
            "params": dict(kwargs.get("optional_params") or {}),
            "user_id": _user_id(kwargs, metadata),
            "call_id": call_id,
            "hidden": metadata.get("hidden_params"),
            "latency_ms": _latency_ms(start, end),
        }
        trace = _trace_id(kwargs, metadata)
        if trace is not None:
            prompt, candidates = _candidates(call, response)
            self._trace(trace, metadata).gather(candidates, prompt=prompt, user_id=call["user_id"])
            return
        request_id = metadata.get(REQUEST_ID_KEYWORD) or call_id or response.id
        self.client.log_inference_later(lambda: _inference(call, response, request_id))

    def _failure(self, kwargs: Mapping[str, Any]) -> None:
        trace = _trace_id(kwargs, _metadata(kwargs))
        if trace is not None:
            cset = self._trace(trace, _metadata(kwargs))
            cset.metadata["failed_calls"] = int(cset.metadata.get("failed_calls", 0)) + 1

    def _trace(self, trace: str, metadata: Mapping[str, Any]) -> CandidateSet:
        """The open set of ``trace`` (a new one for its first call), its quiet timer restarted."""
        with self._lock:
            found = self._traces.get(trace)
            if found is None:
                request_id = metadata.get(REQUEST_ID_KEYWORD) or trace
                cset = CandidateSet(self.client, None, request_id=str(request_id))
            else:
                cset, timer = found
                timer.cancel()
            timer = threading.Timer(self.trace_window, self._expire, (trace, cset))
            timer.daemon = True
            self._traces[trace] = (cset, timer)
        timer.start()
        return cset

    def _expire(self, trace: str, cset: CandidateSet) -> None:
        with self._lock:
            found = self._traces.get(trace)
            if found is None or found[0] is not cset:
                return
            del self._traces[trace]
        guard(self.client, NAME, cset.close)

    def _first_time(self, call_id: Any) -> bool:
        if not isinstance(call_id, str):
            return True
        with self._lock:
            if call_id in self._seen:
                return False
            self._seen[call_id] = None
            if len(self._seen) > _SEEN_MAX:
                self._seen.popitem(last=False)
        return True


def _candidates(call: Mapping[str, Any], response: Any) -> tuple[list[Any], list[dict[str, Any]]]:
    """The prompt and the candidates of one LiteLLM call (see the module docstring)."""
    answer = chat_answer(response)
    hidden = call["hidden"]
    version = hidden.get("provider_response_model") if isinstance(hidden, Mapping) else None
    answer.model_version = version or answer.model_version
    model = {
        "name": call["model"] or "unknown",
        "version": answer.model_version,
        "provider": call["provider"],
    }
    own = {"integration": NAME, "litellm_call_id": call["call_id"]}
    params = plain_params(call["params"], PARAMS)
    prompt = chat.chat_messages(dumped(call["messages"]))
    return prompt, build_candidates(answer, model, params, call["latency_ms"], own)


def _inference(call: Mapping[str, Any], response: Any, request_id: str) -> dict[str, Any]:
    """``log_inference``'s arguments, built in the SDK's worker thread."""
    prompt, candidates = _candidates(call, response)
    return {
        "prompt": prompt,
        "candidates": candidates,
        "request_id": request_id,
        "user_id": call["user_id"],
        "metadata": {"integration": NAME},
    }


def _flush_at_exit(ref: weakref.ref[PreflogLogger]) -> None:
    logger = ref()
    if logger is not None:
        logger.flush()


def _metadata(kwargs: Mapping[str, Any]) -> Mapping[str, Any]:
    params = kwargs.get("litellm_params") or {}
    metadata = params.get("metadata") if isinstance(params, Mapping) else None
    return metadata if isinstance(metadata, Mapping) else {}


def _trace_id(kwargs: Mapping[str, Any], metadata: Mapping[str, Any]) -> str | None:
    """The trace the application named: ``metadata["trace_id"]``, else the ``litellm_trace_id=``
    it passed (LiteLLM keeps that in ``litellm_params``; the one it generates is only top-level)."""
    params = kwargs.get("litellm_params") or {}
    for value in (
        metadata.get("trace_id"),
        params.get("litellm_trace_id") if isinstance(params, Mapping) else None,
    ):
        if isinstance(value, str) and value:
            return value
    return None


def _user_id(kwargs: Mapping[str, Any], metadata: Mapping[str, Any]) -> str | None:
    for value in (kwargs.get("user"), metadata.get("user_id")):
        if isinstance(value, str) and value.strip():
            return value
    return None


def _latency_ms(start: Any, end: Any) -> float | None:
    if isinstance(start, datetime) and isinstance(end, datetime) and end >= start:
        return round((end - start).total_seconds() * 1000, 3)
    return None
