"""Pydantic models of the HTTP bodies: they document the API (OpenAPI) and check key requests.

Write and read routes build their JSON by hand for speed; tests check that what they send
matches these models, and schemathesis checks it against the published document.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from preflog.server.keys import Scope

Status = Literal["stored", "duplicate", "conflict", "rejected"]


class EventResult(BaseModel):
    """The answer for one event of a write, in input order."""

    index: int = Field(description="0-based position of the event in the batch")
    line: int | None = Field(None, description="1-based line number (NDJSON bodies only)")
    status: Status
    event_id: str | None = None
    request_id: str | None = None
    position: int | None = Field(None, description="store position (stored, duplicate)")
    field: str | None = Field(None, description="the offending field path (rejected, conflict)")
    reason: str | None = None


class BatchCounts(BaseModel):
    stored: int
    duplicate: int
    conflict: int
    rejected: int


class BatchResponse(BaseModel):
    """Per-event answers. ``partial`` is true exactly when the status code is 207."""

    partial: bool
    counts: BatchCounts
    results: list[EventResult]


class ErrorResponse(BaseModel):
    """Every error: a machine-readable ``error`` code and a message for people."""

    error: str = Field(description="e.g. unauthorized, forbidden, payload_too_large, rate_limited")
    message: str
    limit: str | None = Field(None, description="the setting that was exceeded (413, 422, 429)")
    details: list[dict[str, Any]] | None = None


class StoredEventModel(BaseModel):
    """An event as stored: the normalized event plus ``position`` and ``erased``."""

    model_config = ConfigDict(extra="allow")

    event_id: str
    type: str
    position: int
    erased: bool


class EventsPage(BaseModel):
    events: list[StoredEventModel]
    next_after: int = Field(description="pass as ?after= to continue; the last position returned")
    has_more: bool = Field(description="true when the page is full: more events may follow")


class RequestViewModel(BaseModel):
    """One request, joined: its inference and every judgment about it, in position order."""

    request_id: str
    inference: StoredEventModel | None
    preferences: list[StoredEventModel]
    scores: list[StoredEventModel]
    signals: list[StoredEventModel]
    retractions: list[StoredEventModel]
    erasures: list[StoredEventModel]
    retracted: list[str]
    orphaned: bool
    erased: bool


class Health(BaseModel):
    status: Literal["ok"]


class Ready(BaseModel):
    status: Literal["ready"]
    last_position: int


class KeyInfo(BaseModel):
    key_id: str
    project: str
    scope: Scope
    name: str | None
    created_at: str
    revoked_at: str | None


class KeyCreated(KeyInfo):
    key: str = Field(description="the API key itself, shown this once: store it now")


class KeyList(BaseModel):
    keys: list[KeyInfo]


class KeyCreateRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    scope: Scope
    name: str | None = Field(None, max_length=200, pattern=r"^[^\r\n\x00]*$")
