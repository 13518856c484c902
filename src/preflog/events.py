"""The event model (wire contract version 1): validation, normalization and upcasting.

Events travel as plain JSON objects (``dict``). :func:`validate_event` checks one against the
contract and returns its *normalized* form: defaults filled in (``schema_version``, ``project``),
``occurred_at`` rewritten to UTC with microseconds (``2026-11-26T21:37:14.123456Z``) and
``received_at`` removed (only the store sets it). Every problem is reported with the field path,
e.g. ``candidates[1].output: empty``. This module does no I/O.
"""

from __future__ import annotations

import json
import math
import os
import random
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from typing import Any, Final

from preflog.errors import FieldError, ValidationError

SCHEMA_VERSION: Final = 1

EVENT_TYPES: Final = ("inference", "preference", "score", "signal", "retraction", "erasure")
JUDGMENT_TYPES: Final = ("preference", "score", "signal")
SOURCE_KINDS: Final = ("human", "end_user", "reward_model", "ai_judge", "implicit")
SIGNAL_KINDS: Final = (
    "thumbs_up",
    "thumbs_down",
    "copy",
    "regenerate",
    "edit",
    "dwell_ms",
    "click",
    "conversion",
)
OUTCOMES: Final = ("tie", "both_bad")
MESSAGE_ROLES: Final = ("system", "user", "assistant", "tool")

ENVELOPE_FIELDS: Final = (
    "event_id",
    "type",
    "request_id",
    "project",
    "occurred_at",
    "received_at",
    "schema_version",
)
PAYLOAD_FIELDS: Final[dict[str, tuple[str, ...]]] = {
    "inference": (
        "prompt",
        "system",
        "candidates",
        "presented",
        "user_id",
        "session_id",
        "features",
        "tags",
        "metadata",
    ),
    "preference": (
        "chosen",
        "rejected",
        "ranking",
        "outcome",
        "candidates",
        "strength",
        "criterion",
        "rationale",
        "scores",
        "source",
        "presented",
        "metadata",
    ),
    "score": ("candidate_id", "score", "scorer", "criterion", "metadata"),
    "signal": ("candidate_id", "signal", "value", "user_id", "session_id", "metadata"),
    "retraction": ("retracts", "reason", "source", "metadata"),
    "erasure": ("user_id", "reason", "metadata"),
}
CANDIDATE_FIELDS: Final = (
    "candidate_id",
    "output",
    "model",
    "params",
    "usage",
    "latency_ms",
    "metadata",
)

_PROJECT_RE: Final = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
_ID_MAX: Final = 256
_MAX_INT_FLOAT: Final = 10**308  # JSON integers beyond a double's range (10**400) are refused
_UUID_RE: Final = re.compile(
    r"^[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}$"
)


def _env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise ValidationError(f"must be an integer, got {raw!r}", path=name) from None


@dataclass(frozen=True)
class Limits:
    """Size limits applied by :func:`validate_event`. Every field has a ``PREFLOG_`` env fallback.

    ``max_prompt_bytes`` counts the UTF-8 bytes of the prompt (all messages) plus ``system``;
    ``max_metadata_bytes`` counts the JSON encoding of each free-form object (``metadata``,
    ``features``, ``params``, ``usage``) separately.
    """

    max_prompt_bytes: int = 256 * 1024
    max_output_bytes: int = 256 * 1024
    max_candidates: int = 16
    max_metadata_bytes: int = 16 * 1024
    max_text_bytes: int = 16 * 1024  # rationale, reason, criterion and other short texts
    max_tags: int = 64

    @classmethod
    def from_env(cls) -> Limits:
        """Defaults overridden by ``PREFLOG_MAX_PROMPT_BYTES``, ``PREFLOG_MAX_OUTPUT_BYTES``, ..."""
        values = {f.name: _env_int("PREFLOG_" + f.name.upper(), f.default) for f in fields(cls)}  # type: ignore[arg-type]
        return cls(**values)


