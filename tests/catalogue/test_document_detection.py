"""What an Open Referral document is, told from the official examples: ORUK 3.0 or HSDS 3.0,
services nested in organisations or services at locations, and objects that are no service."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from openreferral_schemas import EXAMPLES, require_openreferral

from vcsmatch.catalogue.hsds3 import write_hsds3
from vcsmatch.catalogue.importing import import_file
from vcsmatch.catalogue.model import Catalogue, Service
from vcsmatch.catalogue.oruk3_feed import ORUK_VERSION, PROFILE_URL
from vcsmatch.errors import ImportFailed

SERVICE_ID = "ac148810-d857-441c-9679-408f346de14b"


@pytest.mark.parametrize(
    ("example", "expected"),
    [("oruk-3.0-service_full.json", "oruk3"), ("oruk-3.0-service_list.json", "oruk3"),
     ("oruk-3.0-service_at_location_full.json", "oruk3"),
     ("oruk-3.0-organization_full.json", "oruk3"),
     ("service_full.json", "hsds3"), ("service_list.json", "hsds3"),
     ("organization_full.json", "hsds3"), ("service_at_location_full.json", "hsds3")],
)  # fmt: skip
def test_the_uk_profile_is_told_from_hsds_by_shape(example: str, expected: str) -> None:
    """Each official example is named as the standard it follows, and its service imported."""
    require_openreferral()
    result = import_file(EXAMPLES / example)
    assert result.report.format == expected
    assert [s.id for s in result.catalogue.services] == [SERVICE_ID]


def _write(path: Path, data: object) -> Path:
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def test_the_feeds_version_document_names_the_format(tmp_path: Path) -> None:
    """A dump holding the feed's '/' answer beside its pages is read as what '/' declares."""
    services = write_hsds3(Catalogue(services=[Service(id="x", name="Club")]))
    openapi = "https://example.org/OpenReferralUK/uk-profile/openapi.json"
    root = {"version": ORUK_VERSION, "profile": PROFILE_URL, "openapi_url": openapi}
    _write(tmp_path / "0-root.json", root)
    _write(tmp_path / "1-services.json", {"contents": services, "total_pages": 1})
    result = import_file(tmp_path)
    assert result.report.format == "oruk3"
    assert [s.id for s in result.catalogue.services] == ["x"]
    # The official base.json declares plain HSDS 3.0.
    require_openreferral()
    base = json.loads((EXAMPLES / "base.json").read_text(encoding="utf-8"))
    _write(tmp_path / "0-root.json", base)
    assert import_file(tmp_path).report.format == "hsds3"


def test_the_version_document_alone_is_refused_by_name() -> None:
    """'/' holds no services: the import says so instead of guessing."""
    require_openreferral()
    with pytest.raises(ImportFailed, match="version document"):
        import_file(EXAMPLES / "base.json")


@pytest.mark.parametrize(
    ("example", "kind"),
    [("location.json", "location"), ("taxonomy.json", "taxonomy"),
     ("taxonomy_list.json", "taxonomy"), ("taxonomy_term.json", "taxonomy term"),
     ("taxonomy_term_list.json", "taxonomy term"), ("organization_list.json", "organisation")],
)  # fmt: skip
def test_documents_that_are_no_services_are_refused_by_what_they_are(
    example: str, kind: str
) -> None:
    """A location or taxonomy file is no longer imported as a service."""
    require_openreferral()
    with pytest.raises(ImportFailed, match=f"holds HSDS {kind} records, not services") as exc:
        import_file(EXAMPLES / example)
    assert exc.value.report.accepted == 0


def test_a_location_among_services_is_rejected_by_name() -> None:
    """In a mixed file the location is one rejected record, named; the services import."""
    require_openreferral()
    location = json.loads((EXAMPLES / "location.json").read_text(encoding="utf-8"))
    services = write_hsds3(
        Catalogue(services=[Service(id=f"s{i}", name="Club") for i in range(30)])
    )
    result = import_file([*services, location], "hsds3", max_invalid=0.05)
    (rejected,) = result.report.rejected
    assert (rejected.record_id, rejected.reason) == (
        location["id"],
        "an HSDS location, not a service",
    )
    assert len(result.catalogue) == 30


def test_services_at_locations_of_one_service_are_gathered_into_it() -> None:
    """Two service_at_location records of one service give one service with both places."""
    require_openreferral()
    sal = json.loads((EXAMPLES / "service_at_location_full.json").read_text(encoding="utf-8"))
    second = json.loads(json.dumps(sal))
    second["id"] = "5c1f8a4e-8f3a-4a0e-9f0e-2b9d7c6e5a41"
    second["location"].update(
        id="0f7e4b8e-3c1d-4b2a-9e8f-7a6b5c4d3e21", name="Second site", latitude=52.05,
        longitude=1.15,
    )  # fmt: skip
    result = import_file({"contents": [sal, second]})
    (service,) = result.catalogue.services
    assert service.id == SERVICE_ID
    assert [loc.name for loc in service.locations] == ["MyCity Civic Center", "Second site"]
