"""``/v1/analytics`` routes (read scope): each one library call of :mod:`preflog.analytics`.

numpy and scipy are imported on the first call, so a service that never asks for analytics does
not load them. The work runs in the threadpool: a leaderboard over a large project is CPU work.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from preflog.errors import ValidationError
from preflog.server.api_errors import ApiError, json_response, reject_unknown_query
from preflog.server.auth import Principal, get_state, require
from preflog.server.state import ServerState

router = APIRouter(prefix="/v1/analytics", tags=["analytics"], dependencies=[Depends(reject_unknown_query)])

Source = Literal["human", "end_user", "reward_model", "ai_judge", "implicit"]


def _filters(
    source: Annotated[Source | None, Query(description="only judgments of this source kind")] = None,
    criterion: Annotated[str | None, Query(description="only judgments of this criterion")] = None,
    since: Annotated[str | None, Query(description="RFC 3339; judgments at or after")] = None,
    until: Annotated[str | None, Query(description="RFC 3339; judgments before")] = None,
    user: Annotated[str | None, Query(description="only requests of this user_id")] = None,
) -> dict[str, Any]:
    found = {"source": source, "criterion": criterion, "since": since, "until": until, "user": user}
    return {k: v for k, v in found.items() if v is not None}


Filters = Annotated[dict[str, Any], Depends(_filters)]
Reader = Annotated[Principal, Depends(require("read"))]


async def _run(request: Request, principal: Principal, call: Any, *args: Any, **kwargs: Any) -> Response:
    state: ServerState = get_state(request)
    try:
        result = await run_in_threadpool(call, state.store, principal.project, *args, **kwargs)
    except ValidationError as exc:  # a bad filter value, e.g. an unparsable time
        raise ApiError(422, "invalid_request", str(exc)) from exc
    return json_response(result.to_dict(), 200)


@router.get("/leaderboard", summary="Bradley-Terry (or Elo) ratings with 95% intervals")
async def get_leaderboard(
    request: Request,
    principal: Reader,
    filters: Filters,
    method: Literal["bt", "elo"] = "bt",
    ci: Literal["sandwich", "bootstrap", "none"] = "sandwich",
    rounds: Annotated[int, Query(ge=1, le=2000)] = 100,
    seed: int = 0,
    style_control: bool = False,
    by: Literal["model", "version"] = "model",
    both_bad: Literal["tie", "drop"] = "tie",
) -> Response:
    """Rows ``{model, rating, ci_low, ci_high, rank, battles}``, best first (see docs/analytics.md)."""
    from preflog import analytics

    return await _run(
        request,
        principal,
        analytics.leaderboard,
        method=method,
        ci=ci,
        rounds=rounds,
        seed=seed,
        style_control=style_control,
        by=by,
        both_bad=both_bad,
        **filters,
    )


@router.get("/matrix", summary="Observed win-rate or predicted win-probability matrix")
async def get_matrix(
    request: Request,
    principal: Reader,
    filters: Filters,
    kind: Literal["winrate", "predicted"] = "winrate",
    by: Literal["model", "version"] = "model",
) -> Response:
    from preflog import analytics

    return await _run(request, principal, analytics.matrix, kind=kind, by=by, **filters)


@router.get("/ab/{model_a}/{model_b}", summary="Head-to-head of two models with a Wilson interval and a test")
async def get_ab(
    request: Request,
    principal: Reader,
    filters: Filters,
    model_a: Annotated[str, Path(description="model name (or name@version with by=version)")],
    model_b: Annotated[str, Path()],
    power: Annotated[float, Query(gt=0, lt=1)] = 0.8,
    alpha: Annotated[float, Query(gt=0, lt=1)] = 0.05,
    segment: Literal["source", "criterion", "user"] | None = None,
    by: Literal["model", "version"] = "model",
) -> Response:
    from preflog import analytics

    return await _run(
        request,
        principal,
        analytics.head_to_head,
        model_a,
        model_b,
        power=power,
        alpha=alpha,
        segment=segment,
        by=by,
        **filters,
    )


@router.get("/report", summary="Position and length bias, agreement, feedback latency and volume")
async def get_report(
    request: Request,
    principal: Reader,
    filters: Filters,
    window: Literal["day", "week", "month"] = "week",
) -> Response:
    from preflog import analytics

    return await _run(request, principal, analytics.report, window=window, **filters)