DEFAULT_LIMITS: Final = Limits()


# ---------------------------------------------------------------------------------------------- ids and time


# A generator of our own, seeded from the OS: applications (and tests) often call random.seed(),
# which must never make preflog repeat ids. Reseeded in a forked child so parent and child differ.
_id_random = random.Random(int.from_bytes(os.urandom(32), "big"))
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=lambda: _id_random.seed(int.from_bytes(os.urandom(32), "big")))


def new_id() -> str:
    """A time-ordered (version 7, RFC 9562) UUID string: 48 bits of Unix milliseconds, 12 bits of
    sub-millisecond time, then 62 random bits from a fast private Mersenne Twister seeded by the OS
    (ids need to be unique, not secret). Ids made later sort later, so the store's indexes on
    ``event_id`` and ``request_id`` grow at their right edge instead of touching a random page per
    event: on SQLite that keeps an append at about half the cost it has with random (version 4)
    ids once the log holds a few hundred thousand events (docs/store.md, "Ids and index locality")."""
    ns = time.time_ns()
    n = (ns // 1_000_000) << 80 | (ns % 1_000_000 * 4096 // 1_000_000) << 64 | _V7 | _id_bits(62)
    h = n.to_bytes(16).hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


_V7: Final = 0x7 << 76 | 0x2 << 62  # the version (7) and RFC 9562 variant bits
_id_bits: Final = _id_random.getrandbits


def format_time(ts: float) -> str:
    """UTC RFC 3339 with microseconds, the normalized form of every timestamp preflog writes."""
    return format_datetime(datetime.fromtimestamp(ts, UTC))


def format_datetime(moment: datetime) -> str:
    """An aware datetime in the normalized form: UTC, four-digit year (``strftime("%Y")`` writes
    ``999`` for the year 999), microseconds, ``Z``."""
    return moment.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


def now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_time(value: str) -> datetime:
    """Parse RFC 3339 with an offset (``Z`` allowed); raise ValueError without one."""
    dt = datetime.fromisoformat(value)
    if dt.tzinfo is None:
        raise ValueError("needs a UTC offset (RFC 3339), e.g. 2026-11-26T10:00:00Z")
    return dt


_UTC_TIME: Final = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d{1,6}))?Z$")


def normalize_time(value: str) -> str:
    utc = _UTC_TIME.match(value)
    if utc is not None:  # UTC already (what the SDK writes): only the fraction may need padding
        parse_time(value)  # still a real date
        fraction = utc[2] or ""
        return value if len(fraction) == 6 else f"{utc[1]}.{fraction.ljust(6, '0')}Z"
    return format_datetime(parse_time(value))


# ---------------------------------------------------------------------------------------------- validation


