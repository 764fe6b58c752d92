"""``GET /v1/exposures/export``: what was shown, with how each suggestion was rated (analysts).

One row per suggestion shown: its request, rank, score, the probability the serving policy
showed it (1 for a ranked slot; the draw's probability for an exploration slot) and the rating
that cites the same request and service, if any. Off-policy learning and evaluation (inverse
propensity weighting, ``vcsmatch.evaluation.off_policy``) need exactly this. No person's
features: join with ``GET /v1/ratings/export`` on nothing but aggregate analysis. Paged by
``after`` (the last ``exposure_id`` seen) so a long log is read in pieces.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import BaseModel, Field

from api.deps import SessionDep, require_role
from vcsmatch.store import recommendation_log
from vcsmatch.store.api_keys import ApiKeyRecord

router = APIRouter(prefix="/v1/exposures", tags=["exposures"])

Analyst = Annotated[ApiKeyRecord, Depends(require_role("analyst", "admin"))]

COLUMNS = (*recommendation_log.EXPOSURE_COLUMNS, "rating", "rated_at")


class ExposureRowPublic(BaseModel):
    exposure_id: int
    request_id: str
    shown_at: dt.datetime
    model_version: str | None
    rank: int
    service_id: str
    score: float
    propensity: float = Field(gt=0, le=1)
    slot: Literal["ranked", "explore"]
    rating: int | None = Field(description="The rating citing this request and service, if any.")
    rated_at: dt.datetime | None


class ExposuresExport(BaseModel):
    count: int
    next_after: int | None = Field(description="Pass as `after` for the next page; null at end.")
    data: list[ExposureRowPublic]


@router.get(
    "/export",
    operation_id="export_exposures",
    response_model=ExposuresExport,
    summary="What was shown, with propensities and outcomes, for off-policy learning (analysts)",
    responses={200: {"content": {"text/csv": {"schema": {"type": "string"}}}}},
)
def export_exposures(
    key: Analyst,
    session: SessionDep,
    request: Request,
    format: Annotated[Literal["json", "csv"], Query()] = "json",  # noqa: A002 - the API's name
    after: Annotated[int, Query(ge=0, description="Rows after this exposure_id.")] = 0,
    limit: Annotated[int, Query(ge=1, le=50_000, description="Rows in this page.")] = 10_000,
) -> Any:
    frame = recommendation_log.exposures_frame(session, after_id=after, limit=limit)
    frame = recommendation_log.with_outcomes(session, frame)
    request.state.n_results = len(frame)
    next_after = int(frame["exposure_id"].iloc[-1]) if len(frame) == limit else None
    if format == "csv":
        out = frame[list(COLUMNS)].copy()
        for col in ("shown_at", "rated_at"):
            out[col] = out[col].map(lambda t: "" if t is None or t != t else t.isoformat())
        headers = {"Content-Disposition": 'attachment; filename="exposures.csv"'}
        if next_after is not None:
            headers["X-Next-After"] = str(next_after)
        return Response(
            out.to_csv(index=False, lineterminator="\n"),
            media_type="text/csv; charset=utf-8",
            headers=headers,
        )
    records = []
    for rec in frame[list(COLUMNS)].to_dict("records"):
        rec["rating"] = (
            None if rec["rating"] is None or rec["rating"] != rec["rating"] else int(rec["rating"])
        )
        for col in ("shown_at", "rated_at"):
            t = rec[col]
            rec[col] = None if t is None or t != t else t.to_pydatetime()
        records.append(rec)
    return ExposuresExport(
        count=len(records),
        next_after=next_after,
        data=[ExposureRowPublic.model_validate(r) for r in records],
    )
