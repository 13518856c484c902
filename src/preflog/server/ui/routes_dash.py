"""``/ui/api/dashboard``: everything the dashboards draw, from one read of the project's battles.

Calls the :mod:`preflog.analytics` library (the same functions as ``/v1/analytics`` and ``preflog
report``): :func:`~preflog.analytics.rate` (Bradley-Terry with sandwich intervals),
:func:`~preflog.analytics.ratings.win_rate_matrix`, the report's ``agreement`` and ``volume``, the
judges against humans (:func:`~preflog.analytics.judges_report`, reward-model scores included), plus
the per-window series of :mod:`preflog.server.ui.trends` (position and length bias, latency, volume).
numpy and scipy load on the first call.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from preflog.errors import ValidationError
from preflog.server.api_errors import ApiError, json_response
from preflog.server.auth import get_state
from preflog.server.ui.session import Session
from preflog.server.ui.web import api_session

router = APIRouter(prefix="/ui/api", include_in_schema=False)
UiSession = Annotated[Session, Depends(api_session)]
Source = Literal["", "human", "end_user", "reward_model", "ai_judge", "implicit"]


def _dashboard(request: Request, session: Session, window: str, filters: dict[str, Any]) -> dict[str, Any]:
    try:
        from preflog.analytics import extract_battles, judges_report, rate
        from preflog.analytics.ratings import win_rate_matrix
        from preflog.analytics.report import agreement, volume
        from preflog.server.ui.trends import trends
    except ImportError as exc:  # numpy/scipy absent: the analytics extra is not installed
        raise ApiError(501, "not_installed", f"dashboards need preflog[analytics]: {exc}") from exc
    store = get_state(request).store
    try:
        every = extract_battles(store, session.project, scores=True, **filters)
        # Reward-model scores rate the models only when the source filter asks for them (as
        # `preflog leaderboard --source`); they always count for agreement and the judges panel.
        battles = every if "source" in filters else every.subset(~every.scored)
        board = rate(battles, ci="sandwich")
        return {
            "project": session.project,
            "filters": filters,
            "leaderboard": board.to_dict(),
            "matrix": win_rate_matrix(battles).to_dict(),
            "agreement": asdict(agreement(every)),
            "judges": judges_report(every).to_dict(),
            "volume": asdict(volume(battles)),
            "skipped": battles.skipped,
            "trends": trends(battles, window=window).to_dict(),  # type: ignore[arg-type]
        }
    except ValidationError as exc:
        raise ApiError(422, "invalid_request", str(exc)) from exc


@router.get("/dashboard")
async def dashboard(
    request: Request,
    session: UiSession,
    window: Literal["day", "week", "month"] = "day",
    source: Source = "",
    criterion: Annotated[str, Query(max_length=100)] = "",
    since: Annotated[str, Query(max_length=40)] = "",
    until: Annotated[str, Query(max_length=40)] = "",
) -> Response:
    found = {"source": source, "criterion": criterion, "since": since, "until": until}
    filters = {k: v.strip() for k, v in found.items() if v and v.strip()}
    return json_response(await run_in_threadpool(_dashboard, request, session, window, filters))
