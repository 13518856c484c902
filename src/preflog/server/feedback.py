"""End-user feedback from a product page → judgments: ``apply_feedback(store, token, body)``.

Three actions, each allowed only when the token's ``kinds`` include it:

* ``{"action": "thumbs", "candidate_id": "c0", "value": "up" | "down"}`` → a ``thumbs_up`` /
  ``thumbs_down`` **signal** of that candidate, ``user_id`` the token's user;
* ``{"action": "pick", "chosen": "c1", "presented": ["c1", "c0"]}`` → a **preference**: ``chosen``
  over the other candidate (over the others, as a ranking with one tie group, when more were
  shown), ``presented`` as the page showed them, source ``{kind: end_user, id: <user>}``;
* ``{"action": "comment", "text": "..."}`` → the voter's latest vote again, carrying the comment
  (a preference's ``rationale``, a signal's ``metadata.comment``): a comment explains a vote.

Each voter (the token's user, else the token itself) has one current judgment per *slot*: the
thumbs of each candidate, and the pick of the request. A repeated click (the same content again)
changes nothing and is answered ``unchanged``; a changed vote appends a **retraction** of the
current judgment and the new one, in one atomic append. Event ids are UUIDs version 5 over the
voter, the request, the slot and how many judgments that slot had, so two workers answering the
same click at once store it once. Every judgment's ``metadata.feedback`` says the voter, the slot,
the token and the page's origin.

Candidate ids are checked against the inference when it is there; before it arrives, the
judgments wait for it as orphans (as any judgment may).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from preflog.errors import ValidationError
from preflog.events import now
from preflog.server.api_errors import ApiError
from preflog.server.feedback_tokens import FeedbackToken
from preflog.store.base import RequestView, Store, StoredEvent

#: The namespace of every end-user feedback event id (uuid5). Never change it.
FEEDBACK_NAMESPACE: Final = uuid.UUID("6a0e3f1c-2b7d-5c49-8e10-666565646261")
ACTIONS: Final = ("thumbs", "pick", "comment")
THUMBS: Final = {"up": "thumbs_up", "down": "thumbs_down"}
COMMENT_MAX: Final = 4000  # characters: a product page's comment box, not an essay
_BODY_KEYS: Final = frozenset(
    {"action", "request_id", "project", "candidate_id", "value", "chosen", "presented", "text"}
)

Event = dict[str, Any]


@dataclass(frozen=True)
class Outcome:
    """What one feedback call did: ``stored`` (a first judgment), ``changed`` (a retraction and a
    new judgment), or ``unchanged`` (the same vote again)."""

    status: str
    event_id: str
    retracted: str | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"status": self.status, "event_id": self.event_id}
        if self.retracted:
            out["retracted"] = self.retracted
        return out


def _text(body: Mapping[str, Any], key: str) -> str:
    value = body.get(key)
    if not isinstance(value, str) or not value.strip():
        raise ValidationError("must be a non-empty string", path=key)
    return value


def check_body(body: Any, token: FeedbackToken) -> Mapping[str, Any]:
    """The body, checked against itself and the token (403 for what the token does not allow)."""
    if not isinstance(body, Mapping):
        raise ValidationError("the body must be a JSON object")
    unknown = sorted(set(body) - _BODY_KEYS)
    if unknown:
        raise ValidationError("unknown field", path=unknown[0])
    action = body.get("action")
    if action not in ACTIONS:
        raise ValidationError(f"must be one of {', '.join(ACTIONS)}, got {action!r}", path="action")
    if body.get("request_id") is not None and body["request_id"] != token.request_id:
        raise ApiError(403, "forbidden", "this feedback token is for another request")
    if body.get("project") is not None and body["project"] != token.project:
        raise ApiError(403, "forbidden", "this feedback token is for another project")
    if action not in token.kinds:
        raise ApiError(403, "forbidden", f"this feedback token does not allow {action!r}")
    return body


# ---------------------------------------------------------------------------------------------- state


def _feedback_meta(event: Mapping[str, Any]) -> Mapping[str, Any]:
    metadata = event.get("metadata")
    feedback = metadata.get("feedback") if isinstance(metadata, Mapping) else None
    return feedback if isinstance(feedback, Mapping) else {}


@dataclass
class _Votes:
    """The voter's judgments of one request: every one (retracted too), and the current one per slot."""

    all: list[StoredEvent]
    current: dict[str, StoredEvent]

    @classmethod
    def of(cls, view: RequestView, voter: str) -> _Votes:
        mine = sorted(
            (e for e in [*view.preferences, *view.signals] if _feedback_meta(e.event).get("voter") == voter),
            key=lambda e: e.position,
        )
        retracted = view.retracted
        current = {str(_feedback_meta(e.event)["slot"]): e for e in mine if e.event_id not in retracted}
        return cls(mine, current)

    def generation(self, slot: str) -> int:
        return sum(1 for e in self.all if _feedback_meta(e.event).get("slot") == slot)

    def latest(self) -> StoredEvent | None:
        return max(self.current.values(), key=lambda e: e.position, default=None)


def _candidates(view: RequestView) -> set[str] | None:
    if view.inference is None:
        return None
    return {str(c.get("candidate_id")) for c in view.inference.event.get("candidates") or []}


def _known(candidate: str, known: set[str] | None, path: str) -> str:
    if known is not None and candidate not in known:
        raise ValidationError(f"{candidate!r} is not a candidate of this request", path=path)
    return candidate


# ---------------------------------------------------------------------------------------------- judgments


