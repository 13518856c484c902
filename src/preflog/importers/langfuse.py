"""Langfuse exports → inferences (generations) and judgments (scores).

Input, as Langfuse's public API returns them: observations (``GET /api/public/observations``:
``{"data": [...], "meta": {...}}``), scores (``GET /api/public/v2/scores``, or the v3 shape with a
``subject``), and optionally traces (``GET /api/public/traces``) for their user, session and tags;
in one file or several, JSONL or JSON.

* A ``GENERATION`` observation is one **inference**, request id = the observation id: ``input``
  (a string, a list of chat messages, or ``{"messages": [...]}``) is the prompt, ``output`` (a
  string, a message, or an OpenAI response with ``choices``) the candidates ``c0``, ``c1``...;
  ``model`` and ``modelParameters`` (numeric strings read as numbers, ``"inf"`` left out) on each
  candidate; ``usageDetails`` (or ``usage``) ``input``/``output``/``total`` as ``input_tokens``/
  ``output_tokens``/``total_tokens``; latency from ``startTime`` to ``endTime``. The trace's
  ``userId``, ``sessionId`` and ``tags`` when the trace is in the files. Other observation types
  (spans, events, agents, tools) are skipped: they are not LLM calls.
* A **score** of an observation is about that request (the observation may be in another
  import: the judgment waits for it); a score of a trace is about the trace's last generation in
  the files. NUMERIC and BOOLEAN scores become scores or thumbs signals
  (:mod:`preflog.importers.feedback`); source ``EVAL`` → ``ai_judge``, ``ANNOTATION`` →
  ``human``. CATEGORICAL, TEXT and CORRECTION scores have no number and are rejected with that
  reason; session and dataset-run scores are skipped.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import Any, Final

from preflog.errors import ValidationError
from preflog.importers.base import Event, ImportOptions, stable_id
from preflog.importers.bundle import RowOutcome, SourceRow
from preflog.importers.feedback import judgment, numeric, utc_time
from preflog.importers.openai_stored import usage_of
from preflog.integrations import chat

FORMAT: Final = "langfuse"
OBSERVATION_TYPES: Final = frozenset(
    {
        "GENERATION",
        "SPAN",
        "EVENT",
        "AGENT",
        "TOOL",
        "CHAIN",
        "RETRIEVER",
        "EVALUATOR",
        "EMBEDDING",
        "GUARDRAIL",
    }
)
NUMERIC_SCORES: Final = frozenset({"NUMERIC", "BOOLEAN"})
SCORER_KINDS: Final = {"EVAL": "ai_judge", "ANNOTATION": "human"}
USAGE_NAMES: Final = {"input": "input_tokens", "output": "output_tokens", "total": "total_tokens"}
TYPED_PARAMS: Final = {"temperature": float, "top_p": float, "max_tokens": int, "seed": int}


def _kind(value: Mapping[str, Any]) -> str:
    if value.get("type") in OBSERVATION_TYPES:
        return "observation"
    if "dataType" in value or ("value" in value and "name" in value and "source" in value):
        return "score"
    if "timestamp" in value and "id" in value:
        return "trace"
    return "unknown"


# ---------------------------------------------------------------------------------------------- generations


def _prompt(raw: Any) -> tuple[str | None, str | list[chat.Message]]:
    if isinstance(raw, Mapping) and isinstance(raw.get("messages"), list):
        raw = raw["messages"]
    if isinstance(raw, Mapping) and "role" in raw:
        raw = [raw]
    if isinstance(raw, list):
        return chat.split_system(chat.chat_messages(raw))
    return None, chat.as_text(raw)


def _outputs(raw: Any, model: dict[str, Any]) -> list[dict[str, Any]]:
    if isinstance(raw, str):
        return [{"candidate_id": "c0", "output": raw, "model": dict(model)}]
    if isinstance(raw, Mapping) and isinstance(raw.get("choices"), list):
        return [
            chat.candidate(f"c{i}", c.get("message") or {}, model=model, finish_reason=c.get("finish_reason"))
            for i, c in enumerate(raw["choices"])
            if isinstance(c, Mapping)
        ]
    if isinstance(raw, Mapping):
        return [chat.candidate("c0", raw, model=model)]
    if isinstance(raw, list):
        replies = [m for m in raw if isinstance(m, Mapping) and chat.role_of(m.get("role")) == "assistant"]
        return [chat.candidate(f"c{i}", m, model=model) for i, m in enumerate(replies)]
    return []


def _params(raw: Any) -> dict[str, Any]:
    if not isinstance(raw, Mapping):
        return {}
    params: dict[str, Any] = {}
    for key, value in raw.items():
        kind = TYPED_PARAMS.get(str(key))
        if kind is None:
            params[str(key)] = value
            continue
        number = numeric(value)
        if number is not None and not isinstance(value, bool) and (kind is float or number.is_integer()):
            params[str(key)] = kind(number)
    return params


def _latency(row: Mapping[str, Any]) -> float | None:
    from preflog.events import parse_time

    start, end = utc_time(row.get("startTime"), "startTime"), utc_time(row.get("endTime"), "endTime")
    if start is None or end is None:
        return None
    ms = (parse_time(end) - parse_time(start)).total_seconds() * 1000
    return round(ms, 3) if ms >= 0 else None


def _generation(row: Mapping[str, Any], trace: Mapping[str, Any], options: ImportOptions) -> Event:
    observation_id = str(row["id"])
    model = {"name": str(row.get("model") or "unknown")}
    candidates = _outputs(row.get("output"), model)
    if not candidates:
        status = row.get("statusMessage")
        raise ValidationError("no output" + (f" ({status})" if status else ""), path="output")
    extras: dict[str, Any] = {"params": _params(row.get("modelParameters")), "latency_ms": _latency(row)}
    usage = {
        USAGE_NAMES.get(k, k): v for k, v in usage_of(row.get("usageDetails") or row.get("usage")).items()
    }
    if len(candidates) == 1 and usage:
        extras["usage"] = usage
    for candidate in candidates:
        candidate.update({k: v for k, v in extras.items() if v})
    system, prompt = _prompt(row.get("input"))
    info = {
        k: row[k] for k in ("traceId", "name", "environment", "promptName", "promptVersion") if row.get(k)
    }
    metadata: dict[str, Any] = {
        "imported_from": FORMAT,
        "langfuse": {"observation_id": observation_id, **info},
    }
    if usage and len(candidates) > 1:
        metadata["usage"] = usage
    event: Event = {
        "event_id": stable_id(FORMAT, "inference", observation_id),
        "type": "inference",
        "request_id": observation_id,
        "occurred_at": utc_time(row.get("startTime"), "startTime") or options.occurred_at,
        "prompt": prompt,
        "candidates": candidates,
        "metadata": metadata,
    }
    if system is not None:
        event["system"] = system
    for key, name in (("userId", "user_id"), ("sessionId", "session_id")):
        if isinstance(trace.get(key), str) and trace[key]:
            event[name] = trace[key]
    tags = [t for t in trace.get("tags") or [] if isinstance(t, str) and t.strip()]
    if tags:
        event["tags"] = tags
    return event


# ---------------------------------------------------------------------------------------------- scores


def _target(row: Mapping[str, Any]) -> tuple[str, str | None]:
    """``(kind, id)`` of what a score is about: ``observation``, ``trace``, or something else."""
    subject = row.get("subject")
    if isinstance(subject, Mapping):
        return str(subject.get("kind", "")), subject.get("id")
    if row.get("observationId"):
        return "observation", str(row["observationId"])
    if row.get("traceId"):
        return "trace", str(row["traceId"])
    return "session" if row.get("sessionId") else "dataset run", None


def _score(
    row: Mapping[str, Any], last_generation: Mapping[str, str], traces: Mapping[str, Any]
) -> Event | str:
    """The judgment of a score row, or why it is skipped (raises ValidationError when rejected)."""
    kind, target = _target(row)
    if kind not in ("observation", "trace") or not target:
        return f"a {kind} score: not about one generation"
    request_id = target if kind == "observation" else last_generation.get(target)
    if request_id is None:
        raise ValidationError(f"trace {target} has no generation in these files", path="traceId")
    data_type = str(row.get("dataType", "NUMERIC"))
    value = numeric(row.get("value"))
    if data_type not in NUMERIC_SCORES or value is None:
        raise ValidationError(f"a {data_type} score has no number preflog can use", path="value")
    trace_id = row.get("traceId") or (row.get("subject") or {}).get("traceId")
    occurred = utc_time(row.get("timestamp") or row.get("createdAt"), "timestamp")
    info = {k: row[k] for k in ("source", "dataType", "stringValue", "configId") if row.get(k)}
    return judgment(
        FORMAT,
        str(row.get("id")),
        request_id=request_id,
        name=str(row.get("name") or "score"),
        value=value,
        occurred_at=occurred or "1970-01-01T00:00:00.000000Z",
        scorer_kind=SCORER_KINDS.get(str(row.get("source"))),
        user_id=(traces.get(str(trace_id)) or {}).get("userId"),
        comment=row.get("comment") if isinstance(row.get("comment"), str) else None,
        metadata={"imported_from": FORMAT, "langfuse": {"score_id": row.get("id"), **info}},
    )


def _index(rows: Sequence[SourceRow]) -> tuple[dict[str, Any], dict[str, str]]:
    """Traces by id, and the last generation (by start time) of each trace."""
    traces: dict[str, Any] = {}
    generations: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for source in rows:
        value = source.value
        if not isinstance(value, Mapping):
            continue
        kind = _kind(value)
        if kind == "trace":
            traces[str(value["id"])] = value
        elif kind == "observation" and value.get("type") == "GENERATION" and value.get("traceId"):
            generations[str(value["traceId"])].append((str(value.get("startTime") or ""), str(value["id"])))
    return traces, {trace: max(items)[1] for trace, items in generations.items()}


def _outcome(
    source: SourceRow, traces: dict[str, Any], last: dict[str, str], options: ImportOptions
) -> RowOutcome:
    value = source.value
    outcome = RowOutcome(source)
    kind = _kind(value) if isinstance(value, Mapping) else "unknown"
    if kind == "unknown":
        outcome.error = ValidationError("neither an observation (type), a score (dataType) nor a trace")
    elif kind == "trace":
        pass  # read for its user, session and tags; no event of its own
    elif kind == "observation" and value.get("type") != "GENERATION":
        outcome.skipped = f"a {value.get('type')} observation: not an LLM call"
    elif kind == "observation":
        if not value.get("id"):
            raise ValidationError("required", path="id")
        outcome.events = [_generation(value, traces.get(str(value.get("traceId"))) or {}, options)]
    else:
        event = _score(value, last, traces)
        if isinstance(event, str):
            outcome.skipped = event
        else:
            outcome.events = [event]
    return outcome


def langfuse_events(rows: Sequence[SourceRow], options: ImportOptions) -> list[RowOutcome]:
    traces, last = _index(rows)
    outcomes = []
    for source in rows:
        try:
            outcomes.append(_outcome(source, traces, last, options))
        except ValidationError as exc:
            outcomes.append(RowOutcome(source, error=exc))
    return outcomes
