"""HSDS 3.0 in and out without loss: modelled fields as the source gave them, the rest verbatim."""

from __future__ import annotations

import copy
import datetime as dt
import json
import re
import uuid
from collections import Counter

from openreferral_schemas import EXAMPLES, errors, require_openreferral

from vcsmatch.catalogue.hsds3 import countryless_addresses, write_hsds3
from vcsmatch.catalogue.importing import import_file
from vcsmatch.catalogue.model import Catalogue, Location, Service
from vcsmatch.catalogue.verbatim import (
    UUID_FIELDS,
    as_public_uuid,
    lay_under,
    leaf_paths,
    unmodelled,
)


def _fields(obj: object) -> set[str]:
    """Leaf paths with list positions as ``[]`` (the export may order a list differently)."""
    return {re.sub(r"\[\d+\]", "[]", p) for p in leaf_paths(obj)}


def _service_full() -> dict:
    require_openreferral()
    return json.loads((EXAMPLES / "service_full.json").read_text(encoding="utf-8"))


def test_a_round_trip_of_service_full_loses_only_the_fields_it_reports() -> None:
    """Every leaf field of the official example comes back but the refused ones, which are
    named in the report."""
    raw = _service_full()
    result = import_file(raw)
    (out,) = write_hsds3(result.catalogue)
    lost = _fields(raw) - _fields(out)
    assert lost == {
        "service_at_locations[].location.latitude",
        "service_at_locations[].location.longitude",
        "service_areas[].extent",
    }
    assert set(result.report.lost_fields) == lost
    assert "fields not kept (3)" in result.report.to_text()
    assert errors(out, "service") == []


def _leaves(obj: object, where: str = "") -> list[tuple[str, object]]:
    """Every leaf as (path with list positions as ``[]``, value)."""
    if isinstance(obj, dict):
        return [x for k, v in obj.items() for x in _leaves(v, f"{where}.{k}" if where else k)]
    if isinstance(obj, list):
        return [x for v in obj for x in _leaves(v, f"{where}[]")]
    return [] if obj is None else [(where, obj)]


def _ids(obj: object) -> Counter[tuple[str, object]]:
    return Counter((p, v) for p, v in _leaves(obj) if p.rsplit(".", 1)[-1] in UUID_FIELDS)


def test_a_round_trip_of_service_full_keeps_every_id_and_value() -> None:
    """Every id and reference of the official example comes back as the source gave it, at
    the same path; other values too, but for the few the exporter writes in its own terms."""
    raw = _service_full()
    (out,) = write_hsds3(import_file(raw).catalogue)
    assert _ids(raw) - _ids(out) == Counter()
    changed = {p for p, _ in set(_leaves(raw)) - set(_leaves(out))}
    assert changed == {
        "attributes[].link_type",  # "service": what the attribute is linked to
        "attributes[].link_entity",
        "description",  # trailing space trimmed
        "last_modified",  # the same instant, written +00:00
        # refused by the reader and reported (see the test above):
        "service_at_locations[].location.latitude",
        "service_at_locations[].location.longitude",
        "service_areas[].extent",
    }


def test_nested_ids_that_are_no_uuid_become_the_same_uuid5_every_time() -> None:
    """A feed's own nested ids (``sch-1``) are published as UUID5 of themselves, the same on
    every import, and references to them (a phone's ``contact_id``) agree."""
    raw = {
        "id": "svc-1", "name": "Club", "status": "active",
        "schedules": [{"id": "sch-1", "freq": "WEEKLY", "byday": "MO"}],
        "contacts": [{"id": "con-1", "name": "Ann",
                      "phones": [{"id": "ph-1", "contact_id": "con-1", "number": "01234 567890"}]}],
        "languages": [{"id": "lang-1", "name": "English"}],
    }  # fmt: skip
    first, second = (write_hsds3(import_file([copy.deepcopy(raw)], "hsds3").catalogue)[0]
                     for _ in range(2))  # fmt: skip
    assert first == second
    assert first["schedules"][0]["id"] == as_public_uuid("sch-1")
    assert first["languages"][0]["id"] == as_public_uuid("lang-1")
    (contact,) = first["contacts"]
    assert contact["id"] == contact["phones"][0]["contact_id"] == as_public_uuid("con-1")
    assert contact["phones"][0]["id"] == as_public_uuid("ph-1")
    assert errors(first, "service") == []


