"""HSDS 3.0: reading full service objects and page envelopes, writing them back."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from strategies import full_catalogues

from vcsmatch.catalogue.hsds3 import read_hsds3, write_hsds3, write_hsds3_pages
from vcsmatch.catalogue.ids import public_id
from vcsmatch.catalogue.importing import import_file, load_catalogue
from vcsmatch.catalogue.model import (
    Catalogue,
    Contact,
    Cost,
    Eligibility,
    ExternalTerm,
    Location,
    Schedule,
    Service,
    ServiceArea,
)
from vcsmatch.catalogue.verbatim import as_public_uuid
from vcsmatch.errors import ImportFailed

FIXTURES = Path(__file__).parent / "fixtures"
SQUARE = {
    "type": "Polygon",
    "coordinates": [[[-0.9, 51.7], [-0.7, 51.7], [-0.7, 51.9], [-0.9, 51.9], [-0.9, 51.7]]],
}


def rich_service(service_id: str = "svc-rich") -> Service:
    """A service with every field of the model set."""
    return Service(
        id=service_id,
        name="Wendover Lunch Club",
        description="Hot two-course lunch and company every Thursday.",
        organisation="Wendover Community Trust",
        organisation_id="org-wct",
        status="temporarily_closed",
        needs=["social-isolation", "nutrition"],
        activities=["cooking", "games-puzzles"],
        inferred_needs=["mental-wellbeing"],
        inferred_activities=["music"],
        eligibility=Eligibility(min_age=60, max_age=110, sex="male", rules="Over-60s"),
        delivery_modes=["in_person", "online", "phone", "home_visit"],
        locations=[
            Location(
                id="loc-1",
                name="Memorial Hall",
                address="High Street, Wendover",
                postcode="HP22 6DU",
                latitude=51.7612,
                longitude=-0.7421,
            ),
            Location(name="Annex", postcode="HP22 6EA"),
        ],
        service_areas=[ServiceArea(id="area-1", name="Wendover", geometry=SQUARE), ServiceArea()],
        schedules=[
            Schedule(
                weekdays=["TH"],
                opens_at=dt.time(12, 0),
                closes_at=dt.time(14, 30),
                freq="WEEKLY",
                interval=1,
                valid_from=dt.date(2026, 1, 1),
                valid_to=dt.date(2026, 12, 31),
                description="Thursdays",
            ),
            Schedule(freq=None),
        ],
        cost=Cost(free=False, description="£4.50 per meal"),
        referral="Self-referral by phone",
        contacts=[Contact(name="Organiser", title="Volunteer", phone="01296 111", email="a@b.org")],
        url="https://example.org/lunch",
        email="lunch@example.org",
        phone="01296 222333",
        languages=["English", "Polish"],
        accessibility=["Step-free access", "Hearing loop"],
        last_reviewed=dt.date(2026, 2, 14),
        source="synthetic",
        unmapped_terms=[ExternalTerm(taxonomy="esd-x", code="Z1", label="Unmapped thing")],
    )


def test_round_trip_rich_service_is_identical() -> None:
    """A catalogue with every field set comes back equal after export then import."""
    catalogue = Catalogue(services=[rich_service(), Service(id="bare", name="Bare")])
    exported = json.loads(json.dumps(write_hsds3(catalogue)))
    assert read_hsds3(exported).catalogue == catalogue


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(full_catalogues())
def test_round_trip_any_catalogue(catalogue: Catalogue) -> None:
    """Any valid catalogue survives HSDS 3.0 export then import unchanged."""
    exported = json.loads(json.dumps(write_hsds3(catalogue)))
    assert read_hsds3(exported).catalogue == catalogue


def test_round_trip_through_file_and_pages(tmp_path: Path) -> None:
    """Writing to a file and to a directory of page envelopes both read back the same."""
    catalogue = Catalogue(services=[rich_service(f"s{i}") for i in range(5)])
    write_hsds3(catalogue, tmp_path / "all.json")
    assert load_catalogue(tmp_path / "all.json").services == catalogue.services
    pages = write_hsds3_pages(catalogue, size=2, directory=tmp_path / "pages")
    assert [p["page_number"] for p in pages] == [1, 2, 3]
    assert pages[-1]["last_page"] and pages[0]["first_page"] and pages[0]["total_items"] == 5
    result = import_file(tmp_path / "pages")
    assert result.catalogue.services == catalogue.services
    assert result.report.warnings == []


def test_export_has_hsds_required_fields() -> None:
    """Every exported service and nested object carries the ids and names HSDS 3.0 requires."""
    (out,) = write_hsds3(Catalogue(services=[rich_service()]))
    assert {"id", "name", "status"} <= set(out)
    assert out["status"] == "temporarily closed"
    for key in ("phones", "schedules", "service_areas", "service_at_locations", "languages",
                "cost_options", "contacts", "attributes"):  # fmt: skip
        assert out[key] and all(isinstance(o["id"], str) and o["id"] for o in out[key]), key
    for attr in out["attributes"]:
        assert {"id", "name", "description"} <= set(attr["taxonomy_term"])
    locs = [sal["location"] for sal in out["service_at_locations"]]
    assert [loc["location_type"] for loc in locs] == ["physical", "physical", "virtual"]
    assert out["organization"] == {
        "id": public_id("organization", "org-wct", "synthetic"),
        "name": "Wendover Community Trust",
        "description": "",
    }
    assert json.loads(out["service_areas"][0]["extent"]) == SQUARE


def test_reads_realistic_file_with_nulls_extras_and_external_terms() -> None:
    """A feed with nulls, unknown fields, ordinal BYDAY and other taxonomies imports fully."""
    result = import_file(FIXTURES / "hsds3_services.json")
    assert result.report.format == "hsds3"
    assert (result.report.read, result.report.accepted, result.report.rejected) == (2, 2, [])
    cafe, walk = result.catalogue.services
    assert cafe.needs == ["dementia", "carer-support", "social-isolation"]  # LON via crosswalk
    assert cafe.activities == ["music"]
    assert cafe.unmapped_terms == [  # the term's own description is kept for the export
        ExternalTerm(taxonomy="esd-needs", code="Q99", label="Pet therapy visits", description="x")
    ]
    assert dict(result.report.unmapped_terms) == {("esd-needs", "Q99", "Pet therapy visits"): 1}
    assert cafe.delivery_modes == ["in_person", "online"]  # derived from locations
    assert cafe.locations[0].postcode == "HP20 2QP"
    assert cafe.locations[0].address == "Church Street, Aylesbury, Buckinghamshire"
    assert cafe.service_areas[0].geometry == SQUARE
    assert cafe.schedules[0].weekdays == ["TU"] and cafe.schedules[0].freq == "MONTHLY"
    assert cafe.cost == Cost(free=True, description="Free; donations welcome")
    assert cafe.eligibility == Eligibility(
        min_age=18, rules="People with memory problems and their carers"
    )
    assert cafe.last_reviewed == dt.date(2026, 3, 1)
    assert cafe.organisation == "Vale Dementia Friends"
    assert cafe.contacts == [  # a source id that is no UUID is kept as UUID5 of itself
        Contact(id=as_public_uuid("ct1"), name="Cafe coordinator", email="coord@example.org",
                phone="07700 900123")
    ]  # fmt: skip
    assert cafe.accessibility == ["Step-free access"]
    assert walk.eligibility.sex == "female" and walk.delivery_modes == ["in_person"]
    assert walk.cost.free is False


def test_page_envelope_with_bom() -> None:
    """A UTF-8 file with a byte-order mark holding a page envelope is read normally."""
    assert (FIXTURES / "hsds3_page_bom.json").read_bytes().startswith(b"\xef\xbb\xbf")
    result = import_file(FIXTURES / "hsds3_page_bom.json")
    phone, online = result.catalogue.services
    assert phone.delivery_modes == ["phone"] and phone.needs == ["social-isolation"]
    assert online.status == "temporarily_closed" and online.delivery_modes == ["online"]


BAD_REPORT = [
    ("bad-age", "minimum_age", "greater than maximum_age (70 > 60)"),
    ("bad-code", "attributes[0].taxonomy_term.code", "unknown need code 'flying'"),
    ("#6", "id", "missing"),
    ("good-1", "id", "duplicate id (first used by record #1)"),
    (
        "bad-status",
        "status",
        "must be one of ['active', 'defunct', 'inactive', 'temporarily closed', "
        "'temporarily_closed'], got 'open'",
    ),
    (
        "bad-time",
        "schedules[0].opens_at",
        'Input should be in a valid time format, invalid character in hour (got "ten o\'clock")',
    ),
    ("bad-phones", "phones", "expected a list, got text"),
]


def test_bad_records_refuse_the_whole_import_with_an_exact_report() -> None:
    """By default one bad record refuses the import; the report names id, field and reason."""
    with pytest.raises(ImportFailed) as info:
        import_file(FIXTURES / "hsds3_bad.json")
    report = info.value.report
    assert [(r.record_id, r.field, r.reason) for r in report.rejected] == BAD_REPORT
    assert (report.read, report.accepted) == (10, 0)
    assert "7 of 10 records are invalid" in str(info.value)


def test_skip_invalid_keeps_the_good_records_and_reports_the_rest() -> None:
    """With skip_invalid the valid record is imported and every rejection is still reported."""
    result = import_file(FIXTURES / "hsds3_bad.json", skip_invalid=True)
    # A latitude off the globe or an extent that is not GeoJSON is reported and left out: the
    # service itself is still usable.
    assert result.catalogue.ids() == ["good-1", "bad-lat", "bad-extent"]
    bad_lat = result.catalogue.get("bad-lat").locations[0]
    assert (bad_lat.latitude, bad_lat.longitude) == (None, None)
    assert result.catalogue.get("bad-extent").service_areas[0].geometry is None
    assert [(r.record_id, r.field, r.reason) for r in result.report.rejected] == BAD_REPORT
    assert [r.position for r in result.report.rejected] == [2, 3, 6, 7, 8, 9, 10]
    text = result.report.to_text()
    assert "read 10, accepted 3, rejected 7" in text
    assert "warning: bad-lat: service_at_locations[0].location.latitude: 100 is outside" in text
    assert "warning: bad-extent: service_areas[0].extent: extent_type is geojson" in text
    as_dict = result.report.to_dict()
    assert as_dict["rejected"] == 7 and as_dict["rejections"][0]["record_id"] == "bad-age"
    json.dumps(as_dict)  # serialisable as is


def test_flat_attribute_with_only_a_term_id_is_kept_not_dropped() -> None:
    """An attribute giving only taxonomy_term_id is kept as an unmapped term and reported."""
    record = {
        "id": "s1",
        "name": "Club",
        "status": "active",
        "attributes": [{"id": "a1", "taxonomy_term_id": "t-123", "taxonomy_term": None}],
    }
    result = read_hsds3([record])
    assert result.catalogue.services[0].unmapped_terms == [ExternalTerm(code="t-123")]
    assert dict(result.report.unmapped_terms) == {(None, "t-123", None): 1}