class _Checker:
    """Collects field errors; each method checks one value at one path."""

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self.errors: list[FieldError] = []

    def fail(self, path: str, reason: str) -> None:
        self.errors.append(FieldError(path, reason))

    def unknown(self, obj: Mapping[str, Any], allowed: tuple[str, ...], prefix: str) -> None:
        for key in obj:
            if key not in allowed:
                self.fail(f"{prefix}{key}", "unknown field")

    def text(
        self,
        obj: Mapping[str, Any],
        key: str,
        path: str,
        *,
        required: bool = False,
        max_bytes: int | None = None,
        allow_empty: bool = False,
    ) -> str | None:
        value = obj.get(key)
        limit = self.limits.max_text_bytes if max_bytes is None else max_bytes
        if _plain_text(value, limit):
            return value
        if value is None:
            if required:
                self.fail(path, "required")
            return None
        if not isinstance(value, str):
            self.fail(path, f"must be a string, got {_kind(value)}")
            return None
        if not value.strip() and not allow_empty:
            self.fail(path, "empty")
            return None
        if len(value) > limit // 4 and len(value.encode("utf-8", "surrogatepass")) > limit:
            self.fail(path, f"too long: over {limit} bytes")
        if "\x00" in value:
            self.fail(path, "contains a NUL character")
        return value

    def ident(self, obj: Mapping[str, Any], key: str, path: str, *, required: bool = False) -> str | None:
        value = obj.get(key)
        if _plain_id(value):
            return value
        value = self.text(obj, key, path, required=required, max_bytes=_ID_MAX)
        if value is not None and ("\n" in value or "\r" in value or "\t" in value):
            self.fail(path, "must not contain control characters")
        return value

    def number(
        self,
        obj: Mapping[str, Any],
        key: str,
        path: str,
        *,
        required: bool = False,
        minimum: float | None = None,
        maximum: float | None = None,
        integer: bool = False,
    ) -> float | None:
        value = obj.get(key)
        if value is None:
            if required:
                self.fail(path, "required")
            return None
        if isinstance(value, bool) or not isinstance(value, int | float):
            self.fail(path, f"must be a number, got {_kind(value)}")
            return None
        if integer and not isinstance(value, int):
            self.fail(path, "must be an integer")
            return None
        if isinstance(value, float) and not math.isfinite(value):
            self.fail(path, "must be finite")
            return None
        if isinstance(value, int) and not -_MAX_INT_FLOAT <= value <= _MAX_INT_FLOAT:
            self.fail(path, "out of range: must be within ±1e308")  # float() of it would overflow
            return None
        if minimum is not None and value < minimum:
            self.fail(path, f"must be at least {minimum:g}")
        if maximum is not None and value > maximum:
            self.fail(path, f"must be at most {maximum:g}")
        return float(value)

    def free_object(self, obj: Mapping[str, Any], key: str, path: str) -> None:
        value = obj.get(key)
        if value is None:
            return
        if not isinstance(value, dict):
            self.fail(path, f"must be an object, got {_kind(value)}")
            return
        if _small_flat(value, self.limits.max_metadata_bytes):
            return  # the usual params/usage: a few scalars, far under the limit, nothing to encode
        try:
            size = len(json.dumps(value, ensure_ascii=False, allow_nan=False).encode("utf-8"))
        except (TypeError, ValueError) as exc:
            self.fail(path, f"must be plain JSON ({exc})")
            return
        if size > self.limits.max_metadata_bytes:
            self.fail(path, f"too large: {size} bytes, limit {self.limits.max_metadata_bytes}")

    def id_list(self, value: Any, path: str, *, min_len: int = 1) -> list[str]:
        if not isinstance(value, list):
            self.fail(path, f"must be a list of candidate ids, got {_kind(value)}")
            return []
        out: list[str] = []
        for i, item in enumerate(value):
            if not isinstance(item, str) or not item:
                self.fail(f"{path}[{i}]", "must be a non-empty candidate id string")
            elif item in out:
                self.fail(f"{path}[{i}]", f"duplicate candidate id {item!r}")
            else:
                out.append(item)
        if len(value) < min_len:
            self.fail(path, f"needs at least {min_len} candidate ids")
        return out


def _plain_text(value: Any, limit: int) -> bool:
    """The usual text, accepted without the field-by-field checks: a non-blank string without NUL,
    short enough in characters that its UTF-8 (at most 4 bytes each) cannot pass ``limit`` bytes.
    False means "check it", not "invalid"."""
    return type(value) is str and 0 < len(value) <= limit // 4 and not value.isspace() and "\x00" not in value


def _plain_id(value: Any) -> bool:
    """The usual id, accepted at once: printable (so no NUL, tab or line break), not blank, and
    surely under _ID_MAX bytes. False means "check it", not "invalid"."""
    return (
        type(value) is str and 0 < len(value) <= _ID_MAX // 4 and value.isprintable() and not value.isspace()
    )