def test_import_export_import_gives_the_same_catalogue_and_the_same_export() -> None:
    """The verbatim fields survive a second trip unchanged, and so does everything modelled."""
    first = import_file(_service_full())
    exported = write_hsds3(first.catalogue)
    again = import_file(copy.deepcopy(exported))
    assert again.catalogue.services == first.catalogue.services
    assert again.report.lost_fields == {}
    assert write_hsds3(again.catalogue) == exported


def test_the_fields_matching_needs_are_modelled_as_the_source_gave_them() -> None:
    """Address parts and a US country, RRULE parts, prices, identifiers and dates are read."""
    (service,) = import_file(_service_full()).catalogue.services
    (location,) = service.locations
    (address,) = location.addresses
    assert (address.address_1, address.city, address.state_province) == (
        "1-30 Main Street", "MyCity", "MyState"
    )  # fmt: skip
    assert (address.country, address.address_type, address.attention) == (
        "US", "postal", "A. Persona"
    )  # fmt: skip
    assert (location.external_identifier, location.external_identifier_type) == (
        "10092008082", "UPRN"
    )  # fmt: skip
    (schedule,) = service.schedules
    assert schedule.dtstart == schedule.until == dt.date(2005, 1, 1)
    assert (schedule.count, schedule.interval, schedule.bymonthday) == (3, 1, [2, 3, 4])
    assert schedule.weekdays == ["TH", "FR"]
    (option,) = service.cost.options
    assert (option.amount, option.currency, option.option) == (35, "gbp", "Under 18s and Over 60s")
    assert service.organisation_description.startswith("Example Org is a non-profit")
    assert service.last_modified == dt.datetime(2023, 3, 15, 10, 30, 45, 123000, dt.UTC)
    assert service.last_reviewed == dt.date(2005, 1, 1)
    assert service.hsds_extra["alternate_name"] == "MyCity Counselling Services"
    (out,) = write_hsds3(Catalogue(services=[service]))
    written = out["service_at_locations"][0]["location"]["addresses"][0]
    assert (written["country"], written["address_type"]) == ("US", "postal")
    assert out["cost_options"][0]["amount"] == 35 and out["cost_options"][0]["currency"] == "gbp"
    assert out["schedules"][0]["bymonthday"] == "2,3,4"
    assert out["schedules"][0]["wkst"] == "TU"  # verbatim
    assert out["organization"]["legal_status"] == "Limited Company"  # verbatim
    term = next(
        a["taxonomy_term"] for a in out["attributes"] if a["taxonomy_term"]["code"] == "code"
    )
    assert (term["description"], term["term_uri"]) == ("description", "http://example.com")


def test_a_country_is_never_assumed() -> None:
    """An address known only by its summary is GB for a UK postcode, and no country else."""
    services = [
        Service(id=sid, name="A", delivery_modes=["in_person"],
                locations=[Location(address="1 High St", postcode=postcode)])
        for sid, postcode in (("uk", "IP4 1AE"), ("us", "90210"))
    ]  # fmt: skip
    uk, us = write_hsds3(Catalogue(services=services))
    assert uk["service_at_locations"][0]["location"]["addresses"][0]["country"] == "GB"
    assert us["service_at_locations"][0]["location"]["addresses"][0]["country"] == ""
    back = import_file([uk, us], "hsds3").catalogue.services
    assert back == services  # the summary alone comes back as it was


