"""Spans → preflog events: one inference per LLM span, one score per evaluation result.

* An LLM span (GenAI ``gen_ai.operation.name`` chat / text_completion / generate_content, or the
  legacy GenAI layout, or OpenInference ``LLM``) becomes an **inference**: one candidate per output
  message, ids ``c0``, ``c1``... in their order; model, params and latency (the span's duration)
  on each candidate; token usage on the candidate when there is one, else in the inference's
  ``metadata.usage`` (it is the whole request's, not any one candidate's).
* Its **request id** is the span's ``preflog.request_id`` attribute, else ``gen_ai.response.id``,
  else the span id (16 hex digits). ``occurred_at`` is the span's start.
* A ``gen_ai.evaluation.result`` span event becomes a **score** of the candidate named by its
  ``preflog.candidate_id`` attribute (default ``c0``): ``gen_ai.evaluation.score.value`` is the
  score, ``gen_ai.evaluation.name`` the scorer and criterion; the label and explanation go to its
  metadata. It is about the request of the span it is attached to, or of ``gen_ai.response.id``
  when the event names one.
* **Event ids** are UUID version 5 over the trace id, the span id and what the event is, so an
  exporter sending a batch again (a retry) is answered ``duplicate`` for every event.

Spans that are not LLM calls (HTTP, database, agent and tool spans) are **ignored** and counted;
LLM spans that cannot be logged (no content captured, no output) are **rejected** and counted
with the reason — never dropped silently.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any, Final

from preflog.events import format_time
from preflog.integrations.chat import fit_candidate
from preflog.integrations.otlp import genai, openinference
from preflog.integrations.otlp.attrs import number, text
from preflog.integrations.otlp.call import LlmCall
from preflog.integrations.otlp.wire import Span, SpanEvent

#: The namespace of every event id made from a span (uuid5). Never change it: ids would change with it.
OTLP_NAMESPACE: Final = uuid.UUID("0f3c5b8e-7d2a-5e41-9b6c-6f746c700001")
REQUEST_ID_ATTRIBUTE: Final = "preflog.request_id"
CANDIDATE_ID_ATTRIBUTE: Final = "preflog.candidate_id"
EVALUATION_EVENT: Final = "gen_ai.evaluation.result"

Event = dict[str, Any]


@dataclass(frozen=True)
class SpanProblem:
    """Why span ``span_id`` (or one of its events) gave no event."""

    trace_id: str
    span_id: str
    name: str
    reason: str

    def __str__(self) -> str:
        return f"span {self.span_id} ({self.name}): {self.reason}"


@dataclass
class Conversion:
    """The events made from a batch of spans. ``origins[i]`` is ``(trace_id, span_id)`` of the
    span that ``events[i]`` came from, so a rejected event can be counted against its span."""

    spans: int = 0
    events: list[Event] = field(default_factory=list)
    origins: list[tuple[str, str]] = field(default_factory=list)
    llm_spans: int = 0
    ignored: int = 0
    problems: list[SpanProblem] = field(default_factory=list)

    def add(self, event: Event, span: Span) -> None:
        self.events.append(event)
        self.origins.append((span.trace_id, span.span_id))

    def reject(self, span: Span, reason: str) -> None:
        self.problems.append(SpanProblem(span.trace_id, span.span_id, span.name, reason))


def event_id(span: Span, *what: str) -> str:
    """The id of the event that ``what`` names in ``span``: the same on every export of the span."""
    return str(uuid.uuid5(OTLP_NAMESPACE, "\x1f".join((span.trace_id, span.span_id, *what))))


def request_id(span: Span, call: LlmCall | None) -> str:
    explicit = text(span.attributes, REQUEST_ID_ATTRIBUTE)
    if explicit:
        return explicit
    if call is not None and call.response_id:
        return call.response_id
    return span.span_id


def read_call(span: Span) -> LlmCall | None:
    """The LLM call a span records, or None for a span of another kind."""
    if openinference.is_llm(span):
        return openinference.read_call(span)
    if genai.is_inference(span):
        return genai.read_call(span)
    return None


def _time(unix_nano: int) -> str:
    return format_time(unix_nano / 1e9)


def _candidates(span: Span, call: LlmCall) -> list[dict[str, Any]]:
    latency = (span.end_time_unix_nano - span.start_time_unix_nano) / 1e6
    out = []
    for index, fields in enumerate(call.outputs):
        candidate: dict[str, Any] = {"candidate_id": f"c{index}", **fields, "model": dict(call.model)}
        if call.params:
            candidate["params"] = dict(call.params)
        if call.usage and len(call.outputs) == 1:
            candidate["usage"] = dict(call.usage)
        if latency >= 0 and span.end_time_unix_nano:
            candidate["latency_ms"] = round(latency, 3)
        out.append(fit_candidate(candidate))
    return out


def inference_event(span: Span, call: LlmCall) -> Event:
    """The inference event of an LLM span whose call has content."""
    metadata: dict[str, Any] = {
        "otlp": {"trace_id": span.trace_id, "span_id": span.span_id, "name": span.name},
        **call.metadata,
    }
    service = span.resource.get("service.name")
    if isinstance(service, str) and service:
        metadata["otlp"]["service"] = service
    if call.usage and len(call.outputs) > 1:
        metadata["usage"] = dict(call.usage)
    event: Event = {
        "event_id": event_id(span, "inference"),
        "type": "inference",
        "request_id": request_id(span, call),
        "occurred_at": _time(span.start_time_unix_nano),
        "prompt": call.prompt,
        "candidates": _candidates(span, call),
        "metadata": metadata,
    }
    optional = {"system": call.system, "user_id": call.user_id, "session_id": call.session_id}
    event.update({k: v for k, v in optional.items() if v})
    if call.tags:
        event["tags"] = call.tags
    return event


def score_event(span: Span, index: int, event: SpanEvent, request: str) -> Event | str:
    """The score event of a ``gen_ai.evaluation.result`` span event, or why there is none."""
    attrs = event.attributes
    name = text(attrs, "gen_ai.evaluation.name")
    if name is None:
        return "gen_ai.evaluation.result without gen_ai.evaluation.name"
    value = number(attrs.get("gen_ai.evaluation.score.value"))
    if value is None:
        return f"evaluation {name!r} has no numeric gen_ai.evaluation.score.value"
    metadata = {
        key: attrs[f"gen_ai.evaluation.{key}"]
        for key in ("score.label", "explanation")
        if text(attrs, f"gen_ai.evaluation.{key}")
    }
    score: Event = {
        "event_id": event_id(span, "evaluation", str(index)),
        "type": "score",
        "request_id": text(attrs, "gen_ai.response.id") or request,
        "occurred_at": _time(event.time_unix_nano or span.end_time_unix_nano or span.start_time_unix_nano),
        "candidate_id": text(attrs, CANDIDATE_ID_ATTRIBUTE) or "c0",
        "score": value,
        "scorer": {"name": name},
        "criterion": name,
    }
    if metadata:
        score["metadata"] = {"evaluation": metadata}
    return score


def _evaluations(conversion: Conversion, span: Span, request: str) -> bool:
    found = False
    for index, event in enumerate(span.events):
        if event.name != EVALUATION_EVENT:
            continue
        found = True
        score = score_event(span, index, event, request)
        if isinstance(score, str):
            conversion.reject(span, score)
        else:
            conversion.add(score, span)
    return found


def convert_spans(spans: list[Span]) -> Conversion:
    """The events of a batch of spans (see the module doc), with what was ignored or rejected."""
    conversion = Conversion(spans=len(spans))
    for span in spans:
        call = read_call(span)
        if call is not None:
            conversion.llm_spans += 1
            if call.missing is None:
                conversion.add(inference_event(span, call), span)
            else:
                conversion.reject(span, call.missing)
        has_evaluations = _evaluations(conversion, span, request_id(span, call))
        if call is None and not has_evaluations:
            conversion.ignored += 1
    return conversion