def _small_flat(value: dict[str, Any], limit: int) -> bool:
    """True when ``value`` holds only short string keys and JSON scalars (finite numbers, short
    strings) and so cannot reach ``limit`` bytes: the common case, checked without encoding."""
    if len(value) > 16:
        return False
    for key, item in value.items():
        if type(key) is not str or len(key) > 64:
            return False
        kind = type(item)
        if kind is str:
            if len(item) > 64:
                return False
        elif kind is float:
            if not math.isfinite(item):
                return False
        elif kind is not int and kind is not bool and item is not None:
            return False
    return limit > 16 * (6 * 64 * 2 + 8)  # worst case: every character escaped as \uXXXX


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    return {
        bool: "boolean",
        int: "integer",
        float: "number",
        str: "string",
        list: "array",
        dict: "object",
    }.get(type(value), type(value).__name__)


def _check_envelope(c: _Checker, event: Mapping[str, Any], project: str | None) -> str | None:
    event_id = c.ident(event, "event_id", "event_id", required=True)
    if event_id is not None and not _UUID_RE.match(event_id):
        c.fail("event_id", "must be a UUID")
    etype = event.get("type")
    if etype is None:
        c.fail("type", "required")
    elif etype not in EVENT_TYPES:
        c.fail("type", f"must be one of {', '.join(EVENT_TYPES)}, got {etype!r}")
        etype = None
    version = event.get("schema_version", SCHEMA_VERSION)
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        c.fail("schema_version", "must be a positive integer")
    elif version > SCHEMA_VERSION:
        c.fail("schema_version", f"unsupported version {version}; this preflog reads up to {SCHEMA_VERSION}")
    if etype != "erasure" or "user_id" not in event:
        c.ident(event, "request_id", "request_id", required=True)
    elif event.get("request_id") is not None:
        c.fail("request_id", "an erasure names either request_id or user_id, not both")
    own = c.ident(event, "project", "project")
    if own is not None and not _PROJECT_RE.match(own):
        c.fail("project", "must be 1-64 letters, digits, '_', '.', '-', starting with a letter or digit")
    if project is not None and own is not None and own != project:
        c.fail("project", f"names project {own!r}, but this write is scoped to {project!r}")
    occurred = event.get("occurred_at")
    if occurred is None:
        c.fail("occurred_at", "required")
    elif not isinstance(occurred, str):
        c.fail("occurred_at", f"must be an RFC 3339 string, got {_kind(occurred)}")
    else:
        try:
            parse_time(occurred)
        except ValueError as exc:
            c.fail("occurred_at", f"not an RFC 3339 timestamp with offset ({exc})")
    return etype if isinstance(etype, str) else None


def _check_prompt(c: _Checker, event: Mapping[str, Any]) -> None:
    prompt = event.get("prompt")
    limit = c.limits.max_prompt_bytes
    total = 0
    if prompt is None:
        c.fail("prompt", "required")
    elif isinstance(prompt, str):
        c.text(event, "prompt", "prompt", max_bytes=limit)
        total = len(prompt.encode("utf-8", "surrogatepass"))
    elif isinstance(prompt, list):
        if not prompt:
            c.fail("prompt", "empty")
        for i, msg in enumerate(prompt):
            path = f"prompt[{i}]"
            if not isinstance(msg, dict):
                c.fail(path, f"must be a chat message object {{role, content}}, got {_kind(msg)}")
                continue
            c.unknown(msg, ("role", "content", "name"), path + ".")
            role = msg.get("role")
            if role not in MESSAGE_ROLES:
                c.fail(path + ".role", f"must be one of {', '.join(MESSAGE_ROLES)}, got {role!r}")
            content = c.text(msg, "content", path + ".content", required=True, max_bytes=limit)
            c.ident(msg, "name", path + ".name")
            if content is not None:
                total += len(content.encode("utf-8", "surrogatepass"))
    else:
        c.fail("prompt", f"must be a string or a list of chat messages, got {_kind(prompt)}")
    system = c.text(event, "system", "system", max_bytes=limit)
    if system is not None:
        total += len(system.encode("utf-8", "surrogatepass"))
    if total > limit:
        c.fail("prompt", f"too long: {total} bytes with system, limit {limit}")


