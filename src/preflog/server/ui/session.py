"""Web UI sessions: a signed, HttpOnly, SameSite=Strict cookie bound to the API key that signed in.

The cookie is ``v1.<key_id>.<expires>.<nonce>.<signature>``. The signature is an HMAC-SHA256 whose
key is the API key's stored ``secret_hash`` (a server-side secret that never leaves the database,
see :mod:`preflog.server.keys`) mixed with a service-wide ``secret`` when set (``PREFLOG_SESSION_SECRET``,
passed down from :class:`preflog.server.settings.ServerSettings`). So:

* every worker process that reads the same key store verifies the same cookie — no shared memory;
* the key is looked up on every request (as the API does): revoking the key ends its sessions at
  once, and rotating ``PREFLOG_SESSION_SECRET`` ends every session;
* the API key itself is never stored in the browser after sign-in.

Sign-out deletes the cookie and puts its nonce on this process's deny list until it expires; with
several worker processes a *copied* cookie stays valid in the other workers until ``expires``
(``ttl_s``: ``PREFLOG_SESSION_TTL`` seconds, 12 hours by default) — revoke the key to end it everywhere.

CSRF: every state-changing request carries a token — a form field ``csrf`` or an ``X-CSRF-Token``
header — that is an HMAC of the session nonce under the same key, compared in constant time. The
sign-in form (no session yet) uses a double-submit cookie. ``SameSite=Strict`` and an ``Origin``
check (:func:`same_origin`) are a second line.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import threading
import time
from dataclasses import dataclass
from typing import Final

from starlette.requests import Request
from starlette.responses import Response

from preflog.server.keys import ApiKey, KeyStore, StoredKey, verify_key
from preflog.server.settings import DEFAULT_SESSION_TTL_S

SESSION_COOKIE: Final = "preflog_session"
LOGIN_CSRF_COOKIE: Final = "preflog_login_csrf"
CSRF_HEADER: Final = "x-csrf-token"
UI_SCOPES: Final = frozenset({"read", "annotate", "admin"})
DEFAULT_TTL_S: Final = DEFAULT_SESSION_TTL_S


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _signing_key(stored: StoredKey, secret: str) -> bytes:
    return hashlib.sha256(f"preflog-ui-session\x00{secret}\x00{stored.secret_hash}".encode()).digest()


def _mac(stored: StoredKey, secret: str, *parts: str) -> str:
    return _b64(hmac.new(_signing_key(stored, secret), "\x00".join(parts).encode(), hashlib.sha256).digest())


@dataclass(frozen=True)
class Session:
    """A verified session: the key behind it and the CSRF token that goes with it."""

    key: ApiKey
    nonce: str
    expires: int
    csrf: str

    @property
    def project(self) -> str:
        return self.key.project

    @property
    def annotator(self) -> str:
        """The id written as ``source.id`` of this user's judgments: the key's name, else its id."""
        return self.key.name or self.key.key_id

    @property
    def can_annotate(self) -> bool:
        return self.key.scope in ("annotate", "admin")


class _DenyList:
    """Nonces signed out in this process, kept until their cookie would have expired anyway."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._items: dict[str, int] = {}

    def add(self, nonce: str, expires: int) -> None:
        now = int(time.time())
        with self._lock:
            self._items = {n: e for n, e in self._items.items() if e > now}
            self._items[nonce] = expires

    def __contains__(self, nonce: object) -> bool:
        return nonce in self._items


SIGNED_OUT = _DenyList()


def sign_in(
    keys: KeyStore, token: str, *, ttl_s: int = DEFAULT_TTL_S, secret: str = ""
) -> tuple[str, Session] | None:
    """``(cookie value, session)`` for an active key of a UI scope, else None; the session lasts
    ``ttl_s`` seconds and is signed with ``secret`` mixed in (see the module doc)."""
    key = verify_key(keys, token.strip())
    if key is None or key.scope not in UI_SCOPES:
        return None
    stored = keys.get_key(key.key_id)
    if stored is None:
        return None
    expires = int(time.time()) + ttl_s
    nonce = secrets.token_urlsafe(18)
    body = f"v1.{key.key_id}.{expires}.{nonce}"
    cookie = f"{body}.{_mac(stored, secret, 'session', body)}"
    return cookie, Session(key, nonce, expires, _mac(stored, secret, "csrf", nonce))


def load_session(keys: KeyStore, cookie: str | None, *, secret: str = "") -> Session | None:
    """The session a cookie proves, or None (malformed, forged, expired, signed out, key revoked,
    or signed with another ``secret``)."""
    if not cookie or len(cookie) > 512:
        return None
    parts = cookie.split(".")
    if len(parts) != 5 or parts[0] != "v1" or not parts[2].isdigit():
        return None
    _, key_id, expires_raw, nonce, signature = parts
    expires = int(expires_raw)
    if expires < time.time() or nonce in SIGNED_OUT:
        return None
    stored = keys.get_key(key_id)
    if stored is None or not stored.active or stored.scope not in UI_SCOPES:
        return None
    body = f"v1.{key_id}.{expires_raw}.{nonce}"
    if not hmac.compare_digest(_mac(stored, secret, "session", body), signature):
        return None
    return Session(stored.public(), nonce, expires, _mac(stored, secret, "csrf", nonce))


def sign_out(session: Session) -> None:
    SIGNED_OUT.add(session.nonce, session.expires)


def csrf_ok(session: Session, presented: str | None) -> bool:
    return presented is not None and hmac.compare_digest(session.csrf, presented)


def same_origin(request: Request) -> bool:
    """False when the browser says the request comes from another site (``Origin`` or
    ``Sec-Fetch-Site``); True when it matches or the headers are absent (non-browser clients)."""
    site = request.headers.get("sec-fetch-site")
    if site is not None and site not in ("same-origin", "none"):
        return False
    origin = request.headers.get("origin")
    if origin is None or origin == "null":
        return origin is None
    host = request.headers.get("host", "")
    return origin.split("://", 1)[-1] == host


def set_cookie(response: Response, request: Request, name: str, value: str, max_age: int) -> None:
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path="/",
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )


def clear_cookie(response: Response, request: Request, name: str) -> None:
    response.delete_cookie(
        name, path="/", httponly=True, samesite="strict", secure=request.url.scheme == "https"
    )


def new_login_csrf() -> str:
    return secrets.token_urlsafe(24)
