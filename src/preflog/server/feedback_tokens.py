"""Feedback tokens: what a product page holds so that its end user can judge one request.

A token is ``pft1.<payload>.<signature>``: the payload is base64url JSON ``{"k": key id, "p":
project, "r": request id, "u": user id or null, "kinds": [...], "exp": Unix seconds, "n": nonce}``
(readable by the page, which learns the allowed kinds from it), the signature an HMAC-SHA256 of
``pft1.<payload>`` under a key derived from the stored ``secret_hash`` of the API key that minted
it (a server-side secret that never leaves the database, as for web UI sessions). So:

* every worker verifies every token with no shared state, and tokens outlive restarts;
* revoking the minting key ends its tokens at once;
* a token cannot be changed (another request, another project, more kinds, a later expiry)
  without its signature failing, and the payload's project must be the minting key's.

>>> payload, signature = _split("pft1.eyJhIjoxfQ.c2ln")
>>> _b64decode(payload), signature
(b'{"a":1}', 'c2ln')
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
import time
from dataclasses import dataclass
from typing import Any, Final

from preflog.errors import PreflogError, ValidationError
from preflog.server.keys import ApiKey, KeyStore, StoredKey

PREFIX: Final = "pft1."
KINDS: Final = ("thumbs", "pick", "comment")
_REQUEST_ID_MAX: Final = 256


class TokenRefused(PreflogError):
    """A feedback token that is not valid here: malformed, forged, expired, revoked, or for
    something else than what it is used for. ``reason`` says which, for the error message."""


@dataclass(frozen=True)
class FeedbackToken:
    """What a verified token allows."""

    key_id: str
    project: str
    request_id: str
    kinds: tuple[str, ...]
    expires: int
    nonce: str
    user_id: str | None = None

    @property
    def voter(self) -> str:
        """Who the judgments are from: the token's user, or the token itself when it names none."""
        return f"user:{self.user_id}" if self.user_id else f"token:{self.nonce}"

    def to_payload(self) -> dict[str, Any]:
        return {
            "k": self.key_id,
            "p": self.project,
            "r": self.request_id,
            "u": self.user_id,
            "kinds": list(self.kinds),
            "exp": self.expires,
            "n": self.nonce,
        }


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _split(token: str) -> tuple[str, str]:
    if not token.startswith(PREFIX) or token.count(".") != 2:
        raise TokenRefused("not a feedback token (pft1.<payload>.<signature>)")
    _, payload, signature = token.split(".")
    return payload, signature


def _signature(stored: StoredKey, payload: str) -> str:
    key = hashlib.sha256(f"preflog-feedback-token\x00{stored.secret_hash}".encode()).digest()
    return _b64(hmac.new(key, (PREFIX + payload).encode("ascii"), hashlib.sha256).digest())


def check_kinds(kinds: Any) -> tuple[str, ...]:
    if isinstance(kinds, str) or not isinstance(kinds, list | tuple) or not kinds:
        raise ValidationError(f"must be a non-empty list of {', '.join(KINDS)}", path="kinds")
    unknown = [k for k in kinds if k not in KINDS]
    if unknown:
        raise ValidationError(f"unknown kind {unknown[0]!r}: choose from {', '.join(KINDS)}", path="kinds")
    return tuple(k for k in KINDS if k in kinds)


def _check_text(value: Any, path: str, *, required: bool) -> str | None:
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value.strip():
        raise ValidationError("must be a non-empty string", path=path)
    if len(value.encode("utf-8")) > _REQUEST_ID_MAX or any(c in value for c in "\t\n\r\x00"):
        raise ValidationError(f"at most {_REQUEST_ID_MAX} bytes, no tab, newline or NUL", path=path)
    return value


def mint_token(
    key: ApiKey,
    keys: KeyStore,
    *,
    request_id: Any,
    kinds: Any = KINDS,
    ttl_s: Any,
    max_ttl_s: int,
    user_id: Any = None,
    now: float | None = None,
) -> tuple[str, FeedbackToken]:
    """A new token for ``request_id`` of ``key``'s project, valid ``ttl_s`` seconds (1 to
    ``max_ttl_s``); ValidationError names the field of a bad argument."""
    if isinstance(ttl_s, bool) or not isinstance(ttl_s, int) or not 1 <= ttl_s <= max_ttl_s:
        raise ValidationError(f"must be whole seconds from 1 to {max_ttl_s}", path="ttl")
    stored = keys.get_key(key.key_id)
    if stored is None:
        raise TokenRefused("the minting key is gone")
    token = FeedbackToken(
        key_id=key.key_id,
        project=key.project,
        request_id=str(_check_text(request_id, "request_id", required=True)),
        kinds=check_kinds(list(kinds)),
        expires=int(now if now is not None else time.time()) + ttl_s,
        nonce=secrets.token_urlsafe(12),
        user_id=_check_text(user_id, "user_id", required=False),
    )
    payload = _b64(json.dumps(token.to_payload(), separators=(",", ":"), sort_keys=True).encode())
    return f"{PREFIX}{payload}.{_signature(stored, payload)}", token


def _payload(payload: str) -> dict[str, Any]:
    try:
        data = json.loads(_b64decode(payload))
    except (ValueError, binascii.Error):
        raise TokenRefused("the token's payload is unreadable") from None
    if not isinstance(data, dict):
        raise TokenRefused("the token's payload is unreadable")
    return data


def verify_token(keys: KeyStore, token: str, *, now: float | None = None) -> FeedbackToken:
    """The token's grant, or :class:`TokenRefused` with the reason."""
    payload, signature = _split(token.strip())
    data = _payload(payload)
    stored = keys.get_key(str(data.get("k", "")))
    if stored is None or not hmac.compare_digest(_signature(stored, payload), signature):
        raise TokenRefused("the token's signature is not valid")
    if not stored.active:
        raise TokenRefused("the key that minted this token was revoked")
    if data.get("p") != stored.project:
        raise TokenRefused("the token names another project than its key's")
    expires = data.get("exp")
    if not isinstance(expires, int) or expires <= (now if now is not None else time.time()):
        raise TokenRefused("the token has expired")
    return FeedbackToken(
        key_id=stored.key_id,
        project=stored.project,
        request_id=str(data.get("r")),
        kinds=tuple(k for k in data.get("kinds") or [] if k in KINDS),
        expires=expires,
        nonce=str(data.get("n")),
        user_id=data.get("u") if isinstance(data.get("u"), str) else None,
    )