_CANDIDATE_KEYS: Final = frozenset(CANDIDATE_FIELDS)
_MODEL_FIELDS: Final = ("name", "version", "checkpoint", "provider")
_MODEL_KEYS: Final = frozenset(_MODEL_FIELDS)


def _plain_candidate(c: _Checker, cand: dict[str, Any]) -> bool:
    """True when ``cand``'s id, output and model are certainly valid (the usual candidate), so
    only its optional parts need the field-by-field checks; False sends it to the full checks."""
    if not cand.keys() <= _CANDIDATE_KEYS or not _plain_id(cand.get("candidate_id")):
        return False
    if not _plain_text(cand.get("output"), c.limits.max_output_bytes):
        return False
    model = cand.get("model")
    if type(model) is not dict or not model.keys() <= _MODEL_KEYS or not _plain_id(model.get("name")):
        return False
    return all(v is None or _plain_id(v) for v in model.values())


def _check_candidate(c: _Checker, cand: Any, path: str) -> str | None:
    if not isinstance(cand, dict):
        c.fail(path, f"must be an object, got {_kind(cand)}")
        return None
    if _plain_candidate(c, cand):
        if len(cand) > 3:  # params, usage, latency_ms, metadata (or explicit nulls)
            _check_candidate_extras(c, cand, path)
        plain: str = cand["candidate_id"]
        return plain
    return _check_candidate_fully(c, cand, path)


def _check_candidate_fully(c: _Checker, cand: dict[str, Any], path: str) -> str | None:
    c.unknown(cand, CANDIDATE_FIELDS, path + ".")
    cid = c.ident(cand, "candidate_id", path + ".candidate_id", required=True)
    c.text(cand, "output", path + ".output", required=True, max_bytes=c.limits.max_output_bytes)
    model = cand.get("model")
    if model is None:
        c.fail(path + ".model", "required")
    elif not isinstance(model, dict):
        c.fail(path + ".model", f"must be an object {{name, version, checkpoint}}, got {_kind(model)}")
    else:
        c.unknown(model, _MODEL_FIELDS, path + ".model.")
        c.ident(model, "name", path + ".model.name", required=True)
        for key in _MODEL_FIELDS[1:]:
            c.ident(model, key, f"{path}.model.{key}")
    _check_candidate_extras(c, cand, path)
    return cid


def _check_candidate_extras(c: _Checker, cand: Mapping[str, Any], path: str) -> None:
    params = cand.get("params")
    if isinstance(params, dict):
        for key, lo, hi, integer in (
            ("temperature", 0.0, None, False),
            ("top_p", 0.0, 1.0, False),
            ("max_tokens", 1.0, None, True),
            ("seed", None, None, True),
        ):
            c.number(params, key, f"{path}.params.{key}", minimum=lo, maximum=hi, integer=integer)
    c.free_object(cand, "params", path + ".params")
    usage = cand.get("usage")
    if isinstance(usage, dict):
        for key, value in usage.items():
            if value is not None:
                c.number(usage, key, f"{path}.usage.{key}", minimum=0)
    c.free_object(cand, "usage", path + ".usage")
    c.number(cand, "latency_ms", path + ".latency_ms", minimum=0)
    c.free_object(cand, "metadata", path + ".metadata")


