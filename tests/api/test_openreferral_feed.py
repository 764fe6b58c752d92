"""``/openreferral/``: the public ORUK 3.0 feed, checked as a consumer would (no key)."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from openreferral_schemas import errors

from vcsmatch.catalogue.importing import import_file

ENVELOPE = {"total_items", "total_pages", "page_number", "size", "first_page", "last_page",
            "empty", "contents"}  # fmt: skip


def _no_nulls(obj: object, where: str = "") -> list[str]:
    if isinstance(obj, dict):
        return [p for k, v in obj.items() for p in _no_nulls(v, f"{where}.{k}")] + [
            f"{where}.{k}" for k, v in obj.items() if v is None
        ]
    if isinstance(obj, list):
        return [p for i, v in enumerate(obj) for p in _no_nulls(v, f"{where}[{i}]")]
    return []


def _all(client: TestClient, path: str, **params: object) -> list[dict]:
    out, n = [], 1
    while True:
        body = client.get(path, params={**params, "page": n, "per_page": 25}).json()
        out += body["contents"]
        if body["last_page"]:
            return out
        n += 1


def test_root_names_the_version_and_allows_any_origin(
    shared_client: TestClient, shared_seed
) -> None:
    response = shared_client.get("/openreferral/")
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == "*"
    assert response.json()["version"] == "3.0"


def test_services_page_with_the_hsds_envelope(shared_client: TestClient, shared_seed) -> None:
    n = len(shared_seed.world.catalogue)
    first = shared_client.get("/openreferral/services", params={"per_page": 25}).json()
    assert set(first) == ENVELOPE
    assert (first["total_items"], first["total_pages"], first["page_number"]) == (n, -(-n // 25), 1)
    assert first["size"] == len(first["contents"]) == 25
    assert first["first_page"] and not first["last_page"] and not first["empty"]
    last = shared_client.get(
        "/openreferral/services", params={"per_page": 25, "page": first["total_pages"]}
    ).json()
    assert last["last_page"] and last["size"] == n - 25 * (first["total_pages"] - 1)
    beyond = shared_client.get("/openreferral/services", params={"page": 99}).json()
    assert beyond["empty"] and beyond["size"] == 0


@pytest.mark.parametrize(
    ("path", "kind"),
    [("/openreferral/services", "service"),
     ("/openreferral/service_at_locations", "service_at_location"),
     ("/openreferral/taxonomies", "taxonomy"),
     ("/openreferral/taxonomy_terms", "taxonomy_term")],
)  # fmt: skip
def test_every_object_of_every_endpoint_validates_against_oruk3(
    shared_client: TestClient, shared_seed, path: str, kind: str
) -> None:
    objects = _all(shared_client, path)
    assert objects
    for obj in objects:
        assert errors(obj, kind, profile="oruk-3.0") == [], obj["id"]
        assert _no_nulls(obj) == [], obj["id"]
        one = shared_client.get(f"{path}/{obj['id']}")
        assert one.status_code == 200 and one.json() == obj
    assert shared_client.get(f"{path}/00000000-0000-4000-8000-000000000000").status_code == 404


def test_needs_activities_and_eligibility_are_published_as_taxonomies(
    shared_client: TestClient, shared_seed
) -> None:
    names = {t["name"] for t in _all(shared_client, "/openreferral/taxonomies")}
    assert {"vcsmatch-needs", "vcsmatch-activities", "vcsmatch-eligibility"} <= names
    terms = {t["id"] for t in _all(shared_client, "/openreferral/taxonomy_terms")}
    linked = {
        a["taxonomy_term_id"]
        for s in _all(shared_client, "/openreferral/services")
        for a in s["attributes"]
        if "taxonomy_term_id" in a
    }
    assert linked and linked <= terms


def test_filters_by_term_taxonomy_age_and_text(shared_client: TestClient, shared_seed) -> None:
    catalogue = shared_seed.world.catalogue
    need = catalogue.services[0].needs[0]
    term = next(t for t in _all(shared_client, "/openreferral/taxonomy_terms") if t["code"] == need)
    found = _all(shared_client, "/openreferral/services", taxonomy_term_id=term["id"])
    assert len(found) == sum(need in s.needs for s in catalogue.services)
    by_tax = _all(shared_client, "/openreferral/services", taxonomy_id=term["taxonomy_id"])
    assert len(by_tax) == sum(bool(s.needs) for s in catalogue.services)
    # As the profile's openapi.json words them: minimum_age "of at least", maximum_age "equal
    # to or below" the value.
    young = _all(shared_client, "/openreferral/services", maximum_age=25)
    assert len(young) == sum(
        s.eligibility.max_age is not None and s.eligibility.max_age <= 25 for s in catalogue
    )
    older = _all(shared_client, "/openreferral/services", minimum_age=50)
    assert len(older) == sum(
        s.eligibility.min_age is not None and s.eligibility.min_age >= 50 for s in catalogue
    )
    assert all(s["minimum_age"] >= 50 for s in older) and 0 < len(older) < len(catalogue)
    word = catalogue.services[0].name.split()[0]
    assert any(s["name"] == catalogue.services[0].name
               for s in _all(shared_client, "/openreferral/services", search=word))  # fmt: skip


def test_service_at_locations_near_a_postcode_come_nearest_first(
    shared_client: TestClient, shared_seed
) -> None:
    located = next(
        loc
        for s in shared_seed.world.catalogue.services
        for loc in s.locations
        if loc.postcode and loc.latitude is not None
    )
    near = _all(
        shared_client, "/openreferral/service_at_locations", postcode=located.postcode,
        proximity=5000,
    )  # fmt: skip
    everything = _all(shared_client, "/openreferral/service_at_locations")
    assert near and len(near) < len(everything)
    assert near[0]["location"]["latitude"] == pytest.approx(located.latitude, abs=0.05)
    bad = shared_client.get("/openreferral/service_at_locations", params={"postcode": "ZZ"})
    assert bad.status_code == 422
    assert [loc["location"].get("latitude") is not None for loc in near] == [True] * len(near)
    alone = shared_client.get("/openreferral/service_at_locations", params={"proximity": 10})
    assert alone.status_code == 422


def test_a_postcode_keeps_only_services_whose_declared_area_holds_it(
    shared_client: TestClient, shared_seed
) -> None:
    """Without proximity, a postcode drops the services whose service_area excludes it."""
    from vcsmatch.catalogue.ids import public_id
    from vcsmatch.features.geo import in_service_area

    catalogue = shared_seed.world.catalogue
    located = next(loc for s in catalogue for loc in s.locations if loc.postcode and loc.latitude)
    found = _all(shared_client, "/openreferral/service_at_locations", postcode=located.postcode)
    kept = {sal["service_id"] for sal in found}
    excluded = {
        public_id("service", s.id, s.source)
        for s in catalogue
        if in_service_area(s, located.latitude, located.longitude) is False
    }
    assert excluded and not kept & excluded
    assert kept  # services with no area, or whose area holds the postcode


@pytest.mark.parametrize(
    "path",
    ["/openreferral/services/00000000-0000-4000-8000-000000000000",
     "/openreferral/services?page=0", "/openreferral/service_at_locations?postcode=ZZ",
     "/openreferral/nowhere"],
)  # fmt: skip
def test_error_answers_of_the_feed_allow_any_origin_too(
    shared_client: TestClient, shared_seed, path: str
) -> None:
    """A browser consumer can read the feed's 4xx problem bodies, not only its successes."""
    response = shared_client.get(path, headers={"Origin": "https://hub.example.org"})
    assert 400 <= response.status_code < 500
    assert response.headers["access-control-allow-origin"] == "*"
    assert shared_client.get("/v1/services").headers.get("access-control-allow-origin") is None


