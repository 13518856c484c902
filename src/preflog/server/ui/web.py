"""What every UI route shares: HTML templates, security headers and the session dependencies.

Templates are plain HTML files in ``templates/`` with ``{{name}}`` placeholders. Every value is
HTML-escaped (quotes included) unless it is a :class:`Safe` string made by :func:`render` itself;
a missing value is an error, not an empty string. Pages carry no data beyond the signed-in user:
the JavaScript modules fetch JSON and build the DOM with ``textContent``, never ``innerHTML``.
"""

from __future__ import annotations

import html
import re
from functools import cache
from pathlib import Path
from typing import Any, Final
from urllib.parse import quote

from fastapi import Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import HTMLResponse, RedirectResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from preflog.server.api_errors import ApiError
from preflog.server.auth import get_state
from preflog.server.limits import RateLimiter
from preflog.server.ui.session import CSRF_HEADER, SESSION_COOKIE, Session, csrf_ok, load_session, same_origin

HERE: Final = Path(__file__).resolve().parent
TEMPLATES: Final = HERE / "templates"
STATIC: Final = HERE / "static"

CSP: Final = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
SECURITY_HEADERS: Final = (
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
    (b"x-frame-options", b"DENY"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=()"),
)
_PLACEHOLDER: Final = re.compile(r"\{\{\s*([a-z_]+)\s*\}\}")


class Safe(str):
    """Markup that is already escaped (a rendered template): inserted as is."""


@cache
def _template(name: str) -> str:
    return (TEMPLATES / name).read_text(encoding="utf-8")


def render(name: str, **values: Any) -> Safe:
    """Fill ``templates/<name>``; every value is escaped unless it is :class:`Safe`."""

    def fill(match: re.Match[str]) -> str:
        value = values[match.group(1)]
        return value if isinstance(value, Safe) else html.escape("" if value is None else str(value))

    return Safe(_PLACEHOLDER.sub(fill, _template(name)))


NAV: Final = (
    ("arena", "/ui/arena", "Annotate"),
    ("explorer", "/ui/explorer", "Requests"),
    ("dashboards", "/ui/dashboards", "Dashboards"),
)


def page(name: str, title: str, session: Session | None, **values: Any) -> HTMLResponse:
    """A full page: ``templates/<name>.html`` inside ``base.html``, with the nav and the user."""
    links = [
        render("nav_link.html", href=href, label=label, current="page" if key == name else "false")
        for key, href, label in NAV
    ]
    body = render(f"{name}.html", **values)
    user = render(
        "user.html",
        who=session.annotator if session else "",
        project=session.project if session else "",
        scope=session.key.scope if session else "",
        csrf=session.csrf if session else "",
    )
    return HTMLResponse(
        render(
            "base.html",
            title=title,
            page=name,
            nav=Safe("".join(links)) if session else Safe(""),
            user=user if session else Safe(""),
            body=body,
            csrf=session.csrf if session else "",
            scope=session.key.scope if session else "",
            project=session.project if session else "",
        )
    )


class SecurityHeaders:
    """Strict CSP and friends on every answer under ``/ui`` (and ``/``): pure ASGI, no buffering.
    The API's own pages (``/docs``) are left alone."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "") if scope["type"] == "http" else ""
        if not (path == "/" or path == "/ui" or path.startswith("/ui/")):
            await self.app(scope, receive, send)
            return
        dynamic = not path.startswith("/ui/static/")

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers.extend(SECURITY_HEADERS)
                if dynamic:
                    headers.append((b"cache-control", b"no-store"))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)


# ---------------------------------------------------------------------------------------------- sessions


async def optional_session(request: Request) -> Session | None:
    cookie = request.cookies.get(SESSION_COOKIE)
    if not cookie:
        return None
    state = get_state(request)
    return await run_in_threadpool(
        lambda: load_session(state.keys, cookie, secret=state.settings.session_secret)
    )


def login_redirect(request: Request) -> RedirectResponse:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(f"/ui/login?next={quote(target, safe='')}", status_code=303)


def safe_next(raw: str | None) -> str:
    """Only a local UI path: never an open redirect to another site."""
    if raw and raw.startswith("/ui/") and not raw.startswith("//") and "\\" not in raw:
        return raw
    return "/ui/"


def _rate_limit(request: Request, session: Session) -> None:
    limiter = get_state(request).limiter
    if limiter is None:
        return
    wait = limiter.acquire(session.key.key_id)
    if wait is not None:
        raise ApiError(
            429, "rate_limited", "too many requests", headers={"Retry-After": RateLimiter.retry_after(wait)}
        )


async def api_session(request: Request) -> Session:
    """The session behind a ``/ui/api`` call (401 without one); POSTs must carry the CSRF token."""
    session = await optional_session(request)
    if session is None:
        raise ApiError(401, "unauthorized", "sign in first (the session is missing or has expired)")
    unsafe = request.method not in ("GET", "HEAD", "OPTIONS")
    if unsafe and (not same_origin(request) or not csrf_ok(session, request.headers.get(CSRF_HEADER))):
        raise ApiError(403, "csrf", "missing or invalid CSRF token")
    _rate_limit(request, session)
    return session


def require_annotator(session: Session) -> None:
    if not session.can_annotate:
        raise ApiError(403, "forbidden", f"a key with scope {session.key.scope!r} cannot annotate")
