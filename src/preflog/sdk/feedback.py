"""``client.feedback_token(request_id, ...)``: a token a product page uses to send feedback.

The token is minted by the ingestion service (``POST /v1/feedback-tokens``), signed with the
client's API key, so this needs a client made with ``url=`` and an ``ingest`` or ``admin`` key;
it is one synchronous call through the client's HTTP transport (same URL, key and wire). Unlike
logging, it raises: the page cannot show the widget without a token, and the caller decides what
to show instead. :class:`~preflog.errors.ServiceUnavailable` when the service cannot be reached or
answers 5xx/429, :class:`~preflog.errors.ConfigError` for a refused key or a local client,
:class:`~preflog.errors.ValidationError` naming the field the service refused.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

from preflog.errors import ConfigError, ServiceUnavailable, ValidationError
from preflog.sdk.base import Transport

KINDS: Final = ("thumbs", "pick", "comment")


def feedback_token(
    transport: Transport,
    request_id: str,
    *,
    kinds: Sequence[str] = KINDS,
    ttl: int | None = None,
    user_id: str | None = None,
) -> str:
    """Mint a feedback token for ``request_id`` through ``transport`` (an HTTP transport)."""
    call = getattr(transport, "call", None)
    if call is None:
        raise ConfigError("feedback tokens are minted by the service: make the client with url= and api_key=")
    body: dict[str, Any] = {"request_id": request_id, "kinds": list(kinds)}
    if ttl is not None:
        body["ttl"] = ttl
    if user_id is not None:
        body["user_id"] = user_id
    status, answer = call("POST", "/v1/feedback-tokens", body)
    payload = answer if isinstance(answer, dict) else {}
    if status == 201 and isinstance(payload.get("token"), str):
        return str(payload["token"])
    message = str(payload.get("message") or f"no JSON answer (HTTP {status})")
    if status == 429 or status >= 500:
        raise ServiceUnavailable(f"feedback token: HTTP {status}: {message}")
    if status in (401, 403):
        raise ConfigError(f"feedback token: HTTP {status}: {message}")
    details = payload.get("details") or [{}]
    field = str(details[0].get("field", "")).removeprefix("body.")
    raise ValidationError(f"HTTP {status}: {message}", path=field)