def _check_inference(c: _Checker, event: Mapping[str, Any]) -> None:
    _check_prompt(c, event)
    cands = event.get("candidates")
    ids: list[str] = []
    if cands is None:
        c.fail("candidates", "required")
    elif not isinstance(cands, list):
        c.fail("candidates", f"must be a list, got {_kind(cands)}")
    elif not cands:
        c.fail("candidates", "needs at least one candidate")
    elif len(cands) > c.limits.max_candidates:
        c.fail("candidates", f"too many: {len(cands)}, limit {c.limits.max_candidates}")
    else:
        for i, cand in enumerate(cands):
            cid = _check_candidate(c, cand, f"candidates[{i}]")
            if cid is not None:
                if cid in ids:
                    c.fail(f"candidates[{i}].candidate_id", f"duplicate candidate id {cid!r}")
                ids.append(cid)
    _check_presented(c, event, ids)
    c.ident(event, "user_id", "user_id")
    c.ident(event, "session_id", "session_id")
    c.free_object(event, "features", "features")
    c.free_object(event, "metadata", "metadata")
    tags = event.get("tags")
    if tags is not None:
        if not isinstance(tags, list):
            c.fail("tags", f"must be a list of strings, got {_kind(tags)}")
        else:
            if len(tags) > c.limits.max_tags:
                c.fail("tags", f"too many: {len(tags)}, limit {c.limits.max_tags}")
            for i, tag in enumerate(tags):
                if not isinstance(tag, str) or not tag or len(tag) > _ID_MAX:
                    c.fail(f"tags[{i}]", "must be a non-empty string of at most 256 characters")


def _check_presented(c: _Checker, event: Mapping[str, Any], known: list[str] | None) -> None:
    presented = event.get("presented")
    if presented is None:
        return
    ids = c.id_list(presented, "presented")
    if known:
        for i, cid in enumerate(ids):
            if cid not in known:
                c.fail(f"presented[{i}]", f"{cid!r} is not a candidate of this inference")


def _check_source(c: _Checker, event: Mapping[str, Any], required: bool) -> None:
    source = event.get("source")
    if source is None:
        if required:
            c.fail("source", "required (an object with kind: " + ", ".join(SOURCE_KINDS) + ")")
        return
    if not isinstance(source, dict):
        c.fail("source", f"must be an object {{kind, id, version}}, got {_kind(source)}")
        return
    c.unknown(source, ("kind", "id", "version"), "source.")
    kind = source.get("kind")
    if kind is None:
        c.fail("source.kind", "required")
    elif kind not in SOURCE_KINDS:
        c.fail("source.kind", f"must be one of {', '.join(SOURCE_KINDS)}, got {kind!r}")
    c.ident(source, "id", "source.id")
    c.ident(source, "version", "source.version")


def _check_preference(c: _Checker, event: Mapping[str, Any]) -> None:
    forms = [f for f in ("chosen", "ranking", "outcome") if event.get(f) is not None]
    if event.get("rejected") is not None and "chosen" not in forms:
        c.fail("chosen", "required with rejected")
    if not forms:
        c.fail("chosen", "a preference needs chosen + rejected, a ranking, or an outcome (tie | both_bad)")
    elif len(forms) > 1:
        c.fail(forms[1], f"a preference has exactly one of chosen/rejected, ranking, outcome; got {forms}")
    elif forms[0] == "chosen":
        chosen = c.ident(event, "chosen", "chosen", required=True)
        rejected = c.ident(event, "rejected", "rejected", required=True)
        if chosen is not None and chosen == rejected:
            c.fail("rejected", "must differ from chosen")
        if event.get("candidates") is not None:
            c.fail("candidates", "only with outcome")
    elif forms[0] == "ranking":
        _check_ranking(c, event.get("ranking"))
        for key in ("rejected", "candidates"):
            if event.get(key) is not None:
                c.fail(key, "not allowed with ranking")
    else:
        outcome = event.get("outcome")
        if outcome not in OUTCOMES:
            c.fail("outcome", f"must be one of {', '.join(OUTCOMES)}, got {outcome!r}")
        if event.get("candidates") is None:
            c.fail("candidates", "required with outcome (the candidate ids judged)")
        else:
            c.id_list(event.get("candidates"), "candidates", min_len=2)
        if event.get("rejected") is not None:
            c.fail("rejected", "not allowed with outcome")
    c.number(event, "strength", "strength", minimum=0.0, maximum=1.0)
    c.ident(event, "criterion", "criterion")
    c.text(event, "rationale", "rationale")
    scores = event.get("scores")
    if scores is not None:
        if not isinstance(scores, dict):
            c.fail("scores", f"must be an object of candidate id to number, got {_kind(scores)}")
        else:
            for key in scores:
                c.number(scores, key, f"scores.{key}")
    _check_source(c, event, required=True)
    _check_presented(c, event, None)
    c.free_object(event, "metadata", "metadata")


