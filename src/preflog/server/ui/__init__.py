"""The web UI served by ``preflog serve`` at ``/``: sign-in, annotation arena, request explorer and
dashboards. Server-rendered page shells (``templates/``) plus vanilla JavaScript modules and CSS
(``static/``); no Node build step, no CDN, no third-party front-end code.

:func:`install_ui` is the one call the app factory makes.
"""

from __future__ import annotations

from fastapi import FastAPI
from starlette.staticfiles import StaticFiles

from preflog.server.ui import routes_arena, routes_dash, routes_explore, routes_pages
from preflog.server.ui.state import UiState
from preflog.server.ui.web import STATIC, SecurityHeaders

__all__ = ["install_ui"]


def install_ui(app: FastAPI) -> None:
    """Mount the UI on ``app``: pages under ``/ui`` (``/`` redirects there), JSON under ``/ui/api``,
    assets under ``/ui/static``, and strict security headers on all of them."""
    app.state.preflog_ui = UiState()
    for module in (routes_pages, routes_arena, routes_explore, routes_dash):
        app.include_router(module.router)
    app.mount("/ui/static", StaticFiles(directory=STATIC), name="ui-static")
    app.add_middleware(SecurityHeaders)
