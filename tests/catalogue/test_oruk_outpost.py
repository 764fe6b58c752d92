"""Open Referral UK 1.0 and Outpost imports on feeds shaped like the live ones."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from vcsmatch.catalogue.importing import import_file
from vcsmatch.catalogue.model import (
    Address,
    Contact,
    Cost,
    Eligibility,
    ExternalTerm,
    Location,
    Schedule,
)
from vcsmatch.catalogue.oruk import read_oruk
from vcsmatch.catalogue.outpost import read_outpost
from vcsmatch.errors import ImportFailed

FIXTURES = Path(__file__).parent / "fixtures"
ORUK_PAGES = [FIXTURES / "oruk_page1.json", FIXTURES / "oruk_page2.json"]


def test_oruk_paged_dump_is_detected_and_read() -> None:
    """Two ORUK page files import as one catalogue, with the format detected from shape."""
    result = import_file(ORUK_PAGES)
    assert result.report.format == "oruk"
    assert (result.report.read, result.report.accepted, result.report.warnings) == (3, 3, [])
    carers, sheds, phone = result.catalogue.services

    assert carers.needs == ["carer-support"]  # "Carers" through the default crosswalk
    assert carers.unmapped_terms == [
        ExternalTerm(taxonomy="esdServiceTypes", code="esd:1234", label="Coffee mornings")
    ]
    assert carers.eligibility == Eligibility(min_age=18, rules="adult")  # maximum_age 0: no limit
    assert carers.locations == [
        Location(
            id="loc-cc",
            name="Chesham Library",
            address="Elgiva Lane, Chesham, Buckinghamshire",
            postcode="HP5 2JD",
            latitude=51.7052,
            longitude=-0.6119,
            # The address parts and the country are kept as the feed gave them.
            addresses=[
                Address(
                    address_1="Elgiva Lane",
                    city="Chesham",
                    state_province="Buckinghamshire",
                    postal_code="HP5 2JD",
                    country="England",
                )
            ],
        )
    ]
    assert carers.schedules == [
        Schedule(
            weekdays=["FR"],
            opens_at=dt.time(10),
            closes_at=dt.time(12),
            freq="MONTHLY",
            interval=1,
            description="First Friday",
        )
    ]
    assert carers.cost == Cost(free=True, description="Free")
    assert carers.contacts == [Contact(name="Carers team", phone="01494 000222")]
    assert carers.languages == ["English", "Urdu"]
    assert carers.accessibility == ["Wheelchair accessible"]
    assert carers.organisation == "Chiltern Carers Centre" and carers.delivery_modes == [
        "in_person"
    ]
    assert carers.last_reviewed == dt.date(2026, 4, 10)

    assert sheds.eligibility.sex == "male" and sheds.activities == ["diy-woodwork"]
    assert [s.weekdays for s in sheds.schedules] == [["TU"], ["TH"]]  # name and ISO number
    assert sheds.cost.free is False

    assert phone.delivery_modes == ["phone"] and phone.needs == ["social-isolation"]
    assert phone.service_areas[0].geometry["type"] == "Polygon"  # unwrapped from a Feature


def test_oruk_bad_records_report() -> None:
    """Each bad ORUK record is named with the ORUK field path and the reason."""
    with pytest.raises(ImportFailed) as info:
        read_oruk(FIXTURES / "oruk_bad.json")
    assert [(r.record_id, r.field, r.reason) for r in info.value.report.rejected] == [
        ("bad-elig", "eligibilitys[0].minimum_age", "greater than maximum_age (65 > 18)"),
        ("bad-day", "regular_schedules[0].weekday", "not a weekday: 'Funday'"),
        ("bad-lon", "service_at_locations[0].location.longitude", "expected a number, got 'west'"),
    ]
    result = read_oruk(FIXTURES / "oruk_bad.json", skip_invalid=True)
    # An attending_type outside the ORUK enum is a warning: the record is still usable.
    assert result.catalogue.ids() == ["ok-1", "bad-attend"]
    assert "bad-attend: attending_type: unknown attending type 'carrier pigeon'" in (
        result.report.warnings
    )


def test_outpost_page_is_detected_and_read() -> None:
    """An Outpost API page imports with points, merged weekly times and suitabilities."""
    result = import_file(FIXTURES / "outpost_page.json")
    assert result.report.format == "outpost"
    singing, craft = result.catalogue.services
    assert singing.id == "4021" and singing.organisation_id == "310"
    assert singing.needs == ["dementia"] and singing.activities == ["music"]
    assert singing.locations[0].latitude == 51.6277 and singing.locations[0].longitude == -0.7378
    assert singing.locations[0].postcode == "HP11 1QX"
    assert [(s.weekdays, s.opens_at) for s in singing.schedules] == [
        (["WE", "FR"], dt.time(14)),
        (["SA"], dt.time(10)),
    ]
    assert singing.cost.free is True and singing.referral == "No referral needed"
    assert singing.accessibility == ["Accessible toilet facilities"]
    assert singing.phone == "01494 000333"
    assert dict(result.report.unmapped_terms) == {
        ("outpost-taxonomies", "things-to-do", "Things to do"): 1,
        ("outpost-suitabilities", "older-people", "Older people"): 1,
    }
    assert craft.status == "temporarily_closed"
    assert craft.eligibility == Eligibility(min_age=16, max_age=99, sex="female")
    assert craft.cost == Cost(free=False, description="Per session £2.00")
    assert craft.activities == ["arts-crafts"] and craft.delivery_modes == []


def test_outpost_bad_records_report() -> None:
    """Bad Outpost records are named by their integer id, the field and the reason."""
    result = read_outpost(FIXTURES / "outpost_bad.json", skip_invalid=True)
    assert result.catalogue.ids() == ["1"]
    got = [(r.record_id, r.field, r.reason) for r in result.report.rejected]
    assert got[0] == (
        "2",
        "locations[0].geometry.coordinates",
        "expected [longitude, latitude] numbers",
    )
    assert got[1][:2] == ("3", "status") and got[1][2].endswith("got 'open'")
    assert got[2] == ("4", "min_age", "greater than max_age (90 > 10)")


def test_oruk_flat_taxonomy_link_is_kept_not_dropped() -> None:
    """A service_taxonomys row with only taxonomy_id is kept as an unmapped term."""
    record = {
        "id": "x",
        "name": "Club",
        "service_taxonomys": [{"id": "st", "taxonomy_id": "T9", "taxonomy": None}],
    }
    result = read_oruk([record])
    assert result.catalogue.services[0].unmapped_terms == [ExternalTerm(code="T9")]


def test_the_report_names_the_source_fields_a_record_lost() -> None:
    """Fields an ORUK 1.0 or Outpost converter does not read are named, with how many records
    lost them; fields it read are not."""
    oruk = import_file(ORUK_PAGES).report
    assert oruk.lost_fields["deliverable_type"] == 1
    assert oruk.lost_fields["organization.description"] >= 1
    assert not {"name", "description", "eligibilitys[].minimum_age"} & set(oruk.lost_fields)
    assert "service_at_locations[].location.physical_addresses[].country" not in oruk.lost_fields
    assert "fields not kept" in oruk.to_text()
    assert {"field": "deliverable_type", "records": 1} in oruk.to_dict()["lost_fields"]
    outpost = import_file(FIXTURES / "outpost_page.json").report
    assert outpost.lost_fields["created_at"] == 1 and "name" not in outpost.lost_fields
