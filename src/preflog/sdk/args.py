"""Call-time argument checks for the SDK's ``log_*`` methods: cheap, on the caller's thread.

Everything here is a *shape* check — types, required values, known names — so that a programming
error raises :class:`~preflog.errors.ValidationError` at the call that made it, naming the argument
(``outputs[1]: must be a non-empty string``). Checks that depend on the size of the data (prompt and
output bytes, metadata size, number of candidates) run later in the background worker
(:mod:`preflog.sdk.build`): an event failing them is counted as ``rejected``, never raised.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, Final

from preflog.errors import ValidationError
from preflog.events import (
    CANDIDATE_KEYS,
    ID_MAX_BYTES,
    MODEL_KEYS,
    SOURCE_KINDS,
    Limits,
    format_datetime,
    format_time,
    normalize_time,
)
from preflog.events.candidates import check_reply
from preflog.events.checker import Checker
from preflog.events.contract import PLAIN_CANDIDATE_KEYS, PLAIN_MESSAGE_KEYS
from preflog.events.messages import check_message, plain_message_bytes

# The contract's own checks of messages, tool calls and continuations, run at call time for their
# shape only: sizes are checked in the worker against the client's real limits (sdk/build.py).
_UNBOUNDED: Final = 1 << 62
_SHAPES_ONLY: Final = Limits(
    max_prompt_bytes=_UNBOUNDED,
    max_output_bytes=_UNBOUNDED,
    max_candidates=_UNBOUNDED,
    max_metadata_bytes=_UNBOUNDED,
    max_text_bytes=_UNBOUNDED,
    max_tags=_UNBOUNDED,
)

_INF: Final = math.inf
_CONTROL: Final = ("\r", "\n", "\t", "\x00")

# Model names already found valid: the common case (one model string reused on every call) costs a
# set lookup. Bounded so a caller inventing names cannot grow it without limit.
_KNOWN_MODELS: set[str] = set()
_KNOWN_MODELS_MAX: Final = 4096


def bad(path: str, reason: str) -> ValidationError:
    return ValidationError(reason, path=path)


def _type_name(value: Any) -> str:
    return type(value).__name__ if value is not None else "None"


def check_ident(value: Any, path: str) -> str:
    """A short identifier: non-empty string, at most 256 bytes, no control characters."""
    if type(value) is not str and not isinstance(value, str):
        raise bad(path, f"must be a string, got {_type_name(value)}")
    if not value or value.isspace():
        raise bad(path, "empty")
    if len(value.encode("utf-8", "surrogatepass")) > ID_MAX_BYTES:
        raise bad(path, f"too long: over {ID_MAX_BYTES} bytes")
    for ch in _CONTROL:
        if ch in value:
            raise bad(path, "must not contain control characters")
    return value


def check_text(value: Any, path: str) -> str:
    """A free text: a non-empty string (size is checked in the worker)."""
    if not isinstance(value, str):
        raise bad(path, f"must be a string, got {_type_name(value)}")
    if not value or value.isspace():
        raise bad(path, "empty")
    return value


def check_mapping(value: Any, path: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise bad(path, f"must be a dict, got {_type_name(value)}")
    for key in value:
        if not isinstance(key, str):
            raise bad(path, f"keys must be strings, got {_type_name(key)}")
    return value


def check_number(value: Any, path: str, *, minimum: float | None = None, integer: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise bad(path, f"must be a number, got {_type_name(value)}")
    if integer and not isinstance(value, int):
        raise bad(path, "must be an integer")
    if isinstance(value, float) and not math.isfinite(value):
        raise bad(path, "must be finite")
    if minimum is not None and value < minimum:
        raise bad(path, f"must be at least {minimum:g}")
    return float(value)


def _contract_errors(c: Checker) -> None:
    if c.errors:
        raise ValidationError(c.errors)


def check_prompt(prompt: Any) -> str | tuple[Mapping[str, Any], ...]:
    """A prompt is a non-empty string or a non-empty list of chat messages ``{role, content}``,
    with ``tool_calls`` on assistant turns and ``tool_call_id`` on tool turns (the contract's own
    message rules). Returns it, a list as a tuple snapshot (callers often append the reply to the
    list afterwards)."""
    if isinstance(prompt, str):
        return str(check_text(prompt, "prompt"))
    if not isinstance(prompt, list | tuple):
        raise bad("prompt", f"must be a string or a list of chat messages, got {_type_name(prompt)}")
    if not prompt:
        raise bad("prompt", "empty")
    snapshot = tuple(prompt)
    for i, msg in enumerate(snapshot):
        if plain_message_bytes(msg, _UNBOUNDED) is None:  # not the usual {role, content}: all checks
            c = Checker(_SHAPES_ONLY)
            check_message(c, dict(msg) if isinstance(msg, Mapping) else msg, f"prompt[{i}]", _UNBOUNDED)
            _contract_errors(c)
            if msg.keys() - PLAIN_MESSAGE_KEYS:  # tool calls: nested lists the caller may change
                snapshot = (*snapshot[:i], json_copy(msg), *snapshot[i + 1 :])
    return snapshot


def json_copy(value: Any) -> Any:
    """A copy of nested lists and dicts (tool calls, continuations), taken at the call so that the
    caller changing them afterwards cannot change the event the worker builds later."""
    if isinstance(value, Mapping):
        return {k: json_copy(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_copy(v) for v in value]
    return value


def check_model(model: Any, path: str) -> None:
    """A model is a name (``"gpt-4o"``) or a dict ``{name, version, checkpoint, provider}``."""
    if type(model) is str:
        if model in _KNOWN_MODELS:
            return
        check_ident(model, path)
        if len(_KNOWN_MODELS) < _KNOWN_MODELS_MAX:
            _KNOWN_MODELS.add(model)
        return
    if not isinstance(model, Mapping):
        raise bad(path, f"must be a model name or a dict {{name, version, ...}}, got {_type_name(model)}")
    for key in model:
        if key not in MODEL_KEYS:
            raise bad(f"{path}.{key}", "unknown field (a model has name, version, checkpoint, provider)")
    check_ident(model.get("name"), f"{path}.name")
    for key in ("version", "checkpoint", "provider"):
        if model.get(key) is not None:
            check_ident(model[key], f"{path}.{key}")


def check_params(params: Any, path: str) -> None:
    """Sampling parameters (OpenTelemetry GenAI names): the known ones must be in range."""
    if type(params) is dict:  # the usual case, in one expression: about 0.3 µs
        get = params.get
        t, p, m, s = get("temperature"), get("top_p"), get("max_tokens"), get("seed")
        if (
            (t is None or ((type(t) is float or type(t) is int) and 0 <= t < _INF))
            and (p is None or ((type(p) is float or type(p) is int) and 0 <= p <= 1))
            and (m is None or (type(m) is int and m >= 1))
            and (s is None or type(s) is int)
        ):
            return
    check_mapping(params, path)
    for key, minimum, integer in (
        ("temperature", 0.0, False),
        ("top_p", 0.0, False),
        ("max_tokens", 1.0, True),
        ("seed", None, True),
    ):
        value = params.get(key)
        if value is not None:
            check_number(value, f"{path}.{key}", minimum=minimum, integer=integer)
    top_p = params.get("top_p")
    if top_p is not None and top_p > 1:
        raise bad(f"{path}.top_p", "must be at most 1")


def check_usage(usage: Any, path: str) -> None:
    check_mapping(usage, path)
    for key, value in usage.items():
        if value is not None:
            check_number(value, f"{path}.{key}", minimum=0)


def _check_candidate(cand: Mapping[str, Any], path: str, model: Any) -> None:
    for key in cand:
        if key not in CANDIDATE_KEYS:
            raise bad(
                f"{path}.{key}", "unknown field (a candidate has " + ", ".join(sorted(CANDIDATE_KEYS)) + ")"
            )
    c = Checker(_SHAPES_ONLY)
    check_reply(c, cand, path)  # output, tool_calls, refusal or messages; finish_reason
    _contract_errors(c)
    if cand.get("candidate_id") is not None:
        check_ident(cand["candidate_id"], f"{path}.candidate_id")
    own = cand.get("model")
    if own is None:
        if model is None:
            raise bad(f"{path}.model", "required (give model= or a model per candidate)")
    else:
        check_model(own, f"{path}.model")
    if cand.get("params") is not None:
        check_params(cand["params"], f"{path}.params")
    if cand.get("usage") is not None:
        check_usage(cand["usage"], f"{path}.usage")
    if cand.get("latency_ms") is not None:
        check_number(cand["latency_ms"], f"{path}.latency_ms", minimum=0)
    if cand.get("metadata") is not None:
        check_mapping(cand["metadata"], f"{path}.metadata")


def known_model(model: Any) -> bool:
    """Whether ``model`` is a model name already found valid (the hot path's shortcut)."""
    return model in _KNOWN_MODELS


def check_outputs(outputs: Any, candidates: Any, model: Any, params: Any) -> tuple[Any, ...]:
    """The candidates of one inference, as given: strings (with ``model=``) or candidate dicts.

    Returns a tuple snapshot of them; the dicts are turned into events in the worker.
    """
    if outputs is None:
        if candidates is None:
            raise bad("outputs", "required: the output texts, or candidates=[{output, model}, ...]")
        outputs, name = candidates, "candidates"
    elif candidates is not None:
        raise bad("candidates", "give outputs or candidates, not both")
    else:
        name = "outputs"
    snapshot: tuple[Any, ...]
    if type(outputs) is str:
        snapshot = (outputs,)
    elif type(outputs) is tuple:
        snapshot = outputs
    elif isinstance(outputs, Sequence) and not isinstance(outputs, str | bytes):
        snapshot = tuple(outputs)
    else:
        raise bad(name, f"must be a list of output strings or candidate dicts, got {_type_name(outputs)}")
    if not snapshot:
        raise bad(name, "needs at least one output")
    if model is not None:
        check_model(model, "model")
    if params is not None:
        check_params(params, "params")
    dicts = False
    for i, out in enumerate(snapshot):
        if isinstance(out, str):  # any text, empty too: what the model produced
            if model is None:
                raise bad("model", "required with output strings (or give each candidate dict a model)")
        elif isinstance(out, Mapping):
            _check_candidate(out, f"{name}[{i}]", model)
            dicts = True
            if out.keys() - PLAIN_CANDIDATE_KEYS:  # tool calls, messages: nested, copied now
                snapshot = (*snapshot[:i], json_copy(out), *snapshot[i + 1 :])
        else:
            raise bad(f"{name}[{i}]", f"must be an output string or a candidate dict, got {_type_name(out)}")
    if dicts:
        _check_candidate_ids(snapshot, name)
    return snapshot


def candidate_ids(outputs: tuple[Any, ...]) -> list[str]:
    """The ids the worker will give the candidates: their own, else ``c0``, ``c1``, ..."""
    return [
        str(out["candidate_id"])
        if isinstance(out, Mapping) and out.get("candidate_id") is not None
        else f"c{i}"
        for i, out in enumerate(outputs)
    ]


def _check_candidate_ids(outputs: tuple[Any, ...], name: str) -> None:
    seen: set[str] = set()
    for i, cid in enumerate(candidate_ids(outputs)):
        if cid in seen:
            raise bad(f"{name}[{i}].candidate_id", f"duplicate candidate id {cid!r}")
        seen.add(cid)


def check_id_list(value: Any, path: str, known: list[str] | None = None, *, min_len: int = 1) -> list[str]:
    if isinstance(value, str) or not isinstance(value, Sequence):
        raise bad(path, f"must be a list of candidate ids, got {_type_name(value)}")
    out: list[str] = []
    for i, cid in enumerate(value):
        check_ident(cid, f"{path}[{i}]")
        if cid in out:
            raise bad(f"{path}[{i}]", f"duplicate candidate id {cid!r}")
        if known is not None and cid not in known:
            raise bad(
                f"{path}[{i}]", f"{cid!r} is not a candidate of this inference (ids: {', '.join(known)})"
            )
        out.append(cid)
    if len(out) < min_len:
        raise bad(path, f"needs at least {min_len} candidate ids")
    return out


def check_tags(tags: Any) -> list[str]:
    if isinstance(tags, str) or not isinstance(tags, Sequence):
        raise bad("tags", f"must be a list of strings, got {_type_name(tags)}")
    for i, tag in enumerate(tags):
        if not isinstance(tag, str) or not tag or len(tag) > ID_MAX_BYTES:
            raise bad(f"tags[{i}]", f"must be a non-empty string of at most {ID_MAX_BYTES} characters")
    return list(tags)


def occurred_at(value: Any) -> str:
    """``occurred_at=`` given by the caller (a backfill): a datetime with a timezone, an RFC 3339
    string with an offset, or a POSIX timestamp; returned normalized."""
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise bad("occurred_at", "a datetime needs a timezone (e.g. datetime.now(UTC))")
        return format_datetime(value)
    if isinstance(value, int | float) and not isinstance(value, bool):
        return format_time(value)
    if isinstance(value, str):
        try:
            return normalize_time(value)
        except ValueError as exc:
            raise bad("occurred_at", f"not an RFC 3339 timestamp with offset ({exc})") from None
    raise bad(
        "occurred_at", f"must be a datetime, an RFC 3339 string or a timestamp, got {_type_name(value)}"
    )


def source(value: Any, source_id: str | None = None, version: str | None = None) -> dict[str, Any]:
    """``source="human"`` or ``source={"kind": ..., "id": ..., "version": ...}`` as a source dict."""
    if isinstance(value, str):
        if value not in SOURCE_KINDS:
            raise bad("source", f"must be one of {', '.join(SOURCE_KINDS)}, got {value!r}")
        out: dict[str, Any] = {"kind": value}
    elif isinstance(value, Mapping):
        out = dict(value)
    else:
        raise bad("source", f"must be a kind ({', '.join(SOURCE_KINDS)}) or a dict, got {_type_name(value)}")
    if source_id is not None:
        out["id"] = source_id
    if version is not None:
        out["version"] = version
    return out