def test_verbatim_values_hsds_would_refuse_are_repaired_or_reported() -> None:
    """A non-UUID id becomes a UUID (references still agree); a URL that is none is reported."""
    raw = {
        "id": "svc-1",
        "name": "Club",
        "status": "active",
        "program": {"id": "prog-1", "name": "P", "description": "A programme"},
        "program_id": "prog-1",
        "required_documents": [{"id": "d-1", "document": "ID", "uri": "see reception"}],
    }
    result = import_file([raw], "hsds3")
    (out,) = write_hsds3(result.catalogue)
    assert out["program"]["id"] == out["program_id"] != "prog-1"
    assert "uri" not in out["required_documents"][0]
    assert result.report.lost_fields == {"required_documents[].uri": 1}
    assert errors(out, "service") == []


def test_unmodelled_and_lay_under_pair_attributes_by_term_not_position() -> None:
    """A source attribute's extra fields go back on the same term even if the order differs."""
    term = {"taxonomy": "t", "code": "a", "name": "A"}
    raw = {"attributes": [{"note": "on b", "taxonomy_term": {**term, "code": "b"}},
                          {"note": "on a", "taxonomy_term": term}]}  # fmt: skip
    gen = {"attributes": [{"taxonomy_term": term}, {"taxonomy_term": {**term, "code": "b"}}]}
    extra = unmodelled(raw, gen)
    laid = lay_under(copy.deepcopy(gen), extra)
    assert [a["note"] for a in laid["attributes"]] == ["on a", "on b"]


def _two_of_each() -> dict:
    """A service with two schedules and two contacts, each with fields of its own that the
    model does not hold (``notes``, ``department``)."""
    sch = [str(uuid.uuid4()) for _ in range(2)]
    con = [str(uuid.uuid4()) for _ in range(2)]
    return {
        "id": str(uuid.uuid4()), "name": "Club", "status": "active",
        "schedules": [{"id": sch[0], "freq": "WEEKLY", "byday": "MO", "notes": "Mondays"},
                      {"id": sch[1], "freq": "WEEKLY", "byday": "TU", "notes": "Tuesdays"}],
        "contacts": [{"id": con[0], "name": "Ann", "department": "Front desk"},
                     {"id": con[1], "name": "Bob", "department": "Outreach"}],
    }  # fmt: skip


def test_verbatim_fields_stay_on_their_object_when_the_order_changes() -> None:
    """Two schedules and two contacts swapped in order (an edit, a feed that reorders) keep
    each its own id and its own verbatim fields."""
    raw = _two_of_each()
    (service,) = import_file([copy.deepcopy(raw)], "hsds3").catalogue.services
    swapped = service.model_copy(
        update={"schedules": service.schedules[::-1], "contacts": service.contacts[::-1]}
    )
    (out,) = write_hsds3(Catalogue(services=[swapped]))
    assert [(s["id"], s["byday"], s["notes"]) for s in out["schedules"]] == [
        (s["id"], s["byday"], s["notes"]) for s in raw["schedules"][::-1]
    ]
    assert [(c["id"], c["name"], c["department"]) for c in out["contacts"]] == [
        (c["id"], c["name"], c["department"]) for c in raw["contacts"][::-1]
    ]
    assert errors(out, "service") == []


def test_a_reordered_feed_pairs_its_extras_by_id_not_position() -> None:
    """The same feed listing its schedules in the other order imports to the same objects
    with the same fields; pairing does not lean on position."""
    raw = _two_of_each()
    flipped = copy.deepcopy(raw)
    flipped["schedules"].reverse()
    flipped["contacts"].reverse()
    gen = write_hsds3(import_file([copy.deepcopy(raw)], "hsds3").catalogue)[0]
    extra = unmodelled(flipped, gen)
    laid = lay_under(copy.deepcopy(gen), extra)
    assert {s["id"]: s["notes"] for s in laid["schedules"]} == {
        s["id"]: s["notes"] for s in raw["schedules"]
    }
    assert {c["id"]: c["department"] for c in laid["contacts"]} == {
        c["id"]: c["department"] for c in raw["contacts"]
    }