def _check_ranking(c: _Checker, ranking: Any) -> None:
    if not isinstance(ranking, list):
        c.fail("ranking", f"must be a list of candidate ids (best first) or tie groups, got {_kind(ranking)}")
        return
    seen: list[str] = []
    for i, item in enumerate(ranking):
        group = item if isinstance(item, list) else [item]
        if isinstance(item, list) and not item:
            c.fail(f"ranking[{i}]", "empty tie group")
        for j, cid in enumerate(group):
            path = f"ranking[{i}][{j}]" if isinstance(item, list) else f"ranking[{i}]"
            if not isinstance(cid, str) or not cid:
                c.fail(path, "must be a non-empty candidate id string")
            elif cid in seen:
                c.fail(path, f"duplicate candidate id {cid!r}")
            else:
                seen.append(cid)
    if len(seen) < 2:
        c.fail("ranking", "needs at least two candidates")


def _check_score(c: _Checker, event: Mapping[str, Any]) -> None:
    c.ident(event, "candidate_id", "candidate_id", required=True)
    c.number(event, "score", "score", required=True)
    scorer = event.get("scorer")
    if scorer is None:
        c.fail("scorer", "required (an object {name, version})")
    elif not isinstance(scorer, dict):
        c.fail("scorer", f"must be an object {{name, version}}, got {_kind(scorer)}")
    else:
        c.unknown(scorer, ("name", "version", "kind"), "scorer.")
        c.ident(scorer, "name", "scorer.name", required=True)
        c.ident(scorer, "version", "scorer.version")
        kind = scorer.get("kind")
        if kind is not None and kind not in ("reward_model", "ai_judge", "human"):
            c.fail("scorer.kind", f"must be reward_model, ai_judge or human, got {kind!r}")
    c.ident(event, "criterion", "criterion")
    c.free_object(event, "metadata", "metadata")


def _check_signal(c: _Checker, event: Mapping[str, Any]) -> None:
    c.ident(event, "candidate_id", "candidate_id", required=True)
    signal = event.get("signal")
    if signal is None:
        c.fail("signal", "required")
    elif signal not in SIGNAL_KINDS:
        c.fail("signal", f"must be one of {', '.join(SIGNAL_KINDS)}, got {signal!r}")
    c.number(
        event, "value", "value", required=signal == "dwell_ms", minimum=0 if signal == "dwell_ms" else None
    )
    c.ident(event, "user_id", "user_id")
    c.ident(event, "session_id", "session_id")
    c.free_object(event, "metadata", "metadata")


def _check_retraction(c: _Checker, event: Mapping[str, Any]) -> None:
    target = c.ident(event, "retracts", "retracts", required=True)
    if target is not None and not _UUID_RE.match(target):
        c.fail("retracts", "must be the event_id (a UUID) of the judgment withdrawn")
    c.text(event, "reason", "reason")
    _check_source(c, event, required=False)
    c.free_object(event, "metadata", "metadata")


def _check_erasure(c: _Checker, event: Mapping[str, Any]) -> None:
    if event.get("user_id") is not None:
        c.ident(event, "user_id", "user_id")
    c.text(event, "reason", "reason")
    c.free_object(event, "metadata", "metadata")


_PAYLOAD_CHECKS: Final[dict[str, Callable[[_Checker, Mapping[str, Any]], None]]] = {
    "inference": _check_inference,
    "preference": _check_preference,
    "score": _check_score,
    "signal": _check_signal,
    "retraction": _check_retraction,
    "erasure": _check_erasure,
}


