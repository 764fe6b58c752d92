"""``/openreferral/``: the public, read-only Open Referral UK 3.0 feed of the catalogue.

It is the council's public directory: no key, no personal data, no ratings, and
``Access-Control-Allow-Origin: *`` on every answer, errors too (set by
``api.middleware.SecurityHeadersMiddleware``), so a family hub or the ORUK validator can read
it from a browser. Objects and pages are built by ``vcsmatch.catalogue.oruk3_feed``; this
module only filters and pages, with the query parameters of the profile's ``openapi.json``
read as it words them (``minimum_age``: services whose minimum age is at least the value).
A postcode in the query is a place, not a person.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query

from api.deps import ServingDep, SettingsDep
from api.problems import ProblemException, field_problem, problem_responses
from vcsmatch.catalogue.model import Catalogue
from vcsmatch.catalogue.oruk3_feed import ORUK_VERSION, PROFILE_URL, Feed, build_feed, page
from vcsmatch.features.geo import ServiceAreas, haversine_km
from vcsmatch.features.location import locate
from vcsmatch.features.person import Person

router = APIRouter(
    prefix="/openreferral",
    tags=["openreferral"],
    responses=problem_responses(503),
)
_NOT_FOUND = problem_responses(404)

_cache: dict[int, tuple[Catalogue, Feed, ServiceAreas]] = {}


def _snapshot(serving: ServingDep) -> tuple[Catalogue, Feed, ServiceAreas]:
    """The feed of the snapshot being served and its service areas, built once per catalogue."""
    catalogue = serving.catalogue
    if catalogue is None:
        raise ProblemException(503, "Not ready", "no catalogue is loaded yet")
    hit = _cache.get(id(catalogue))
    if hit is None or hit[0] is not catalogue:
        _cache.clear()
        hit = (catalogue, build_feed(catalogue), ServiceAreas().fit(catalogue))
        _cache[id(catalogue)] = hit
    return hit


def _feed(snapshot: Annotated[tuple[Catalogue, Feed, ServiceAreas], Depends(_snapshot)]) -> Feed:
    return snapshot[1]


def _areas(
    snapshot: Annotated[tuple[Catalogue, Feed, ServiceAreas], Depends(_snapshot)],
) -> ServiceAreas:
    return snapshot[2]


FeedDep = Annotated[Feed, Depends(_feed)]
AreasDep = Annotated[ServiceAreas, Depends(_areas)]
Page = Annotated[int, Query(ge=1, le=100_000)]
PerPage = Annotated[int, Query(ge=1, le=1000)]


def _one(feed: Feed, kind: str, object_id: str) -> dict[str, Any]:
    found = feed.by_id(kind).get(object_id.lower())
    if found is None:
        raise ProblemException(404, "Not found", f"no such {kind} id: {object_id[:80]!r}")
    return found


def _matches(
    svc: dict[str, Any],
    feed: Feed,
    search: str | None,
    taxonomy_term_id: str | None,
    taxonomy_id: str | None,
    minimum_age: float | None,
    maximum_age: float | None,
    day: str | None,
) -> bool:
    if search:
        text = f"{svc.get('name', '')} {svc.get('description', '')}".lower()
        if search.lower() not in text:
            return False
    terms = [a.get("taxonomy_term") or {} for a in svc.get("attributes", [])]
    if taxonomy_term_id and taxonomy_term_id.lower() not in {t.get("id") for t in terms}:
        return False
    if taxonomy_id:
        names = {t["name"] for t in feed.taxonomies if t["id"] == taxonomy_id.lower()}
        if not names & {t.get("taxonomy") for t in terms}:
            return False
    if minimum_age is not None and not svc.get("minimum_age", -1) >= minimum_age:
        return False
    if maximum_age is not None and not svc.get("maximum_age", math.inf) <= maximum_age:
        return False
    if day:
        code = day.strip().upper()[:2]
        days = {d for s in svc.get("schedules", []) for d in s.get("byday", "").split(",")}
        if code not in days:
            return False
    return True


@router.get("/", summary="What this feed is (ORUK 3.0)")
def feed_root() -> dict[str, str]:
    return {
        "version": ORUK_VERSION,
        "profile": PROFILE_URL,
        "openapi_url": "https://raw.githubusercontent.com/OpenReferralUK/uk-profile/main/schema/openapi.json",
    }


def _service_filter(
    feed: FeedDep,
    search: str | None = None,
    taxonomy_term_id: str | None = None,
    taxonomy_id: str | None = None,
    minimum_age: Annotated[float | None, Query(ge=0)] = None,
    maximum_age: Annotated[float | None, Query(ge=0)] = None,
    start_time: dt.time | None = None,
    end_time: dt.time | None = None,
    day: str | None = None,
) -> Callable[[dict[str, Any]], bool]:
    """The ORUK service filters of the query, as one test of an exported service."""

    def keep(svc: dict[str, Any]) -> bool:
        return _matches(
            svc, feed, search, taxonomy_term_id, taxonomy_id, minimum_age, maximum_age, day
        ) and _open_between(svc, start_time, end_time)

    return keep


Keep = Annotated[Callable[[dict[str, Any]], bool], Depends(_service_filter)]


@router.get("/services", summary="Services, paged (HSDS envelope)")
def list_services(
    feed: FeedDep,
    keep: Keep,
    page_number: Annotated[Page, Query(alias="page")] = 1,
    per_page: PerPage = 50,
) -> dict[str, Any]:
    return page([s for s in feed.services if keep(s)], page_number, per_page)


def _open_between(svc: dict[str, Any], start: dt.time | None, end: dt.time | None) -> bool:
    if start is None and end is None:
        return True
    for s in svc.get("schedules", []):
        opens, closes = s.get("opens_at"), s.get("closes_at")
        if start is not None and (opens is None or opens < start.isoformat()):
            continue
        if end is not None and (closes is None or closes > end.isoformat()):
            continue
        return True
    return False


@router.get("/services/{id}", responses=_NOT_FOUND, summary="One service")
def get_service(feed: FeedDep, object_id: Annotated[str, Path(alias="id")]) -> dict[str, Any]:
    return _one(feed, "services", object_id)


@router.get("/service_at_locations", summary="Services at locations, paged")
def list_service_at_locations(
    feed: FeedDep,
    areas: AreasDep,
    settings: SettingsDep,
    keep: Keep,
    page_number: Annotated[Page, Query(alias="page")] = 1,
    per_page: PerPage = 50,
    postcode: Annotated[str | None, Query(max_length=10)] = None,
    proximity: Annotated[
        float | None, Query(gt=0, description="Metres from the postcode's centroid.")
    ] = None,
) -> dict[str, Any]:
    """With ``postcode``: the services whose declared area holds it (a service declaring
    none is kept), within ``proximity`` metres where given, nearest first."""
    services = feed.by_id("services")
    chosen = [sal for sal in feed.service_at_locations if keep(services[sal["service_id"]])]
    if postcode is not None:
        point = locate(Person(postcode=postcode), settings=settings)
        if point is None:
            raise field_problem("query.postcode", "is not a postcode we can place")
        chosen = _near(chosen, feed, areas, point, proximity)
    elif proximity is not None:
        raise field_problem("query.proximity", "needs a postcode to measure from")
    return page(chosen, page_number, per_page)


def _near(
    sals: list[dict[str, Any]],
    feed: Feed,
    areas: ServiceAreas,
    point: tuple[float, float],
    proximity: float | None,
) -> list[dict[str, Any]]:
    lat, lon = point
    inside = areas.contains(lat, lon)
    rows = {svc["id"]: i for i, svc in enumerate(feed.services)}
    found = []
    for sal in sals:
        row = rows[sal["service_id"]]
        if areas.declared_[row] and not inside[row]:
            continue
        loc = sal.get("location", {})
        km = math.inf
        if "latitude" in loc and "longitude" in loc:
            km = float(haversine_km(lat, lon, loc["latitude"], loc["longitude"]))
        if proximity is not None and not km * 1000 <= proximity:
            continue
        found.append((km, sal))
    return [sal for _, sal in sorted(found, key=lambda d: d[0])]


@router.get("/service_at_locations/{id}", responses=_NOT_FOUND, summary="One service at a location")
def get_service_at_location(
    feed: FeedDep, object_id: Annotated[str, Path(alias="id")]
) -> dict[str, Any]:
    return _one(feed, "service_at_locations", object_id)


def _vocabulary_routes(kind: str, what: str) -> None:
    """List and detail routes of one vocabulary kind (``taxonomies``, ``taxonomy_terms``)."""

    def list_objects(
        feed: FeedDep,
        page_number: Annotated[Page, Query(alias="page")] = 1,
        per_page: PerPage = 50,
    ) -> dict[str, Any]:
        return page(getattr(feed, kind), page_number, per_page)

    def get_object(feed: FeedDep, object_id: Annotated[str, Path(alias="id")]) -> dict[str, Any]:
        return _one(feed, kind, object_id)

    router.add_api_route(
        f"/{kind}", list_objects, methods=["GET"], summary=what, operation_id=f"list_{kind}"
    )
    router.add_api_route(
        f"/{kind}/{{id}}",
        get_object,
        methods=["GET"],
        summary=f"One of {what.lower()}",
        operation_id=f"get_{kind}",
        responses=_NOT_FOUND,
    )


_vocabulary_routes("taxonomies", "The taxonomies services are tagged with")
_vocabulary_routes("taxonomy_terms", "Taxonomy terms (needs, activities, eligibility...)")
