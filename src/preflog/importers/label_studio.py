"""Label Studio pairwise annotation exports → an inference per task, a preference per annotation.

Input: a project exported as JSON (tasks ``{id, data, annotations: [{id, completed_by, result,
was_cancelled, created_at}]}``) or JSON-MIN (one flat row per annotation: the task's data fields,
the ``Pairwise`` control's value under its name, ``annotator``, ``annotation_id``, ``created_at``),
made with the ``Pairwise`` tag (``<Pairwise name="comparison" toName="answer1,answer2"/>``).

* The prompt is the first of the task's ``prompt``, ``question``, ``instruction``, ``input``,
  ``text`` fields; the two answers are the fields the result's ``to_name`` names (left first), else
  the first pair found of ``answer1``/``answer2``, ``text1``/``text2``, ``response_a``/
  ``response_b``, ``output_a``/``output_b``, ``a``/``b``. They become candidates ``a`` (left) and
  ``b`` (right), ``presented: ["a", "b"]``: Label Studio shows the left one first. Models named by
  ``model_a``/``model_b`` (or ``model1``/``model2``) fields are kept, else ``unknown``.
* Each annotation's ``pairwise`` result (``{"selected": "left" | "right"}``, or the name of the
  chosen field) is a preference, source ``human`` with the annotator (``completed_by``: an email,
  or the user id) as its id; cancelled (skipped) annotations and predictions are not judgments.
* Ids: the request id is a UUID version 5 over the prompt and the two answers; a preference's id
  over the annotation id, so a re-export with an edited annotation reports a conflict.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final

from preflog.errors import ValidationError
from preflog.importers.base import Event, ImportOptions, candidate, stable_id
from preflog.importers.bundle import RowOutcome, SourceRow
from preflog.importers.feedback import utc_time

FORMAT: Final = "label-studio"
PROMPT_FIELDS: Final = ("prompt", "question", "instruction", "input", "text")
ANSWER_PAIRS: Final = (
    ("answer1", "answer2"),
    ("text1", "text2"),
    ("response_a", "response_b"),
    ("output_a", "output_b"),
    ("a", "b"),
)
MODEL_PAIRS: Final = (("model_a", "model_b"), ("model1", "model2"))
PRESENTED: Final = ["a", "b"]
JSON_MIN_KEYS: Final = frozenset(
    {"annotator", "annotation_id", "created_at", "updated_at", "lead_time", "id"}
)


def _pairwise_results(annotation: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    return [
        r
        for r in annotation.get("result") or []
        if isinstance(r, Mapping) and r.get("type") == "pairwise" and isinstance(r.get("value"), Mapping)
    ]


def _answers(data: Mapping[str, Any], to_name: Any) -> tuple[str, str]:
    names = [n.strip() for n in to_name.split(",")] if isinstance(to_name, str) else []
    if len(names) == 2 and all(isinstance(data.get(n), str) for n in names):
        return names[0], names[1]
    for left, right in ANSWER_PAIRS:
        if isinstance(data.get(left), str) and isinstance(data.get(right), str):
            return left, right
    raise ValidationError(
        f"no pair of answers (looked for {', '.join('/'.join(p) for p in ANSWER_PAIRS)})", path="data"
    )


def _choice(value: Mapping[str, Any], left: str, right: str) -> str:
    selected = value.get("selected")
    if selected in ("left", left):
        return "a"
    if selected in ("right", right):
        return "b"
    raise ValidationError(f"selected must be left or right, got {selected!r}", path="result.value.selected")


def _inference(data: Mapping[str, Any], left: str, right: str, options: ImportOptions) -> Event:
    prompt_field = next((f for f in PROMPT_FIELDS if isinstance(data.get(f), str) and data[f].strip()), None)
    if prompt_field is None:
        raise ValidationError(f"no prompt (looked for {', '.join(PROMPT_FIELDS)})", path="data")
    models = next(((data[a], data[b]) for a, b in MODEL_PAIRS if data.get(a) and data.get(b)), (None, None))
    content = {"prompt": data[prompt_field], "a": data[left], "b": data[right]}
    request_id = stable_id(FORMAT, "request", content)
    return {
        "event_id": stable_id(FORMAT, "inference", request_id),
        "type": "inference",
        "request_id": request_id,
        "occurred_at": options.occurred_at,
        "prompt": data[prompt_field],
        "candidates": [
            candidate("a", data[left], str(models[0]) if models[0] else None),
            candidate("b", data[right], str(models[1]) if models[1] else None),
        ],
        "presented": list(PRESENTED),
        "metadata": {"imported_from": FORMAT, "fields": [prompt_field, left, right]},
    }


def _annotator(value: Any) -> str | None:
    if isinstance(value, Mapping):
        value = value.get("email") or value.get("id")
    return None if value is None or value == "" else str(value)


def _preference(
    inference: Event, chosen: str, annotation_id: Any, annotator: str | None, at: Any, options: ImportOptions
) -> Event:
    request_id = inference["request_id"]
    event: Event = {
        "event_id": stable_id(FORMAT, "preference", request_id, {"annotation": annotation_id}),
        "type": "preference",
        "request_id": request_id,
        "occurred_at": utc_time(at, "created_at") or options.occurred_at,
        "chosen": chosen,
        "rejected": "b" if chosen == "a" else "a",
        "source": options.source("human", annotator),
        "presented": list(PRESENTED),
    }
    if options.criterion:
        event["criterion"] = options.criterion
    return event


def _task(task: Mapping[str, Any], options: ImportOptions) -> list[Event]:
    data = task.get("data")
    if not isinstance(data, Mapping):
        raise ValidationError("must be an object", path="data")
    annotations = [a for a in task.get("annotations") or [] if isinstance(a, Mapping)]
    results = [r for a in annotations for r in _pairwise_results(a)]
    left, right = _answers(data, results[0].get("to_name") if results else None)
    inference = _inference(data, left, right, options)
    events = [inference]
    for annotation in annotations:
        if annotation.get("was_cancelled"):
            continue
        for result in _pairwise_results(annotation):
            chosen = _choice(result["value"], left, right)
            annotator = _annotator(annotation.get("completed_by"))
            events.append(
                _preference(
                    inference, chosen, annotation.get("id"), annotator, annotation.get("created_at"), options
                )
            )
    return events


def _json_min(row: Mapping[str, Any], options: ImportOptions) -> list[Event]:
    pairwise = [(k, v) for k, v in row.items() if isinstance(v, Mapping) and "selected" in v]
    if not pairwise:
        raise ValidationError('no pairwise value ({"selected": ...}) in this JSON-MIN row')
    left, right = _answers(row, None)
    inference = _inference(row, left, right, options)
    chosen = _choice(pairwise[0][1], left, right)
    annotation_id = row.get("annotation_id", {"task": row.get("id"), "annotator": row.get("annotator")})
    return [
        inference,
        _preference(
            inference, chosen, annotation_id, _annotator(row.get("annotator")), row.get("created_at"), options
        ),
    ]


def label_studio_events(rows: Sequence[SourceRow], options: ImportOptions) -> list[RowOutcome]:
    outcomes = []
    for source in rows:
        value = source.value
        outcome = RowOutcome(source)
        try:
            if not isinstance(value, Mapping):
                raise ValidationError("a row must be a JSON object")
            outcome.events = _task(value, options) if "data" in value else _json_min(value, options)
        except ValidationError as exc:
            outcome.error = exc
        outcomes.append(outcome)
    return outcomes
