"""``GET /v1/services`` (front-door catalogue search) and ``GET /v1/services/{service_id}``
(one service as HSDS 3.0 JSON).

A postcode in the query string is a place, not a person, so search allows it; the audit log
records only the route template, and the server's access log (which would record the query
string) is off. The search itself is ``vcsmatch.search.CatalogueSearch``.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

import anyio
from fastapi import APIRouter, Depends, Path, Query, Request, Response
from pydantic import BaseModel, Field, ValidationError

from api.deps import (
    ServingDep,
    StateDep,
    check_recalled_key,
    recalled_key_holds,
    require_role,
)
from api.direct_route import DirectRoute
from api.problems import (
    ProblemException,
    field_problem,
    not_ready,
    problem_responses,
    validation_errors,
)
from vcsmatch.catalogue.hsds3 import write_hsds3
from vcsmatch.catalogue.model import Catalogue, DeliveryMode, Service
from vcsmatch.features.location import locate
from vcsmatch.features.person import Person, Sex
from vcsmatch.search import WEEKDAYS, SearchPage, SearchQuery
from vcsmatch.store.api_keys import ApiKeyRecord

router = APIRouter(prefix="/v1/services", tags=["services"], route_class=DirectRoute)
#: Paths whose key ``KeyGateMiddleware`` may recall from memory: search confirms it itself, on
#: the event loop when that read needs no wait (``recalled_key_holds``), else in its worker
#: thread (``check_recalled_key``), so a search costs at most one thread-pool hop, not two.
CONFIRMS_KEY = frozenset({"/v1/services"})

Searcher = Annotated[ApiKeyRecord, Depends(require_role("practitioner", "front_door"))]


class SearchHitPublic(BaseModel):
    service: Service
    score: float
    distance_km: float | None
    matched_terms: list[str]
    matched_needs: list[str]
    matched_activities: list[str]
    facts: list[str] = Field(description="Filters checked and passed, in words.")
    why: list[str] = Field(description="Why it matched, most important first.")


class ServicePage(BaseModel):
    """One page of ranked search results in an envelope whose fields mean what HSDS's do;
    the results are search hits, not HSDS services (the feed at /openreferral/ serves those)."""

    total_items: int
    total_pages: int
    page_number: int
    size: int = Field(description="The number of results on this page.")
    first_page: bool
    last_page: bool
    empty: bool = Field(description="True when this page holds no results.")
    contents: list[SearchHitPublic]
    corrections: dict[str, str] = Field(description="Query words read as others (typos).")
    implied_needs: list[str]
    implied_activities: list[str]
    catalogue_version: int


#: A hit's service leaves out the verbatim HSDS fields (GET /v1/services/{id} has them all).
_NOT_IN_HITS = {"contents": {"__all__": {"service": {"hsds_extra"}}}}


def _page_json(page: SearchPage, catalogue_version: int) -> str:
    """``page`` as the ``ServicePage`` JSON, serialised once.

    The hits' ``Service`` objects go into the public models as they are (pydantic does not
    re-validate a model instance); dumping them to dicts and validating those back, then letting
    FastAPI validate the response model again, cost more CPU than the search itself.
    """
    hits = [
        SearchHitPublic(
            service=h.service,
            score=round(h.score, 6),
            distance_km=None if h.distance_km is None else round(h.distance_km, 3),
            matched_terms=list(h.matched_terms),
            matched_needs=list(h.matched_needs),
            matched_activities=list(h.matched_activities),
            facts=list(h.facts),
            why=list(h.why),
        )
        for h in page.contents
    ]
    return ServicePage(
        total_items=page.total_items,
        total_pages=page.total_pages,
        page_number=page.page_number,
        size=page.size,
        first_page=page.first_page,
        last_page=page.last_page,
        empty=page.empty,
        contents=hits,
        corrections=dict(page.corrections),
        implied_needs=list(page.implied_needs),
        implied_activities=list(page.implied_activities),
        catalogue_version=catalogue_version,
    ).model_dump_json(exclude=_NOT_IN_HITS)


def _weekday(open_on: str | None) -> str | None:
    if open_on is None or open_on in WEEKDAYS:
        return open_on
    return WEEKDAYS[dt.date.fromisoformat(open_on).weekday()]


@router.get(
    "",
    operation_id="search_services",
    response_model=ServicePage,
    summary="Search the catalogue: free text, needs, place, eligibility, mode, cost, day",
)
async def search_services(
    key: Searcher,
    state: StateDep,
    request: Request,
    q: Annotated[
        str | None, Query(max_length=500, description="Free text; typos and synonyms tolerated.")
    ] = None,
    needs: Annotated[list[str], Query(max_length=50, description="Need codes.")] = [],  # noqa: B006
    activities: Annotated[list[str], Query(max_length=50)] = [],  # noqa: B006
    postcode: Annotated[
        str | None, Query(max_length=16, description="Search near this place.")
    ] = None,
    latitude: Annotated[float | None, Query(ge=-90, le=90)] = None,
    longitude: Annotated[float | None, Query(ge=-180, le=180)] = None,
    radius_km: Annotated[float, Query(gt=0, le=500)] = 10.0,
    include_remote: Annotated[
        bool, Query(description="With a place, also list online/phone services.")
    ] = True,
    age: Annotated[int | None, Query(ge=0, le=120)] = None,
    sex: Annotated[Sex | None, Query()] = None,
    delivery_mode: Annotated[list[DeliveryMode], Query(max_length=4)] = [],  # noqa: B006
    free_only: bool = False,
    open_on: Annotated[
        str | None,
        Query(
            pattern=r"^(MO|TU|WE|TH|FR|SA|SU|\d{4}-\d{2}-\d{2})$",
            description="A weekday code (MO..SU) or a date (YYYY-MM-DD).",
        ),
    ] = None,
    page: Annotated[int, Query(ge=1, le=10_000)] = 1,
    size: Annotated[int, Query(ge=1, le=1000, description="Capped by max_page_size.")] = 20,
) -> Response:
    def work() -> Response:
        # The snapshot and settings from the state (resolved for the key check anyway), not as
        # two more dependencies FastAPI would solve on every search.
        serving, settings = state.serving, state.settings
        if size > settings.max_page_size:
            raise field_problem("query.size", f"must be at most {settings.max_page_size}")
        search = serving.search
        if search is None or serving.catalogue_version is None:
            raise not_ready("No catalogue is loaded yet.")
        lat, lon = latitude, longitude
        if postcode is not None:
            if lat is not None or lon is not None:
                raise field_problem("query.postcode", "give a postcode or coordinates, not both")
            location = locate(Person(postcode=postcode), settings=settings)
            if location is not None:
                lat, lon = location
        try:
            weekday = _weekday(open_on)
        except ValueError:
            raise field_problem("query.open_on", "is not a real date") from None
        try:
            query = SearchQuery(
                text=q,
                needs=tuple(needs),
                activities=tuple(activities),
                latitude=lat,
                longitude=lon,
                radius_km=radius_km,
                include_remote=include_remote,
                age=age,
                sex=sex,
                delivery_modes=tuple(delivery_mode),
                free_only=free_only,
                open_on=weekday,
                page=page,
                size=size,
            )
        except ValidationError as exc:
            located = [{**e, "loc": ("query", *e["loc"])} for e in exc.errors()]
            errors, _ = validation_errors(located)
            raise ProblemException(
                422, "Request is not valid", errors[0].message, type_="validation", errors=errors
            ) from None
        found = search.search(query, stale_after_months=settings.stale_after_months)
        request.state.n_results = len(found.contents)
        # Returned as bytes, so FastAPI does not validate the page again (response_model above
        # documents it).
        return Response(_page_json(found, serving.catalogue_version), media_type="application/json")

    # CONFIRMS_KEY. A search is CPU work on the catalogue's index: on the event loop while it
    # is cheap (``api.loop_budget``) and the key's check needs no wait; in a thread otherwise,
    # and always with the online geocoder on (a place given as an address is looked up there).
    on_loop = not state.settings.geocoder_enabled and state.search_budget.fits()
    if on_loop and recalled_key_holds(request, state):
        return state.search_budget.timed(work)

    def checked() -> Response:
        check_recalled_key(request, state)
        return state.search_budget.timed(work)

    return await anyio.to_thread.run_sync(checked)


@router.get(
    "/{service_id}",
    operation_id="get_service",
    summary="One service, as HSDS 3.0 JSON",
    responses={
        **problem_responses(404),
        200: {
            "description": "An HSDS 3.0 service object (with its organization, locations, "
            "schedules, attributes)."
        },
    },
)
def get_service(
    key: Searcher,
    serving: ServingDep,
    request: Request,
    service_id: Annotated[str, Path(min_length=1, max_length=200)],
) -> dict[str, Any]:
    if serving.catalogue is None:
        raise not_ready("No catalogue is loaded yet.")
    service = serving.catalogue.get(service_id)  # NotFoundError -> 404
    request.state.n_results = 1
    return write_hsds3(Catalogue(services=[service]))[0]
