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
from preflog.server import openapi_docs as docs
from preflog.server.api_errors import ApiError, json_response, reject_unknown_query
from preflog.server.auth import Principal, get_state, require
from preflog.server.state import ServerState

router = APIRouter(
    prefix="/v1/analytics",
    tags=["analytics"],
    dependencies=[Depends(reject_unknown_query)],
    responses=docs.error_responses(*docs.READ_ERRORS),  # 401/403/422/429/503, as every read route
)

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


def _responses(description: str, example: dict[str, Any]) -> dict[int | str, dict[str, Any]]:
    ok = {"description": description, "content": {"application/json": {"example": example}}}
    return {200: ok, **docs.error_responses(*docs.READ_ERRORS)}


_ROW = {
    "model": "cirrus-70b",
    "rating": 1229.9,
    "ci_low": 1176.6,
    "ci_high": 1283.2,
    "rank": 1,
    "battles": 187,
}
LEADERBOARD_EXAMPLE: dict[str, Any] = {
    "rows": [
        _ROW,
        {**_ROW, "model": "atlas-7b", "rating": 957.8, "ci_low": 924.9, "ci_high": 990.6, "rank": 2},
    ],
    "method": "bt",
    "ci": "sandwich",
    "level": 0.95,
    "battles": 458,
}
MATRIX_EXAMPLE: dict[str, Any] = {
    "kind": "winrate",
    "models": ["atlas-7b", "cirrus-70b"],
    "values": [[None, 0.21], [0.79, None]],
    "battles": [[0, 120], [120, 0]],
}
AB_EXAMPLE: dict[str, Any] = {
    "model_a": "cirrus-70b",
    "model_b": "atlas-7b",
    "overall": {"wins_a": 80, "wins_b": 25, "ties": 15, "win_rate": 0.762, "ci_low": 0.672, "ci_high": 0.833},
}
REPORT_EXAMPLE: dict[str, Any] = {
    "position_bias": [{"source": "human", "first_wins": 0.53, "ci_low": 0.48, "ci_high": 0.58, "n": 400}],
    "volume": {"judgments": 2100, "battles": 1500},
}

JUDGES_EXAMPLE: dict[str, Any] = {
    "humans": {"group": "human", "chosen_longer": {"successes": 216, "n": 320, "rate": 0.675}, "coef": 0.56},
    "judges": [
        {
            "judge": "reward_model:rm-deberta-v3-large@2026.10",
            "kind": "reward_model",
            "name": "rm-deberta-v3-large",
            "version": "2026.10",
            "from_scores": True,
            "battles": 531,
            "units": 153,
            "agreement": {"successes": 124, "n": 153, "rate": 0.81, "ci_low": 0.741, "ci_high": 0.865},
            "length": {"chosen_longer": {"successes": 296, "n": 462, "rate": 0.641}, "coef": 0.453},
        }
    ],
}

Filters = Annotated[dict[str, Any], Depends(_filters)]
Reader = Annotated[Principal, Depends(require("read"))]


async def _run(request: Request, principal: Principal, call: Any, *args: Any, **kwargs: Any) -> Response:
    state: ServerState = get_state(request)
    try:
        result = await run_in_threadpool(call, state.store, principal.project, *args, **kwargs)
    except ValidationError as exc:  # a bad filter value, e.g. an unparsable time
        raise ApiError(422, "invalid_request", str(exc)) from exc
    return json_response(result.to_dict(), 200)


@router.get(
    "/leaderboard",
    summary="Bradley-Terry (or Elo) ratings with 95% intervals",
    description="Ratings of the models judged in the key's project, best first, on the Elo scale "
    "(mean 1000): exact Bradley-Terry with sandwich or bootstrap intervals, or online Elo. "
    "An empty project gives no rows.",
    responses=_responses("The leaderboard", LEADERBOARD_EXAMPLE),
)
async def get_leaderboard(
    request: Request,
    principal: Reader,
    filters: Filters,
    method: Literal["bt", "elo"] = "bt",
    ci: Literal["sandwich", "bootstrap", "none"] = "sandwich",
    rounds: Annotated[int, Query(ge=1, le=2000)] = 100,
    seed: Annotated[int, Query(ge=0)] = 0,
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


@router.get(
    "/matrix",
    summary="Observed win-rate or predicted win-probability matrix",
    description="values[i][j]: how often (winrate) or how likely (predicted) model i beats model j.",
    responses=_responses("The matrix", MATRIX_EXAMPLE),
)
async def get_matrix(
    request: Request,
    principal: Reader,
    filters: Filters,
    kind: Literal["winrate", "predicted"] = "winrate",
    by: Literal["model", "version"] = "model",
) -> Response:
    from preflog import analytics

    return await _run(request, principal, analytics.matrix, kind=kind, by=by, **filters)


@router.get(
    "/ab/{model_a}/{model_b}",
    summary="Head-to-head of two models with a Wilson interval and a test",
    description="Win rate of model_a over model_b on decisive battles with a Wilson interval, ties "
    "apart, a two-sided exact test, the judgments still needed for the chosen power, and the same "
    "per segment. 422 when a model was never judged.",
    responses=_responses("The comparison", AB_EXAMPLE),
)
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


@router.get(
    "/report",
    summary="Position and length bias, agreement, feedback latency and volume",
    description="The monitoring report of the key's project (see docs/analytics.md).",
    responses=_responses("The report", REPORT_EXAMPLE),
)
async def get_report(
    request: Request,
    principal: Reader,
    filters: Filters,
    window: Literal["day", "week", "month"] = "week",
) -> Response:
    from preflog import analytics

    return await _run(request, principal, analytics.report, window=window, **filters)


@router.get(
    "/judges",
    summary="Reward models and AI judges against the human majority, with their length bias",
    description="One row per reward model and AI judge (by name and version; its preference events "
    "and the battles of its score events): the share of human-majority items on which it agrees, "
    "and the share of its decisive battles won by the longer output, beside the humans' share.",
    responses=_responses("The judges", JUDGES_EXAMPLE),
)
async def get_judges(request: Request, principal: Reader, filters: Filters) -> Response:
    from preflog import analytics

    return await _run(request, principal, analytics.judges, **filters)
