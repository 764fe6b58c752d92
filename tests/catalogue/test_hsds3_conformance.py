"""Our HSDS 3.0 export against the official HSDS 3.0 schemas, formats on (ids are UUIDs)."""

from __future__ import annotations

import pytest
from openreferral_schemas import EXAMPLES, errors, require_openreferral

from vcsmatch.catalogue.hsds3 import write_hsds3
from vcsmatch.catalogue.ids import as_uuid, public_id
from vcsmatch.catalogue.importing import import_file, load_catalogue
from vcsmatch.catalogue.model import Catalogue, Eligibility, Schedule, Service
from vcsmatch.paths import CATALOGUE_DIR
from vcsmatch.synthetic import make_world


def invalid(catalogue: Catalogue) -> dict[str, list[str]]:
    """Exported service id -> its schema errors, for every service that is not valid HSDS."""
    out = {}
    for obj in write_hsds3(catalogue):
        found = errors(obj, "service")
        if found:
            out[obj["id"]] = found[:3]
    return out


def test_sample_catalogue_exports_valid_hsds() -> None:
    catalogue = load_catalogue(CATALOGUE_DIR / "sample" / "services.json")
    assert len(catalogue) == 400
    assert invalid(catalogue) == {}


def test_a_700_service_synthetic_world_exports_valid_hsds() -> None:
    catalogue = make_world(n_services=700, n_people=20, n_new_people=1, seed=7).catalogue
    assert len(catalogue) == 700
    assert invalid(catalogue) == {}


def test_export_ids_are_deterministic_uuids_and_the_source_id_comes_back() -> None:
    catalogue = load_catalogue(CATALOGUE_DIR / "sample" / "services.json")
    first, again = write_hsds3(catalogue), write_hsds3(catalogue)
    assert [s["id"] for s in first] == [s["id"] for s in again]
    assert all(as_uuid(s["id"]) == s["id"] for s in first)
    assert len({s["id"] for s in first}) == len(first)
    back = import_file(first, "hsds3").catalogue
    assert back.services == catalogue.services  # the source's own ids are read back
    assert write_hsds3(back) == first


def test_a_source_id_that_is_a_uuid_is_kept() -> None:
    sid = "0b6e9c52-7f0f-4d7e-8a0e-1f2a3b4c5d6e"
    assert public_id("service", sid, "anywhere") == sid
    assert public_id("service", sid.upper()) == sid
    assert public_id("service", "a", "x") != public_id("service", "a", "y")
    (out,) = write_hsds3(Catalogue(services=[Service(id=sid, name="Club")]))
    assert out["id"] == sid
    assert not any(a["taxonomy_term"].get("code") == "source_id" for a in out["attributes"])


def test_urls_without_a_scheme_daily_schedules_and_fractional_ages_export_valid() -> None:
    service = Service(
        id="baby-1",
        name="Baby massage",
        url="www.example.org/babies",
        eligibility=Eligibility(min_age=0.5, max_age=2),
        schedules=[Schedule(freq="DAILY", opens_at="09:00", closes_at="10:00")],
    )
    assert service.schedules[0].freq == "WEEKLY"
    assert service.schedules[0].weekdays == ["MO", "TU", "WE", "TH", "FR", "SA", "SU"]
    catalogue = Catalogue(services=[service])
    assert invalid(catalogue) == {}
    (out,) = write_hsds3(catalogue)
    assert out["url"] == "https://www.example.org/babies"
    assert out["minimum_age"] == 0.5
    assert out["schedules"][0]["byday"] == "MO,TU,WE,TH,FR,SA,SU"
    back = import_file([out], "hsds3").catalogue.services[0]
    assert back.eligibility.min_age == 0.5
    assert back.schedules == service.schedules


def test_text_that_is_no_url_is_left_out_rather_than_published_invalid() -> None:
    catalogue = Catalogue(services=[Service(id="x", name="Club", url="ask at reception")])
    assert invalid(catalogue) == {}
    assert "url" not in write_hsds3(catalogue)[0]


@pytest.mark.parametrize(
    "example",
    ["service_full.json", "service_list.json", "oruk-3.0-service_full.json",
     "oruk-3.0-service_list.json", "organization_full.json", "oruk-3.0-organization_full.json",
     "service_at_location_full.json", "service_at_location_list.json",
     "oruk-3.0-service_at_location_full.json"],
)  # fmt: skip
def test_each_official_service_example_exports_valid_after_import(example: str) -> None:
    """With its verbatim fields laid back, every example's service is valid HSDS 3.0 and
    valid Open Referral UK 3.0."""
    require_openreferral()
    result = import_file(EXAMPLES / example)
    assert len(result.catalogue) == 1
    assert invalid(result.catalogue) == {}
    (out,) = write_hsds3(result.catalogue)
    assert errors(out, "service", profile="oruk-3.0") == []


def test_the_invalid_latitude_of_service_full_is_reported_and_coerced() -> None:
    require_openreferral()
    result = import_file(EXAMPLES / "service_full.json")
    (warning,) = [w for w in result.report.warnings if "latitude" in w]
    assert warning.startswith("ac148810-d857-441c-9679-408f346de14b: ")
    assert "service_at_locations[0].location.latitude" in warning
    location = result.catalogue.services[0].locations[0]
    assert location.latitude is None and location.longitude is None


def test_an_organisation_document_is_read_for_its_nested_services() -> None:
    require_openreferral()
    result = import_file(EXAMPLES / "organization_full.json")
    assert result.report.format == "hsds3"
    (service,) = result.catalogue.services
    assert service.id == "ac148810-d857-441c-9679-408f346de14b"
    assert service.name == "Community Counselling"
    assert service.organisation and service.organisation_id
    assert invalid(result.catalogue) == {}
