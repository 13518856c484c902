"""HTML pages: sign-in, sign-out and the three page shells (arena, requests, dashboards).

Forms are parsed here from ``application/x-www-form-urlencoded`` with the standard library (no
``python-multipart`` needed). Every POST checks a CSRF token and the ``Origin`` of the request.
"""

from __future__ import annotations

import hmac
import time
from typing import Annotated
from urllib.parse import parse_qs

from fastapi import APIRouter, Depends, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import HTMLResponse, RedirectResponse, Response

from preflog.server.auth import get_state
from preflog.server.body import read_body
from preflog.server.ui.session import (
    LOGIN_CSRF_COOKIE,
    SESSION_COOKIE,
    Session,
    clear_cookie,
    csrf_ok,
    new_login_csrf,
    same_origin,
    set_cookie,
    sign_in,
    sign_out,
)
from preflog.server.ui.web import login_redirect, optional_session, page, safe_next

router = APIRouter(include_in_schema=False)
MaybeSession = Annotated[Session | None, Depends(optional_session)]
FORM_MAX_BYTES = 16 * 1024


async def _form(request: Request) -> dict[str, str]:
    body = await read_body(request, FORM_MAX_BYTES)
    parsed = parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True, max_num_fields=20)
    return {k: v[0] for k, v in parsed.items() if v}


def _home(session: Session) -> str:
    return "/ui/arena" if session.can_annotate else "/ui/dashboards"


@router.get("/")
async def root() -> Response:
    return RedirectResponse("/ui/", status_code=307)


@router.get("/ui")
@router.get("/ui/")
async def ui_home(request: Request, session: MaybeSession) -> Response:
    if session is None:
        return login_redirect(request)
    return RedirectResponse(_home(session), status_code=303)


def _login_page(request: Request, *, error: str = "", status: int = 200) -> Response:
    token = new_login_csrf()
    target = safe_next(request.query_params.get("next"))
    response = page("login", "Sign in", None, csrf_login=token, error=error, next=target)
    response.status_code = status
    set_cookie(response, request, LOGIN_CSRF_COOKIE, token, max_age=3600)
    return response


@router.get("/ui/login")
async def login_form(request: Request, session: MaybeSession) -> Response:
    if session is not None:
        return RedirectResponse(safe_next(request.query_params.get("next")), status_code=303)
    return _login_page(request)


@router.post("/ui/login")
async def login(request: Request) -> Response:
    form = await _form(request)
    expected = request.cookies.get(LOGIN_CSRF_COOKIE)
    if not same_origin(request) or expected is None or not csrf_ok_plain(expected, form.get("csrf")):
        return _login_page(request, error="The form expired; please sign in again.", status=403)
    state = get_state(request)
    token, settings = form.get("api_key", ""), state.settings
    signed = await run_in_threadpool(
        lambda: sign_in(state.keys, token, ttl_s=settings.session_ttl_s, secret=settings.session_secret)
    )
    if signed is None:
        message = "That key is not valid here: use an active key of scope annotate, read or admin."
        return _login_page(request, error=message, status=401)
    cookie, session = signed
    response = RedirectResponse(safe_next(form.get("next")) if form.get("next") else _home(session), 303)
    set_cookie(response, request, SESSION_COOKIE, cookie, max_age=session.expires - _now())
    clear_cookie(response, request, LOGIN_CSRF_COOKIE)
    return response


def csrf_ok_plain(expected: str, presented: str | None) -> bool:
    return presented is not None and hmac.compare_digest(expected, presented)


def _now() -> int:
    return int(time.time())


@router.post("/ui/logout")
async def logout(request: Request, session: MaybeSession) -> Response:
    form = await _form(request)
    if session is not None:
        if not same_origin(request) or not csrf_ok(session, form.get("csrf")):
            return HTMLResponse("Invalid CSRF token", status_code=403)
        sign_out(session)
    response = RedirectResponse("/ui/login", status_code=303)
    clear_cookie(response, request, SESSION_COOKIE)
    return response


@router.get("/ui/arena")
async def arena(request: Request, session: MaybeSession) -> Response:
    if session is None:
        return login_redirect(request)
    if not session.can_annotate:
        return page("forbidden", "Annotate", session, scope=session.key.scope)
    return page("arena", "Annotate", session)


@router.get("/ui/explorer")
async def explorer(request: Request, session: MaybeSession) -> Response:
    if session is None:
        return login_redirect(request)
    return page("explorer", "Requests", session)


@router.get("/ui/dashboards")
async def dashboards(request: Request, session: MaybeSession) -> Response:
    if session is None:
        return login_redirect(request)
    return page("dashboards", "Dashboards", session)
