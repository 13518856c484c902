"""LangSmith exports → inferences (LLM runs) and judgments (feedback).

Input, as LangSmith returns them: runs (``client.list_runs()`` dumped as JSONL, or the
``POST /runs/query`` page ``{"runs": [...], "cursors": ...}``) and feedback (``client.list_feedback()``
or ``GET /feedback``), in one file or several.

* A run with ``run_type: "llm"`` is one **inference**, request id = the run id. ``inputs`` are
  read in every shape LangChain and the OpenAI wrapper write: ``{"messages": [[...]]}`` (a batch of
  one), ``{"messages": [...]}``, ``{"prompts": ["..."]}``, with messages serialized by LangChain
  (``{"lc": 1, "id": [..., "HumanMessage"], "kwargs": {...}}``), as ``{"type": "human", ...}`` or in
  the OpenAI shape. ``outputs`` are ``{"generations": [[...]]}`` (one candidate per generation,
  ``c0``, ``c1``..., with LangChain tool calls) or an OpenAI response (``choices``). The model is
  ``extra.metadata.ls_model_name`` (else ``invocation_params.model``), its provider ``ls_provider``;
  ``invocation_params`` give temperature, top_p, max_tokens, seed and stop; token counts come
  from the run (``prompt_tokens``...), ``llm_output.token_usage`` or the message's
  ``usage_metadata``. ``extra.metadata`` ``user_id`` and ``session_id`` / ``thread_id`` /
  ``conversation_id`` become ``user_id`` and ``session_id``; ``tags`` are kept. A failed run
  without outputs is rejected with its error; chain, tool, retriever... runs are skipped.
* **Feedback** on an LLM run is about that request (the run may come in another import: the
  judgment waits for it); feedback on a chain or root run in the files is about the last LLM run
  of its trace. A numeric or boolean ``score`` (or a numeric ``value``) becomes a score or a thumbs
  signal (:mod:`preflog.importers.feedback`); ``feedback_source.type`` ``model`` → ``ai_judge``,
  ``app``/``api`` → ``human``. ``comment`` and ``correction`` go to its metadata. Feedback without
  a number is rejected with that reason.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import Any, Final

from preflog.errors import ValidationError
from preflog.importers.base import Event, ImportOptions, stable_id
from preflog.importers.bundle import RowOutcome, SourceRow
from preflog.importers.feedback import judgment, mapping, numeric, utc_time
from preflog.importers.openai_stored import usage_of
from preflog.integrations import chat

FORMAT: Final = "langsmith"
LC_ROLES: Final = {
    "HumanMessage": "user",
    "AIMessage": "assistant",
    "SystemMessage": "system",
    "ToolMessage": "tool",
    "FunctionMessage": "tool",
    "HumanMessageChunk": "user",
    "AIMessageChunk": "assistant",
}
PARAMS: Final = (
    "temperature",
    "top_p",
    "top_k",
    "max_tokens",
    "seed",
    "stop",
    "presence_penalty",
    "frequency_penalty",
)
SESSION_KEYS: Final = ("session_id", "thread_id", "conversation_id")
SCORER_KINDS: Final = {"model": "ai_judge", "app": "human", "api": "human"}


# ---------------------------------------------------------------------------------------------- messages


def message(raw: Any) -> dict[str, Any] | None:
    """A LangChain message (serialized, ``{type, content}``, ``{type, data}``) in the OpenAI shape."""
    if not isinstance(raw, Mapping):
        return None
    role = None
    if raw.get("lc") and isinstance(raw.get("kwargs"), Mapping):
        ids = raw.get("id") or []
        role = LC_ROLES.get(str(ids[-1]) if ids else "")
        raw = raw["kwargs"]
    elif isinstance(raw.get("data"), Mapping) and "type" in raw:
        role, raw = raw.get("type"), raw["data"]
    out = dict(raw)
    out["role"] = raw.get("role") or role or raw.get("type")
    extra = raw.get("additional_kwargs")
    if not raw.get("tool_calls") and isinstance(extra, Mapping) and extra.get("tool_calls"):
        out["tool_calls"] = extra["tool_calls"]
    return out


def _messages(raw: Any) -> list[dict[str, Any]]:
    if isinstance(raw, list) and raw and isinstance(raw[0], list):
        raw = raw[0]  # a batch of conversations: LangChain logs one per call
    return [m for m in (message(item) for item in raw or []) if m is not None]


def _prompt(inputs: Any) -> tuple[str | None, str | list[chat.Message]]:
    if not isinstance(inputs, Mapping):
        return None, chat.as_text(inputs)
    if isinstance(inputs.get("messages"), list):
        return chat.split_system(chat.chat_messages(_messages(inputs["messages"])))
    prompts = inputs.get("prompts")
    if isinstance(prompts, list) and prompts and isinstance(prompts[0], str):
        return None, prompts[0]
    for key in ("prompt", "input", "question"):
        if isinstance(inputs.get(key), str):
            return None, inputs[key]
    return None, chat.as_text(inputs)


def _generation(raw: Any, index: int, model: dict[str, Any]) -> dict[str, Any]:
    gen = raw if isinstance(raw, Mapping) else {"text": chat.as_text(raw)}
    reply = message(gen.get("message"))
    info = mapping(gen.get("generation_info"))
    meta = (reply or {}).get("response_metadata")
    finish = info.get("finish_reason") or (meta.get("finish_reason") if isinstance(meta, Mapping) else None)
    if reply is None:
        reply = {"content": gen.get("text", "")}
    return chat.candidate(f"c{index}", reply, model=model, finish_reason=finish)


def _candidates(outputs: Any, model: dict[str, Any]) -> list[dict[str, Any]]:
    if not isinstance(outputs, Mapping):
        return []
    generations = outputs.get("generations")
    if isinstance(generations, list) and generations:
        batch = generations[0] if isinstance(generations[0], list) else generations
        return [_generation(g, i, model) for i, g in enumerate(batch)]
    if isinstance(outputs.get("choices"), list):
        return [
            chat.candidate(f"c{i}", c.get("message") or {}, model=model, finish_reason=c.get("finish_reason"))
            for i, c in enumerate(outputs["choices"])
            if isinstance(c, Mapping)
        ]
    if "content" in outputs or "tool_calls" in outputs:
        return [chat.candidate("c0", message(outputs) or {}, model=model)]
    if isinstance(outputs.get("output"), str):
        return [{"candidate_id": "c0", "output": outputs["output"], "model": dict(model)}]
    return []


# ---------------------------------------------------------------------------------------------- runs


def _extra(run: Mapping[str, Any]) -> tuple[Mapping[str, Any], Mapping[str, Any]]:
    extra = mapping(run.get("extra"))
    params = mapping(extra.get("invocation_params"))
    metadata = mapping(extra.get("metadata"))
    return params, metadata


def _model(run: Mapping[str, Any]) -> dict[str, Any]:
    params, metadata = _extra(run)
    name = metadata.get("ls_model_name") or params.get("model") or params.get("model_name") or run.get("name")
    model: dict[str, Any] = {"name": str(name or "unknown")}
    if metadata.get("ls_provider"):
        model["provider"] = str(metadata["ls_provider"])
    return model


def _usage(run: Mapping[str, Any], candidates: list[dict[str, Any]]) -> dict[str, Any]:
    usage = usage_of({k: run.get(k) for k in ("prompt_tokens", "completion_tokens", "total_tokens")})
    outputs = mapping(run.get("outputs"))
    llm_output = mapping(outputs.get("llm_output"))
    return usage or usage_of(llm_output.get("token_usage")) or usage_of(outputs.get("usage"))


def _llm_run(run: Mapping[str, Any], options: ImportOptions) -> Event:
    run_id = str(run["id"])
    model = _model(run)
    candidates = _candidates(run.get("outputs"), model)
    if not candidates:
        error = run.get("error")
        raise ValidationError(f"the run failed: {error}" if error else "no outputs", path="outputs")
    params, metadata = _extra(run)
    chosen = {k: params[k] for k in PARAMS if params.get(k) is not None}
    if "max_tokens" not in chosen and params.get("max_completion_tokens") is not None:
        chosen["max_tokens"] = params["max_completion_tokens"]
    start, end = utc_time(run.get("start_time"), "start_time"), utc_time(run.get("end_time"), "end_time")
    usage = _usage(run, candidates)
    for candidate in candidates:
        if chosen:
            candidate["params"] = dict(chosen)
        if start and end:
            from preflog.events import parse_time

            candidate["latency_ms"] = max(0.0, (parse_time(end) - parse_time(start)).total_seconds() * 1000)
    info: dict[str, Any] = {"imported_from": FORMAT, "langsmith": {"run_id": run_id, "name": run.get("name")}}
    if run.get("trace_id"):
        info["langsmith"]["trace_id"] = str(run["trace_id"])
    if usage and len(candidates) == 1:
        candidates[0]["usage"] = usage
    elif usage:
        info["usage"] = usage
    system, prompt = _prompt(run.get("inputs"))
    event: Event = {
        "event_id": stable_id(FORMAT, "inference", run_id),
        "type": "inference",
        "request_id": run_id,
        "occurred_at": start or options.occurred_at,
        "prompt": prompt,
        "candidates": candidates,
        "metadata": info,
    }
    if system is not None:
        event["system"] = system
    if isinstance(metadata.get("user_id"), str) and metadata["user_id"]:
        event["user_id"] = metadata["user_id"]
    session = next(
        (metadata[k] for k in SESSION_KEYS if isinstance(metadata.get(k), str) and metadata[k]), None
    )
    if session:
        event["session_id"] = session
    tags = [t for t in run.get("tags") or [] if isinstance(t, str) and t.strip()]
    if tags:
        event["tags"] = tags
    return event


# ---------------------------------------------------------------------------------------------- feedback


def _feedback(row: Mapping[str, Any], runs: Mapping[str, Any], last_llm: Mapping[str, str]) -> Event:
    run_id = str(row.get("run_id") or "")
    if not run_id:
        raise ValidationError("feedback without a run_id", path="run_id")
    run = runs.get(run_id)
    request_id = run_id
    if run is not None and run.get("run_type") != "llm":
        trace = str(run.get("trace_id") or run_id)
        if trace not in last_llm:
            raise ValidationError(
                f"run {run_id} is a {run.get('run_type')} run with no LLM run in its trace", path="run_id"
            )
        request_id = last_llm[trace]
    value = numeric(row.get("score"))
    if value is None and not isinstance(row.get("value"), str):
        value = numeric(row.get("value"))
    key = str(row.get("key") or "feedback")
    if value is None:
        raise ValidationError(f"feedback {key!r} has no numeric score", path="score")
    source = mapping(row.get("feedback_source"))
    llm = runs.get(request_id) or {}
    user = _extra(llm)[1].get("user_id") if llm else None
    info = {k: row[k] for k in ("correction", "value") if row.get(k) is not None}
    if source.get("type"):
        info["source"] = source["type"]
    return judgment(
        FORMAT,
        str(row.get("id")),
        request_id=request_id,
        name=key,
        value=value,
        occurred_at=utc_time(row.get("created_at") or row.get("modified_at"), "created_at")
        or "1970-01-01T00:00:00.000000Z",
        scorer_kind=SCORER_KINDS.get(str(source.get("type"))),
        user_id=str(user or source.get("user_id") or "") or None,
        comment=row.get("comment") if isinstance(row.get("comment"), str) else None,
        metadata={"imported_from": FORMAT, "langsmith": {"feedback_id": row.get("id"), **info}},
    )


def _index(rows: Sequence[SourceRow]) -> tuple[dict[str, Any], dict[str, str]]:
    """Runs by id, and the last LLM run (by start time) of each trace."""
    runs: dict[str, Any] = {}
    llm: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for source in rows:
        value = source.value
        if isinstance(value, Mapping) and "run_type" in value and value.get("id"):
            runs[str(value["id"])] = value
            if value.get("run_type") == "llm":
                trace = str(value.get("trace_id") or value["id"])
                llm[trace].append((str(value.get("start_time") or ""), str(value["id"])))
    return runs, {trace: max(items)[1] for trace, items in llm.items()}


def langsmith_events(rows: Sequence[SourceRow], options: ImportOptions) -> list[RowOutcome]:
    runs, last_llm = _index(rows)
    outcomes = []
    for source in rows:
        value = source.value
        outcome = RowOutcome(source)
        try:
            if not isinstance(value, Mapping):
                raise ValidationError("a row must be a JSON object")
            if "run_type" in value:
                if not value.get("id"):
                    raise ValidationError("required", path="id")
                if value["run_type"] == "llm":
                    outcome.events = [_llm_run(value, options)]
                else:
                    outcome.skipped = f"a {value['run_type']} run: not an LLM call"
            elif "key" in value:
                outcome.events = [_feedback(value, runs, last_llm)]
            else:
                raise ValidationError("neither a run (run_type) nor feedback (key)")
        except ValidationError as exc:
            outcome.error = exc
        outcomes.append(outcome)
    return outcomes