def check_event(raw: Any, *, limits: Limits = DEFAULT_LIMITS, project: str | None = None) -> list[FieldError]:
    """Every problem with ``raw`` as a version-1 event (after upcasting); empty when it is valid."""
    if not isinstance(raw, dict):
        return [FieldError("", f"an event must be a JSON object, got {_kind(raw)}")]
    c = _Checker(limits)
    event = upcast(raw) if _needs_upcast(raw) else raw
    etype = _check_envelope(c, event, project)
    if etype is not None:
        c.unknown(event, ENVELOPE_FIELDS + PAYLOAD_FIELDS[etype], "")
        _PAYLOAD_CHECKS[etype](c, event)
    return c.errors


def validate_event(
    raw: Any, *, limits: Limits = DEFAULT_LIMITS, project: str | None = None
) -> dict[str, Any]:
    """Return the normalized event, or raise :class:`ValidationError` naming every bad field.

    ``project`` is the scope of the write: an event without ``project`` takes it, an event naming
    another project is rejected.

    >>> e = validate_event({"event_id": "0f8fad5b-d9cb-469f-a165-70867728950e", "type": "signal",
    ...     "request_id": "r1", "occurred_at": "2026-11-26T10:00:00+01:00", "candidate_id": "a",
    ...     "signal": "thumbs_up"}, project="demo")
    >>> e["occurred_at"], e["project"], e["schema_version"]
    ('2026-11-26T09:00:00.000000Z', 'demo', 1)
    """
    errors = check_event(raw, limits=limits, project=project)
    if errors:
        raise ValidationError(errors)
    event = upcast(raw) if _needs_upcast(raw) else dict(raw)
    event["schema_version"] = SCHEMA_VERSION
    event["occurred_at"] = normalize_time(event["occurred_at"])
    event.pop("received_at", None)
    if project is not None:
        event["project"] = project
    return {k: v for k, v in event.items() if v is not None}


# ---------------------------------------------------------------------------------------------- upcasting

# UPCASTERS[v] turns a version-v event into a version-(v+1) event. Events are stored as written and
# upcast when read, never migrated in place. Version 1 is the first version, so the table is empty
# until the contract changes.
UPCASTERS: dict[int, Callable[[dict[str, Any]], dict[str, Any]]] = {}


def _needs_upcast(event: Mapping[str, Any]) -> bool:
    version = event.get("schema_version", SCHEMA_VERSION)
    return isinstance(version, int) and not isinstance(version, bool) and version < SCHEMA_VERSION


def upcast(event: Mapping[str, Any]) -> dict[str, Any]:
    """Bring an event written under an older ``schema_version`` up to :data:`SCHEMA_VERSION`."""
    out = dict(event)
    version = out.get("schema_version", SCHEMA_VERSION)
    while isinstance(version, int) and version < SCHEMA_VERSION:
        step = UPCASTERS.get(version)
        if step is None:
            raise ValidationError(f"no upcaster from version {version}", path="schema_version")
        out = step(out)
        version += 1
        out["schema_version"] = version
    return out


# ---------------------------------------------------------------------------------------------- helpers


def candidate_ids(event: Mapping[str, Any]) -> list[str]:
    """The candidate ids an inference offers, or that a judgment names, in order."""
    etype = event.get("type")
    if etype == "inference":
        return [c["candidate_id"] for c in event.get("candidates", [])]
    if etype == "preference":
        if event.get("chosen") is not None:
            return [event["chosen"], event["rejected"]]
        if event.get("ranking") is not None:
            out: list[str] = []
            for item in event["ranking"]:
                out.extend(item if isinstance(item, list) else [item])
            return out
        return list(event.get("candidates", []))
    if etype in ("score", "signal"):
        return [event["candidate_id"]]
    return []


def ranking_groups(ranking: list[str | list[str]]) -> list[list[str]]:
    """A ranking as tie groups, best first: ``["a", ["b", "c"]]`` → ``[["a"], ["b", "c"]]``."""
    return [list(item) if isinstance(item, list) else [item] for item in ranking]


def canonical_json(event: Mapping[str, Any]) -> str:
    """The bytes the store keeps and compares: sorted keys, no spaces, UTF-8 text."""
    return json.dumps(event, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
