"""``GET /v1/insights/referrals``, ``/discovered``, ``/gaps`` and ``/stale``: counts for managers
and commissioners (``manager`` and ``analyst`` keys).

Only counts leave, and counts under ``vcsmatch.store.insights.SUPPRESS_BELOW`` are sent as
``null`` (suppressed); no person-level row. ``format=csv`` gives the same table as CSV.
``since``/``until`` (ISO dates, UTC days, both included) keep referrals and requests to a
period; ``/stale`` is as of today and takes neither.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Response
from pydantic import BaseModel, Field

from api.deps import ServingDep, SessionDep, SettingsDep, require_role
from api.problems import field_problem, not_ready
from vcsmatch.store import insights
from vcsmatch.store.api_keys import ApiKeyRecord

router = APIRouter(prefix="/v1/insights", tags=["insights"])

Manager = Annotated[ApiKeyRecord, Depends(require_role("manager", "analyst"))]
Format = Annotated[Literal["json", "csv"], Query()]
Grouping = Literal[insights.GROUPINGS]  # type: ignore[valid-type]


@dataclass(frozen=True)
class Period:
    """The ``since``/``until`` query parameters, checked as a pair (422 when reversed)."""

    since: dt.date | None
    until: dt.date | None


#: An ISO calendar date and nothing else (``dt.date`` alone would also take ``0``, the epoch).
_ISO_DATE = r"^\d{4}-\d{2}-\d{2}$"


def _day(name: str, value: str | None) -> dt.date | None:
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise field_problem(name, f"{value!r} is not a calendar date (YYYY-MM-DD)") from None


def _date_query(description: str) -> Any:
    """A query parameter taking an ISO calendar date, declared as one in the OpenAPI document."""
    return Query(description=description, pattern=_ISO_DATE, json_schema_extra={"format": "date"})


async def period(
    since: Annotated[str | None, _date_query("First UTC day counted (ISO date, included).")] = None,
    until: Annotated[str | None, _date_query("Last UTC day counted (ISO date, included).")] = None,
) -> Period:
    first, last = _day("since", since), _day("until", until)
    try:
        insights.window(first, last)
    except ValueError as exc:
        raise field_problem("since", str(exc)) from None
    return Period(first, last)


PeriodDep = Annotated[Period, Depends(period)]

_CSV = {200: {"content": {"text/csv": {"schema": {"type": "string"}}}}}


class Count(BaseModel):
    group: str
    count: int | None = Field(description=f"null: under {insights.SUPPRESS_BELOW}, suppressed.")
    accepted_or_attended: int | None = None


class Counts(BaseModel):
    by: str
    suppressed_below: int = insights.SUPPRESS_BELOW
    data: list[Count]


class Stale(BaseModel):
    service_id: str
    name: str
    last_reviewed: dt.date | None
    months: int | None = Field(description="Whole months since the last review; null: never.")


class StaleList(BaseModel):
    older_than_months: int
    count: int
    data: list[Stale]


class Gap(BaseModel):
    need: str
    district: str = Field(description=f"Postcode outward code; {insights.NO_DISTRICT!r}: none.")
    requests: int | None = Field(description="Requests asking for the need; null: suppressed.")
    services_in_reach: int | None = Field(
        description="Median, over those requests, of the active services meeting the need that "
        "were eligible and within reach; null: suppressed."
    )
    none_relevant: int | None = Field(
        description="Requests none of whose suggestions was rated relevant; null: suppressed."
    )
    flagged: bool = Field(description="High demand and thin provision.")


class Gaps(BaseModel):
    high_demand_at: int
    thin_at_most: int
    suppressed_below: int = insights.SUPPRESS_BELOW
    data: list[Gap]


def _csv(rows: list[dict[str, Any]], columns: list[str], name: str) -> Response:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({c: "" if row[c] is None else row[c] for c in columns})
    return Response(
        buf.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}.csv"'},
    )


def _counts(by: str, rows: list[insights.CountRow], format: str) -> Any:  # noqa: A002
    data = [Count(**vars(r)) for r in rows]
    if format == "csv":
        return _csv([d.model_dump() for d in data], list(Count.model_fields), f"referrals-{by}")
    return Counts(by=by, data=data)


@router.get(
    "/referrals",
    operation_id="insight_referrals",
    response_model=Counts,
    summary="Referrals made by week, service, need or team (small counts suppressed)",
    responses=_CSV,
)
def referral_insight(
    key: Manager,
    session: SessionDep,
    period: PeriodDep,
    by: Annotated[Grouping, Query()] = "week",
    format: Format = "json",  # noqa: A002 - the API's name
) -> Any:
    rows = insights.referral_counts(session, by, since=period.since, until=period.until)
    return _counts(by, rows, format)


@router.get(
    "/discovered",
    operation_id="insight_discovered",
    response_model=Counts,
    summary="Per team and month: services referred to for the first time",
    responses=_CSV,
)
def discovered_insight(
    key: Manager,
    session: SessionDep,
    period: PeriodDep,
    format: Format = "json",  # noqa: A002
) -> Any:
    rows = insights.discovered(session, since=period.since, until=period.until)
    return _counts("team-month", rows, format)


@router.get(
    "/gaps",
    operation_id="insight_gaps",
    response_model=Gaps,
    summary="Per need and postcode district: demand, provision in reach, unmet (flagged gaps)",
    responses=_CSV,
)
def gaps_insight(
    key: Manager,
    session: SessionDep,
    serving: ServingDep,
    period: PeriodDep,
    high_demand_at: Annotated[
        int,
        Query(
            ge=insights.SUPPRESS_BELOW,
            le=1_000_000,
            description="Requests from which demand counts as high.",
        ),
    ] = insights.HIGH_DEMAND_AT,
    thin_at_most: Annotated[
        int,
        Query(
            ge=0,
            le=10_000,
            description="Median services in reach at or below which provision counts as thin.",
        ),
    ] = insights.THIN_AT_MOST,
    format: Format = "json",  # noqa: A002
) -> Any:
    if serving.recommender is None:
        raise not_ready("No model is loaded yet.")
    found = insights.gaps(
        session,
        serving.recommender,
        high_demand_at=high_demand_at,
        thin_at_most=thin_at_most,
        since=period.since,
        until=period.until,
    )
    data = [Gap(**vars(g)) for g in found]
    if format == "csv":
        return _csv([d.model_dump() for d in data], list(Gap.model_fields), "gaps")
    return Gaps(high_demand_at=high_demand_at, thin_at_most=thin_at_most, data=data)


@router.get(
    "/stale",
    operation_id="insight_stale",
    response_model=StaleList,
    summary="Listings not reviewed within Settings.stale_after_months, oldest first",
    responses=_CSV,
)
def stale_insight(
    key: Manager,
    serving: ServingDep,
    settings: SettingsDep,
    format: Format = "json",  # noqa: A002
) -> Any:
    catalogue = serving.catalogue
    found = (
        []
        if catalogue is None
        else insights.stale(
            catalogue, older_than_months=settings.stale_after_months, today=dt.date.today()
        )
    )
    data = [Stale(**vars(s)) for s in found]
    if format == "csv":
        return _csv([d.model_dump() for d in data], list(Stale.model_fields), "stale")
    return StaleList(older_than_months=settings.stale_after_months, count=len(data), data=data)