def test_duplicate_schedules_keep_their_own_fields() -> None:
    """Two schedules alike in every modelled value but their ids each keep their notes, and
    one repeated under a location is not counted twice."""
    raw = _two_of_each()
    raw["schedules"][1] = {**raw["schedules"][0], "id": str(uuid.uuid4()), "notes": "Also"}
    raw["service_at_locations"] = [{
        "id": str(uuid.uuid4()),
        "location": {"id": str(uuid.uuid4()), "location_type": "physical", "name": "Hall"},
        "schedules": [dict(raw["schedules"][1])],
    }]  # fmt: skip
    (service,) = import_file([copy.deepcopy(raw)], "hsds3").catalogue.services
    assert len(service.schedules) == 2
    (out,) = write_hsds3(Catalogue(services=[service]))
    assert [(s["id"], s["notes"]) for s in out["schedules"]] == [
        (s["id"], s["notes"]) for s in raw["schedules"]
    ]
    assert (
        out["service_at_locations"][0]["schedules"] == raw["service_at_locations"][0]["schedules"]
    )
    assert errors(out, "service") == []


def test_an_assured_date_on_the_day_of_last_modified_is_kept() -> None:
    """Both dates come back as given, whether or not they fall on the same day, and only a
    given assured date is published as one; staleness still falls back to last_modified."""
    given = {"id": str(uuid.uuid4()), "name": "Club", "status": "active",
             "last_modified": "2026-03-01T10:00:00+00:00"}  # fmt: skip
    both = {**given, "assured_date": "2026-03-01"}
    for raw in (both, {**given, "assured_date": "2025-12-24"}):
        (service,) = import_file([copy.deepcopy(raw)], "hsds3").catalogue.services
        assert service.hsds_extra == {}  # modelled, not kept verbatim
        built = Service(id=service.id, name="Club", last_reviewed=service.last_reviewed,
                        last_modified=service.last_modified)  # fmt: skip
        for s in (service, built):
            (out,) = write_hsds3(Catalogue(services=[s]))
            assert (out["assured_date"], out["last_modified"]) == (
                raw["assured_date"], raw["last_modified"]
            )  # fmt: skip
    (service,) = import_file([given], "hsds3").catalogue.services
    assert service.last_reviewed is None and service.reviewed_on == dt.date(2026, 3, 1)
    (out,) = write_hsds3(Catalogue(services=[service]))
    assert "assured_date" not in out


def test_an_address_whose_country_cannot_be_told_is_a_warning_for_its_record() -> None:
    """HSDS 3.0 requires ``country``: with none given and no UK postcode the import warns,
    naming the record and the exported field, and the export leaves it empty, not guessed."""

    def located(sid: str, address: dict) -> dict:
        loc = {"id": str(uuid.uuid4()), "location_type": "physical", "addresses": [address]}
        return {"id": sid, "name": "Club", "status": "active",
                "service_at_locations": [{"id": str(uuid.uuid4()), "location": loc}]}  # fmt: skip

    parts = {"id": str(uuid.uuid4()), "address_1": "1 Main St", "city": "Town",
             "state_province": "", "address_type": "physical"}  # fmt: skip
    records = [
        located("unknown", {**parts, "postal_code": "90210", "country": ""}),
        located("uk", {**parts, "postal_code": "IP4 1AE", "country": ""}),
        located("us", {**parts, "postal_code": "90210", "country": "US"}),
    ]
    result = import_file(records, "hsds3")
    field = "service_at_locations[0].location.addresses[0].country"
    reason = ("HSDS 3.0 requires a country (ISO 3166-1) and none was given, nor a UK postcode "
              "to tell it by: exported empty")  # fmt: skip
    # An address given in parts is kept as given, a UK postcode in it notwithstanding.
    assert [w for w in result.report.warnings if "country" in w] == [
        f"unknown: {field}: {reason}", f"uk: {field}: {reason}"
    ]  # fmt: skip
    unknown, _, us = write_hsds3(result.catalogue)
    assert unknown["service_at_locations"][0]["location"]["addresses"][0]["country"] == ""
    assert us["service_at_locations"][0]["location"]["addresses"][0]["country"] == "US"
    summaries = [Service(id=p, name="A", locations=[Location(address="1 High St", postcode=p)])
                 for p in ("IP4 1AE", "90210")]  # fmt: skip
    assert [countryless_addresses(s) for s in summaries] == [[], [field]]