def test_importing_the_feeds_own_output_gives_back_the_same_catalogue(
    shared_client: TestClient, shared_seed
) -> None:
    services = _all(shared_client, "/openreferral/services")
    back = import_file(services).catalogue
    assert back.services == shared_seed.world.catalogue.services


def test_the_feed_imports_with_format_oruk3(
    shared_client: TestClient, shared_seed, tmp_path
) -> None:
    import json

    feed = tmp_path / "feed.json"
    feed.write_text(
        json.dumps(shared_client.get("/openreferral/services", params={"per_page": 1000}).json())
    )
    result = import_file(feed, "oruk3")
    assert result.report.format == "oruk3"
    assert result.catalogue.services == shared_seed.world.catalogue.services


def test_a_dump_of_the_feeds_pages_and_root_imports_as_the_same_catalogue(
    shared_client: TestClient, shared_seed, tmp_path
) -> None:
    """What ``catalogue import`` reads from a crawl of the feed ('/' and every page of
    /services) is ORUK 3.0 and gives back the catalogue being served."""
    import json

    (tmp_path / "000-root.json").write_text(json.dumps(shared_client.get("/openreferral/").json()))
    n = 1
    while True:
        body = shared_client.get("/openreferral/services", params={"page": n, "per_page": 40})
        (tmp_path / f"page-{n}.json").write_text(body.text)
        if body.json()["last_page"]:
            break
        n += 1
    result = import_file(tmp_path)
    assert n > 1 and result.report.format == "oruk3"
    assert result.report.warnings == [] and result.report.lost_fields == {}
    assert result.catalogue.services == shared_seed.world.catalogue.services
