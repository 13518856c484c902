"""What the UI routes share in one process: the per-project request indexes and the queue leases."""

from __future__ import annotations

from dataclasses import dataclass, field

from fastapi import Request

from preflog.server.auth import get_state
from preflog.server.ui.index import IndexRegistry, ProjectIndex
from preflog.server.ui.queue import Leases


@dataclass
class UiState:
    indexes: IndexRegistry = field(default_factory=IndexRegistry)
    leases: Leases = field(default_factory=Leases)


def ui_state(request: Request) -> UiState:
    state: UiState = request.app.state.preflog_ui
    return state


def project_index(request: Request, project: str) -> ProjectIndex:
    """The project's index, brought up to date (blocking: call it in the threadpool)."""
    return ui_state(request).indexes.get(get_state(request).store, project)
