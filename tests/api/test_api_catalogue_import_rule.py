"""``POST /v1/catalogue`` follows the CLI's rule for real feeds, through the real app: import
every valid record, name each rejected one, refuse whole only above max-invalid or strict."""

from __future__ import annotations

import inspect

from api_helpers import Seed
from fastapi.testclient import TestClient

from vcsmatch.catalogue.hsds3 import write_hsds3
from vcsmatch.catalogue.importing import DEFAULT_MAX_INVALID
from vcsmatch.catalogue.model import Catalogue
from vcsmatch.cli.catalogue import import_, parse_share


def _feed(seed: Seed, n: int, bad: int) -> list[dict]:
    """``n`` services of the seeded world, the first ``bad`` of them with an empty name."""
    feed = write_hsds3(Catalogue(services=seed.world.catalogue.services[:n]))
    for svc in feed[:bad]:
        svc["name"] = ""
    return feed


def test_one_bad_record_in_forty_is_named_and_the_rest_imported(
    fresh_client: TestClient, fresh_seed: Seed
) -> None:
    """Below 5% invalid, the import is stored and the report names the rejected record."""
    feed = _feed(fresh_seed, 40, 1)
    response = fresh_client.post("/v1/catalogue", json=feed, headers=fresh_seed.auth("admin"))
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["n_services"] == 39
    (rejected,) = body["report"]["rejections"]
    assert (rejected["record_id"], rejected["field"], rejected["reason"]) == (
        fresh_seed.world.catalogue.services[0].id, "name", "missing"
    )  # fmt: skip
    assert fresh_client.get("/ready").json()["catalogue_version"] == body["version_id"]


def test_strict_or_too_many_invalid_refuses_the_whole_import(
    fresh_client: TestClient, fresh_seed: Seed
) -> None:
    """With strict, or above max_invalid, nothing is stored and each record is named."""
    admin = fresh_seed.auth("admin")
    before = fresh_client.get("/ready").json()["catalogue_version"]
    strict = fresh_client.post(
        "/v1/catalogue", json=_feed(fresh_seed, 40, 1), headers=admin, params={"strict": True}
    )
    assert strict.status_code == 422
    problem = strict.json()
    assert problem["type"] == "/problems/import-failed"
    assert [e["field"] for e in problem["errors"]] == [
        f"{fresh_seed.world.catalogue.services[0].id}.name"
    ]
    many = fresh_client.post("/v1/catalogue", json=_feed(fresh_seed, 40, 3), headers=admin)
    assert many.status_code == 422 and len(many.json()["errors"]) == 3  # 7.5% > 5%
    assert fresh_client.get("/ready").json()["catalogue_version"] == before
    allowed = fresh_client.post(
        "/v1/catalogue", json=_feed(fresh_seed, 40, 3), headers=admin, params={"max_invalid": 0.1}
    )
    assert allowed.status_code == 201 and allowed.json()["report"]["rejected"] == 3
    out_of_range = fresh_client.post(
        "/v1/catalogue", json=_feed(fresh_seed, 40, 0), headers=admin, params={"max_invalid": 2}
    )
    assert out_of_range.status_code == 422


def test_the_api_and_the_cli_share_one_default() -> None:
    """The endpoint's default share is the one the CLI's --max-invalid default means."""
    cli_default = inspect.signature(import_).parameters["max_invalid"].default
    assert parse_share(cli_default) == DEFAULT_MAX_INVALID


def test_an_imported_official_example_keeps_its_verbatim_fields_on_the_detail_only(
    fresh_client: TestClient, fresh_seed: Seed
) -> None:
    """Search hits stay lean; GET /v1/services/{id} gives back the HSDS fields kept verbatim."""
    from openreferral_schemas import EXAMPLES, require_openreferral

    require_openreferral()
    admin = fresh_seed.auth("admin")
    body = (EXAMPLES / "service_full.json").read_bytes()
    response = fresh_client.post(
        "/v1/catalogue", content=body, headers={**admin, "Content-Type": "application/json"}
    )
    assert response.status_code == 201, response.text
    assert {f["field"] for f in response.json()["report"]["lost_fields"]} == {
        "service_at_locations[].location.latitude",
        "service_at_locations[].location.longitude",
        "service_areas[].extent",
    }
    headers = fresh_seed.auth("front_door")
    hit = fresh_client.get("/v1/services", params={"q": "counselling"}, headers=headers).json()
    (found,) = hit["contents"]
    assert "hsds_extra" not in found["service"]
    detail = fresh_client.get(f"/v1/services/{found['service']['id']}", headers=headers).json()
    assert detail["alternate_name"] == "MyCity Counselling Services"
    assert detail["organization"]["legal_status"] == "Limited Company"