def _thumbs(body: Mapping[str, Any], token: FeedbackToken, known: set[str] | None) -> tuple[str, Event]:
    candidate = _known(_text(body, "candidate_id"), known, "candidate_id")
    value = body.get("value")
    if value not in THUMBS:
        raise ValidationError(f"must be up or down, got {value!r}", path="value")
    event: Event = {"type": "signal", "candidate_id": candidate, "signal": THUMBS[value]}
    if token.user_id:
        event["user_id"] = token.user_id
    return f"thumbs:{candidate}", event


def _pick(body: Mapping[str, Any], token: FeedbackToken, known: set[str] | None) -> tuple[str, Event]:
    chosen = _known(_text(body, "chosen"), known, "chosen")
    presented = body.get("presented")
    if (
        not isinstance(presented, list)
        or len(presented) < 2
        or not all(isinstance(p, str) for p in presented)
    ):
        raise ValidationError(
            "must list the candidate ids shown, in their order (at least two)", path="presented"
        )
    if len(set(presented)) != len(presented) or chosen not in presented:
        raise ValidationError(
            "must name each candidate shown once, the chosen one among them", path="presented"
        )
    for i, candidate in enumerate(presented):
        _known(candidate, known, f"presented[{i}]")
    others = [p for p in presented if p != chosen]
    event: Event = {"type": "preference", "presented": list(presented), "source": _source(token)}
    if len(others) == 1:
        event.update(chosen=chosen, rejected=others[0])
    else:
        event["ranking"] = [chosen, others]
    return "pick", event


def _source(token: FeedbackToken) -> dict[str, str]:
    return {"kind": "end_user", "id": token.user_id} if token.user_id else {"kind": "end_user"}


def _comment(body: Mapping[str, Any], votes: _Votes) -> tuple[str, Event]:
    text = _text(body, "text")
    if len(text) > COMMENT_MAX:
        raise ValidationError(f"at most {COMMENT_MAX} characters", path="text")
    latest = votes.latest()
    if latest is None:
        raise ApiError(409, "nothing_to_comment", "a comment goes with a vote: send thumbs or a pick first")
    event = {k: v for k, v in latest.event.items() if k in _CONTENT_KEYS}
    if event["type"] == "preference":
        event["rationale"] = text
    else:
        event["metadata"] = {"comment": text}
    return str(_feedback_meta(latest.event)["slot"]), event


_CONTENT_KEYS: Final = (
    "type",
    "candidate_id",
    "signal",
    "user_id",
    "chosen",
    "rejected",
    "ranking",
    "presented",
    "source",
    "rationale",
)


def _content(event: Mapping[str, Any], *, with_comment: bool) -> tuple[Any, ...]:
    """What makes two judgments the same vote (ids, times and feedback bookkeeping aside); the
    comment counts only for a comment (clicking the same vote again keeps its comment)."""
    vote = tuple(repr(event.get(k)) for k in _CONTENT_KEYS if k != "rationale")
    if not with_comment:
        return vote
    metadata = event.get("metadata")
    comment = metadata.get("comment") if isinstance(metadata, Mapping) else None
    return (*vote, event.get("rationale"), comment)


def _event_id(token: FeedbackToken, *parts: str) -> str:
    return str(
        uuid.uuid5(FEEDBACK_NAMESPACE, "\x1f".join((token.project, token.request_id, token.voter, *parts)))
    )


def _finish(event: Event, token: FeedbackToken, slot: str, generation: int, origin: str | None) -> Event:
    feedback = {"voter": token.voter, "slot": slot, "token": token.nonce}
    if origin:
        feedback["origin"] = origin
    metadata = {k: v for k, v in (event.get("metadata") or {}).items() if k == "comment"}
    return {
        **{k: v for k, v in event.items() if k != "metadata"},
        "event_id": _event_id(token, slot, str(generation)),
        "request_id": token.request_id,
        "occurred_at": now(),
        "metadata": {**metadata, "feedback": feedback},
    }


def _retraction(current: StoredEvent, token: FeedbackToken) -> Event:
    return {
        "event_id": _event_id(token, "retract", current.event_id),
        "type": "retraction",
        "request_id": token.request_id,
        "occurred_at": now(),
        "retracts": current.event_id,
        "reason": "changed by the end user",
        "source": _source(token),
    }


def apply_feedback(
    store: Store, token: FeedbackToken, body: Mapping[str, Any], origin: str | None
) -> Outcome:
    """Record one feedback call (see the module doc); ValidationError/ApiError for what is refused."""
    view = store.get_request(token.request_id, project=token.project)
    votes = _Votes.of(view, token.voter)
    known = _candidates(view)
    action = body["action"]
    if action == "thumbs":
        slot, wanted = _thumbs(body, token, known)
    elif action == "pick":
        slot, wanted = _pick(body, token, known)
    else:
        slot, wanted = _comment(body, votes)
    current = votes.current.get(slot)
    same = action == "comment"
    if current is not None and _content(current.event, with_comment=same) == _content(
        wanted, with_comment=same
    ):
        return Outcome("unchanged", current.event_id)
    event = _finish(wanted, token, slot, votes.generation(slot), origin)
    events = ([_retraction(current, token)] if current is not None else []) + [event]
    for answer in store.append(events, project=token.project):
        if answer.status == "conflict":
            raise ApiError(409, "conflict", "this vote changed at the same moment elsewhere: send it again")
        if answer.status == "rejected":
            raise ValidationError(answer.reason or "rejected", path=answer.field or "")
    if current is None:
        return Outcome("stored", event["event_id"])
    return Outcome("changed", event["event_id"], retracted=current.event_id)
