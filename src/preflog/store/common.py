"""Pieces every backend shares, with no database in sight: how an event becomes a row (the named
tuples :class:`EventRow`, :class:`ExistingRow`, :class:`ReadRow`), duplicate/conflict
classification, what erasure keeps. :mod:`preflog.store.sql` runs them against a database; each
backend translates its own driver's errors. Keeping them here makes every backend answer exactly
alike (the conformance suite checks it)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Final, NamedTuple

from preflog.errors import ValidationError
from preflog.events import SCHEMA_VERSION, Limits, canonical_json, normalize_time, now, upcast, validate_event
from preflog.jsonread import loads
from preflog.redact import Redactor
from preflog.store.base import AppendResult, AppendStatus, RequestView, Scanned, StoredEvent

try:
    import orjson as _orjson
except ImportError:  # the SDK and the embedded store stay on the standard library
    _orjson = None  # type: ignore[assignment]

# What an erased event keeps besides its envelope: the ids needed to join and count (which
# candidate won, which model made it), never text a person wrote or read.
ENVELOPE_KEEP: Final = ("event_id", "type", "request_id", "occurred_at", "schema_version")
KEEP: Final[dict[str, tuple[str, ...]]] = {
    "inference": ("presented",),
    "preference": (
        "chosen",
        "rejected",
        "ranking",
        "outcome",
        "candidates",
        "strength",
        "criterion",
        "source",
        "presented",
        "scores",
    ),
    "score": ("candidate_id", "score", "scorer", "criterion"),
    "signal": ("candidate_id", "signal", "value"),
    "retraction": ("retracts", "source"),
    "erasure": ("user_id", "reason"),
}
CANDIDATE_KEEP: Final = ("candidate_id", "model", "params", "usage", "latency_ms")
# Judges whose source.id names a person (an annotator, an end user): a blanked judgment keeps its
# source kind and version but not that id. A reward model's or AI judge's id names a model and
# stays, so what each judge said about erased requests still counts.
PERSON_SOURCES: Final = ("human", "end_user", "implicit")


class EventRow(NamedTuple):
    """One new row of table ``events``, in the order of :data:`EVENT_COLUMNS` (``position`` is
    handed out by the database)."""

    project: str
    event_id: str
    type: str
    request_id: str | None
    occurred_at: str
    received_at: str
    schema_version: int
    user_id: str | None
    source_kind: str | None
    body: str
    erased: int
    content_hash: str | None


class ExistingRow(NamedTuple):
    """What an append needs to know about an event id that is already stored."""

    position: int
    body: str
    erased: bool
    digest: str | None  # the content digest taken before blanking (erased rows only)


class ReadRow(NamedTuple):
    """What a read selects (:data:`READ_COLUMNS`) to make a :class:`StoredEvent`."""

    position: int
    body: str
    project: str
    received_at: str
    erased: Any  # 0/1 in SQLite, a boolean in PostgreSQL


EVENT_COLUMNS: Final = ", ".join(EventRow._fields)
READ_COLUMNS: Final = ", ".join(ReadRow._fields)


ORJSON_MARK: Final = "\n"  # ends every body orjson wrote: see encode_body


def encode_body(event: dict[str, Any]) -> str:
    """The stored JSON: the event without ``project`` and ``received_at`` (kept in columns).
    Key order is the producer's: comparisons parse it back, so no sorting on the hot path.
    Uses orjson when it is installed (the server extra has it; about 10x faster), else json.

    Text orjson wrote ends in a newline (:data:`ORJSON_MARK`; JSON allows the whitespace): it holds
    no integer beyond 64 bits, no NaN and no lone surrogate — orjson refuses to write them — so
    :func:`decode_body` reads it back with orjson alone, exactly. Text without the mark (the
    standard library's, or any body stored before the mark existed) is read by the exact reader."""
    body = {k: v for k, v in event.items() if k != "project" and k != "received_at"}
    if _orjson is not None:
        try:
            return _orjson.dumps(body, option=_orjson.OPT_APPEND_NEWLINE).decode("utf-8")
        except TypeError:
            pass  # an integer beyond 64 bits (the standard library writes it), a lone surrogate
    text = json.dumps(body, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    if not text.isascii():  # str.isascii is O(1); only non-ASCII text can hold a lone surrogate
        try:
            text.encode("utf-8")
        except UnicodeEncodeError as exc:  # no database can store it: the event is rejected
            path, char = _lone_surrogate(body, "")
            raise ValidationError(
                f"contains a lone surrogate (U+{ord(char or exc.object[exc.start]):04X}): text must be "
                "valid Unicode",
                path,
            ) from None
    return text


def _lone_surrogate(value: Any, path: str) -> tuple[str, str | None]:
    """The path of the first string (or key) in ``value`` holding a lone surrogate, and that
    character; ``(path, None)`` when there is none."""
    if isinstance(value, str):
        found = next((ch for ch in value if "\ud800" <= ch <= "\udfff"), None)
        return path, found
    items: Iterable[tuple[Any, Any]] = ()
    if isinstance(value, dict):
        items = value.items()
    elif isinstance(value, list):
        items = enumerate(value)
    for key, item in items:
        where = f"{path}[{key}]" if isinstance(key, int) else f"{path}.{key}" if path else str(key)
        if isinstance(key, str):
            hit = _lone_surrogate(key, where)
            if hit[1] is not None:
                return hit
        hit = _lone_surrogate(item, where)
        if hit[1] is not None:
            return hit
    return path, None


def decode_body(body: str) -> dict[str, Any]:
    # Marked text is orjson's own, read by it alone (~1.6 µs an event less); anything else by the
    # exact reader: orjson alone reads integers beyond 64 bits as floats.
    marked = _orjson is not None and body.endswith(ORJSON_MARK)
    event: dict[str, Any] = _orjson.loads(body) if marked else loads(body)
    if event.get("schema_version", SCHEMA_VERSION) < SCHEMA_VERSION:
        event = upcast(event)
    return event


def content_hash(event: dict[str, Any]) -> str:
    """A digest of an event's content, taken before erasure so a re-sent duplicate is still known."""
    body = {k: v for k, v in event.items() if k != "project" and k != "received_at"}
    return hashlib.sha256(canonical_json(body).encode("utf-8")).hexdigest()


def blank_event(event: dict[str, Any]) -> dict[str, Any]:
    """The event with its content removed: envelope, join ids and model identity only."""
    etype = str(event["type"])
    out: dict[str, Any] = {k: event[k] for k in ENVELOPE_KEEP + KEEP.get(etype, ()) if k in event}
    if etype == "inference":
        out["candidates"] = [{k: c[k] for k in CANDIDATE_KEEP if k in c} for c in event.get("candidates", [])]
    source = out.get("source")
    if isinstance(source, dict) and source.get("kind") in PERSON_SOURCES:
        out["source"] = {k: v for k, v in source.items() if k != "id"}
    out["erased"] = True
    return out


def subject_id(event: Mapping[str, Any]) -> str | None:
    """The person an event is about or by, whom an erasure of a user reaches: its ``user_id``,
    else a judgment's ``source.id`` (end-user feedback names the user there, docs/events.md).
    Stored in the ``user_id`` column, which only erasure reads.

    >>> subject_id({"type": "preference", "source": {"kind": "end_user", "id": "user-0042"}})
    'user-0042'
    >>> subject_id({"type": "signal", "user_id": "u1"}), subject_id({"type": "score", "score": 1.0})
    ('u1', None)
    """
    user = event.get("user_id")
    if user is not None:
        return str(user)
    source = event.get("source") if event.get("type") in ("preference", "retraction") else None
    if isinstance(source, dict) and source.get("id") is not None:
        return str(source["id"])
    return None


def user_key(user_id: str) -> str:
    """How an erased user is remembered: a digest, so the erasure list holds no identifier."""
    return hashlib.sha256(user_id.encode("utf-8")).hexdigest()


def source_kind(event: dict[str, Any]) -> str | None:
    """The kind of judge behind a judgment, for counts: preference and retraction ``source.kind``;
    a score's ``scorer.kind`` (``reward_model`` when unset); thumbs are ``end_user``, other
    signals ``implicit``."""
    etype = event.get("type")
    if etype in ("preference", "retraction"):
        source = event.get("source")
        return str(source["kind"]) if isinstance(source, dict) and "kind" in source else None
    if etype == "score":
        scorer = event.get("scorer")
        return str(scorer.get("kind") or "reward_model") if isinstance(scorer, dict) else "reward_model"
    if etype == "signal":
        return "end_user" if event.get("signal") in ("thumbs_up", "thumbs_down") else "implicit"
    return None


@dataclass
class PendingEvent:
    """One valid event on its way into the store, with the later copies of it in the same call."""

    index: int
    event: dict[str, Any]
    body: str
    received_at: str
    repeats: list[PendingEvent] = field(default_factory=list)
    erased: bool = False
    digest: str | None = None  # content digest before blanking

    @property
    def event_id(self) -> str:
        return str(self.event["event_id"])

    def blank(self) -> None:
        """Store this event blanked: its request or user was erased before it arrived."""
        self.digest = content_hash(self.event)
        self.event = blank_event(self.event)
        self.body = encode_body(self.event)
        self.erased = True

    def row(self, project: str) -> EventRow:
        e = self.event
        return EventRow(
            project,
            e["event_id"],
            e["type"],
            e.get("request_id"),
            e["occurred_at"],
            self.received_at,
            e.get("schema_version", SCHEMA_VERSION),
            subject_id(e) if not self.erased else None,
            source_kind(e),
            self.body,
            int(self.erased),
            self.digest,
        )

    def same_content(self, other: PendingEvent) -> bool:
        return other.body == self.body or json.loads(other.body) == json.loads(self.body)

    def answer(self, results: list[AppendResult | None], result: AppendResult) -> None:
        """Answer this event, and its repeats in the call: the same content is a duplicate of it."""
        results[self.index] = result
        for copy in self.repeats:
            status: AppendStatus = (
                "duplicate" if result.status != "conflict" and self.same_content(copy) else "conflict"
            )
            results[copy.index] = AppendResult(
                status,
                self.event_id,
                result.position,
                reason=None if status == "duplicate" else "event_id already used with other content",
            )


def classify_existing(item: PendingEvent, row: ExistingRow) -> AppendResult:
    """An event whose id is already stored: ``duplicate`` when the content is the same, else
    ``conflict`` (nothing is overwritten). Erased rows are compared by their pre-erasure digest."""
    if row.erased:
        original = item.digest or content_hash(item.event)
        same = row.digest == original
    else:
        same = row.body == item.body or json.loads(row.body) == json.loads(item.body)
    if same:
        return AppendResult("duplicate", item.event_id, row.position)
    return AppendResult(
        "conflict",
        item.event_id,
        row.position,
        field="event_id",
        reason="event_id already stored with other content",
    )


def prepare_batch(
    events: Sequence[Mapping[str, Any]],
    *,
    project: str,
    validated: bool,
    limits: Limits,
    results: list[AppendResult | None],
    redactor: Redactor | None = None,
) -> list[PendingEvent]:
    """Validate and encode an append's events. Rejections are answered in ``results`` now; a
    repeat of an id earlier in the same call rides along with its first copy. ``redactor``
    (:mod:`preflog.redact`) runs on each valid event before it is encoded, so nothing it matches
    is ever written; it is deterministic, so a re-sent event is still a duplicate."""
    received = now()
    redact = redactor is not None and redactor.enabled
    pending: list[PendingEvent] = []
    first: dict[str, PendingEvent] = {}
    for index, raw in enumerate(events):
        try:
            event = normalize_for_store(raw, project=project, validated=validated, limits=limits)
            if redact:
                assert redactor is not None
                event = redactor.redact_event(event)
            body = encode_body(event)  # rejects text no database can store (a lone surrogate)
        except ValidationError as exc:
            event_id = raw.get("event_id") if isinstance(raw, Mapping) else None
            results[index] = AppendResult(
                "rejected",
                event_id=event_id if isinstance(event_id, str) else None,
                field=exc.field or None,
                reason=exc.reason,
            )
            continue
        item = PendingEvent(index, event, body, received)
        earlier = first.get(item.event_id)
        if earlier is None:
            first[item.event_id] = item
            pending.append(item)
        else:
            earlier.repeats.append(item)
    return pending


def normalize_for_store(
    raw: Mapping[str, Any], *, project: str, validated: bool, limits: Limits
) -> dict[str, Any]:
    """The event as the store keeps it. ``validated`` events (built by the SDK) skip the checks
    but not the project scope. Old schema versions are kept as written and upcast when read."""
    if not validated:
        event = validate_event(raw, limits=limits, project=project)
        if raw.get("schema_version", SCHEMA_VERSION) < SCHEMA_VERSION:
            old = {k: v for k, v in raw.items() if k != "received_at" and v is not None}
            event = {**old, "project": project, "occurred_at": event["occurred_at"]}
        return event
    own = raw.get("project")
    if own is not None and own != project:
        raise ValidationError(f"names project {own!r}, but this write is scoped to {project!r}", "project")
    event = dict(raw)
    event.pop("received_at", None)
    event["project"] = project
    event.setdefault("schema_version", SCHEMA_VERSION)
    if not str(event.get("occurred_at", "")).endswith("Z"):
        event["occurred_at"] = normalize_time(str(event["occurred_at"]))
    return event


def finish(results: list[AppendResult | None]) -> list[AppendResult]:
    return [r if r is not None else AppendResult("rejected", reason="internal: no answer") for r in results]


def erasure_effect(item: PendingEvent) -> Mapping[str, Any] | None:
    """What a newly stored event erases in its own transaction: an erasure event, its request or
    user; an inference stored blanked because its user was erased before it arrived, its whole
    request, so the judgments of that request (earlier orphans and later arrivals) are blanked too."""
    etype = item.event["type"]
    if etype == "erasure":
        return item.event
    if etype == "inference" and item.erased:
        return {"request_id": item.event["request_id"]}
    return None


def hits_erasure(event: Mapping[str, Any], erased: set[tuple[str, str]]) -> bool:
    """Whether an arriving event belongs to an erased request or user (then it is stored blanked)."""
    if event["type"] == "erasure":
        return False
    if ("request", str(event.get("request_id"))) in erased:
        return True
    user_id = subject_id(event)
    return user_id is not None and ("user", user_key(user_id)) in erased


def erasure_lookups(pending: list[PendingEvent]) -> tuple[list[str], list[str]]:
    """The request ids and user digests of a batch, to look up in the erasures table."""
    requests = sorted({str(i.event["request_id"]) for i in pending if i.event.get("request_id")})
    subjects = (subject_id(i.event) for i in pending if i.event["type"] != "erasure")
    users = sorted({user_key(who) for who in subjects if who})
    return requests, users


def stored_event(row: ReadRow) -> StoredEvent:
    event = decode_body(row.body)
    event["project"] = row.project
    event["received_at"] = row.received_at
    return StoredEvent(int(row.position), event, bool(row.erased))


def stored_texts(rows: Iterable[Sequence[Any]]) -> Iterator[Scanned]:
    """Rows of :data:`READ_COLUMNS` as :func:`stored_event` reads them, each with the whole event
    as JSON text when the body gives it as it is: the body (exact JSON of the event but
    ``project`` and ``received_at``) with those two put first, not written again. None when the
    event was upcast (the body is an older version's) or its body holds either key itself: then
    the reader writes the text from the event. One loop a page: a named tuple and two calls a
    row were ~0.8 µs of the ~6 an event takes."""
    for position, body, project, received_at, erased in rows:
        marked = _orjson is not None and body.endswith(ORJSON_MARK)  # as decode_body reads it
        event: dict[str, Any] = _orjson.loads(body) if marked else loads(body)
        text = None
        if event.get("schema_version", SCHEMA_VERSION) < SCHEMA_VERSION:
            event = upcast(event)
        elif body.startswith('{"') and "project" not in event and "received_at" not in event:
            # a body's first key follows its brace (every writer's text: orjson, json, PostgreSQL's)
            text = _head(project, received_at) + (body[1:-1] if marked else body[1:])
        event["project"] = project
        event["received_at"] = received_at
        yield StoredEvent(int(position), event, bool(erased)), text


@lru_cache(maxsize=1024)
def _head(project: str, received_at: str) -> str:
    """``{"project":...,"received_at":...,``: one per append batch (its events share a stamp)."""
    both = {"project": project, "received_at": received_at}
    return json.dumps(both, ensure_ascii=False, separators=(",", ":"))[:-1] + ","


def blanked_rows(rows: list[tuple[int, str]]) -> list[tuple[str, str, int]]:
    """(new body, pre-erasure digest, position) for each (position, body) row being erased."""
    out = []
    for position, body in rows:
        event = decode_body(body)
        out.append((encode_body(blank_event(event)), content_hash(event), position))
    return out


def build_view(request_id: str, rows: list[StoredEvent]) -> RequestView:
    """The joined view of one request from its events in position order."""
    view = RequestView(request_id)
    lists = {
        "preference": view.preferences,
        "score": view.scores,
        "signal": view.signals,
        "retraction": view.retractions,
        "erasure": view.erasures,
    }
    for item in rows:
        if item.type == "inference":
            view.inference = view.inference or item
        else:
            lists[item.type].append(item)
    return view


def read_where(
    *,
    project: str,
    after: int,
    types: Iterable[str] | None,
    since: str | None,
    until: str | None,
    last: int | None = None,
) -> tuple[str, list[Any]]:
    """The WHERE clause (``?`` placeholders, see :class:`preflog.store.sql.Tx`) and arguments of
    ``Store.read``; types become ``type IN (...)``, which both SQLite and PostgreSQL plan well;
    ``last`` bounds the positions (``position <= last``)."""
    where = ["project = ?", "position > ?"]
    args: list[Any] = [project, after]
    if last is not None:
        where.append("position <= ?")
        args.append(last)
    if types is not None:
        wanted = list(types)
        where.append(f"type IN ({', '.join('?' * len(wanted))})" if wanted else "false")
        args.extend(wanted)
    if since is not None:
        where.append("occurred_at >= ?")
        args.append(normalize_time(since))
    if until is not None:
        where.append("occurred_at < ?")
        args.append(normalize_time(until))
    return " AND ".join(where), args
