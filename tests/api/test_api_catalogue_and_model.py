"""Search, service detail, catalogue import and model lifecycle through the API."""

from __future__ import annotations

import threading
import time

from api_helpers import Seed
from fastapi.testclient import TestClient

from vcsmatch.catalogue.hsds3 import write_hsds3
from vcsmatch.catalogue.model import Catalogue, Service
from vcsmatch.store import catalogue_versions, model_registry
from vcsmatch.store.db import open_store


def test_search_pages_with_the_hsds_envelope(shared_client: TestClient, shared_seed: Seed) -> None:
    """Paging returns total_items/total_pages/page_number/size/contents, pages not overlapping."""
    headers = shared_seed.auth("front_door")
    first = shared_client.get("/v1/services", params={"size": 7}, headers=headers)
    assert first.status_code == 200
    body = first.json()
    active = sum(s.is_active for s in shared_seed.world.catalogue)
    assert body["total_items"] == active
    assert body["total_pages"] == -(-active // 7)
    assert body["page_number"] == 1 and body["size"] == 7 and len(body["contents"]) == 7
    second = shared_client.get("/v1/services", params={"size": 7, "page": 2}, headers=headers)
    ids1 = {h["service"]["id"] for h in body["contents"]}
    ids2 = {h["service"]["id"] for h in second.json()["contents"]}
    assert ids1 and ids2 and not ids1 & ids2


def test_search_envelope_size_is_the_results_on_the_page(
    shared_client: TestClient, shared_seed: Seed
) -> None:
    """Regression: ``size`` echoed the size asked for; it counts this page's results, as in
    HSDS, and first_page/last_page/empty are there."""
    headers = shared_seed.auth("front_door")
    active = sum(s.is_active for s in shared_seed.world.catalogue)
    pages = -(-active // 7)
    first = shared_client.get("/v1/services", params={"size": 7}, headers=headers).json()
    assert (first["first_page"], first["last_page"], first["empty"]) == (True, False, False)
    last = shared_client.get(
        "/v1/services", params={"size": 7, "page": pages}, headers=headers
    ).json()
    assert last["size"] == len(last["contents"]) == active - 7 * (pages - 1)
    assert (last["first_page"], last["last_page"], last["empty"]) == (False, True, False)
    beyond = shared_client.get(
        "/v1/services", params={"size": 7, "page": pages + 1}, headers=headers
    ).json()
    assert beyond["size"] == 0 and beyond["empty"] and beyond["contents"] == []


def test_search_filters_are_honoured(shared_client: TestClient, shared_seed: Seed) -> None:
    """Need, mode, free-only and day filters only return services that satisfy them."""
    headers = shared_seed.auth("practitioner")
    catalogue = shared_seed.world.catalogue
    need = next(c for s in catalogue for c in s.needs)
    params = {"needs": need, "delivery_mode": "in_person", "free_only": "true", "size": 100}
    hits = shared_client.get("/v1/services", params=params, headers=headers).json()["contents"]
    assert hits
    for hit in hits:
        service = catalogue.get(hit["service"]["id"])
        assert need in service.all_needs
        assert "in_person" in service.delivery_modes and service.cost.free is True


def test_search_near_a_postcode_sorts_by_distance(
    shared_client: TestClient, shared_seed: Seed
) -> None:
    """With a postcode and radius, hits within the radius come nearest first."""
    person = next(p for p in shared_seed.world.new_people if p.postcode)
    params = {"postcode": person.postcode, "radius_km": 25, "include_remote": "false", "size": 50}
    response = shared_client.get(
        "/v1/services", params=params, headers=shared_seed.auth("front_door")
    )
    assert response.status_code == 200, response.text
    distances = [h["distance_km"] for h in response.json()["contents"]]
    assert distances and all(d is not None and d <= 25 for d in distances)
    assert distances == sorted(distances)


def test_search_tolerates_a_typo(shared_client: TestClient, shared_seed: Seed) -> None:
    """A misspelt word is corrected and still finds services."""
    headers = shared_seed.auth("front_door")
    name_word = next(
        w for s in shared_seed.world.catalogue for w in s.name.lower().split() if len(w) >= 7
    )
    typo = name_word[:3] + name_word[4:]  # drop one letter
    body = shared_client.get("/v1/services", params={"q": typo}, headers=headers).json()
    assert body["total_items"] >= 1


def test_page_size_above_the_limit_is_422(shared_client: TestClient, shared_seed: Seed) -> None:
    """Page size is bounded by max_page_size; the problem names the parameter."""
    response = shared_client.get(
        "/v1/services",
        params={"size": shared_seed.settings.max_page_size + 1},
        headers=shared_seed.auth("front_door"),
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "query.size"


def test_service_detail_is_hsds3(shared_client: TestClient, shared_seed: Seed) -> None:
    """GET /v1/services/{id} is the HSDS 3.0 object the exporter writes for that service."""
    service = shared_seed.world.catalogue.services[3]
    response = shared_client.get(
        f"/v1/services/{service.id}", headers=shared_seed.auth("practitioner")
    )
    assert response.status_code == 200
    assert response.json() == write_hsds3(Catalogue(services=[service]))[0]


def test_service_detail_by_its_public_uuid(shared_client: TestClient, shared_seed: Seed) -> None:
    """The UUID an HSDS export publishes finds the same service as the source's own id."""
    service = shared_seed.world.catalogue.services[5]
    by_source = shared_client.get(
        f"/v1/services/{service.id}", headers=shared_seed.auth("practitioner")
    )
    public = by_source.json()["id"]
    assert public != service.id
    by_uuid = shared_client.get(f"/v1/services/{public}", headers=shared_seed.auth("practitioner"))
    assert by_uuid.status_code == 200
    assert by_uuid.json() == by_source.json()
    other = shared_client.get(
        "/v1/services/00000000-0000-4000-8000-000000000000",
        headers=shared_seed.auth("practitioner"),
    )
    assert other.status_code == 404


def test_catalogue_import_serves_the_new_version(
    fresh_client: TestClient, fresh_seed: Seed
) -> None:
    """An admin imports HSDS 3.0; search and recommendations then use the new version."""
    admin = fresh_seed.auth("admin")
    catalogue = fresh_seed.world.catalogue
    extra = catalogue.services[0].model_copy(
        update={"id": "brand-new-1", "name": "Brand new lunch club"}
    )
    feed = write_hsds3(Catalogue(services=[*catalogue.services[:30], extra]))
    response = fresh_client.post("/v1/catalogue", json=feed, headers=admin)
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["n_services"] == 31 and body["report"]["accepted"] == 31
    ready = fresh_client.get("/ready").json()
    assert ready["catalogue_version"] == body["version_id"]
    detail = fresh_client.get("/v1/services/brand-new-1", headers=fresh_seed.auth("front_door"))
    assert detail.status_code == 200
    rec = fresh_client.post(
        "/v1/recommendations", json={"top_k": 50}, headers=fresh_seed.auth("practitioner")
    ).json()
    new_ids = {s.id for s in [*catalogue.services[:30], extra]}
    assert {s["service_id"] for s in rec["suggestions"]} <= new_ids


def test_failed_import_keeps_the_previous_catalogue(
    fresh_client: TestClient, fresh_seed: Seed
) -> None:
    """An import with an invalid record is refused with the record named; nothing changes."""
    admin = fresh_seed.auth("admin")
    before = fresh_client.get("/ready").json()["catalogue_version"]
    feed = write_hsds3(Catalogue(services=fresh_seed.world.catalogue.services[:5]))
    feed[2]["name"] = ""
    feed[3]["id"] = feed[1]["id"]
    response = fresh_client.post("/v1/catalogue", json=feed, headers=admin)
    assert response.status_code == 422
    problem = response.json()
    assert problem["type"] == "/problems/import-failed" and problem["errors"]
    assert fresh_client.post("/v1/catalogue", json=[], headers=admin).status_code == 422
    assert fresh_client.get("/ready").json()["catalogue_version"] == before
    with open_store(fresh_seed.settings)() as session:
        assert catalogue_versions.active_version_id(session) == before


def test_model_figures_for_analysts(shared_client: TestClient, shared_seed: Seed) -> None:
    """GET /v1/model names the serving version, its training size and catalogue version."""
    body = shared_client.get("/v1/model", headers=shared_seed.auth("analyst")).json()
    assert body["version"] == shared_seed.model_version
    assert body["n_ratings"] == len(shared_seed.world.ratings)
    assert body["catalogue_version"] >= 1 and "metrics" in body


def register_retrained(seed: Seed, tmp_path, **params) -> str:
    """Train a slightly different model on the world and register it, as `vcsmatch train`."""
    from vcsmatch.ranking.recommender import Recommender

    model = Recommender(show_progress=False, **params).set_params(
        parts__collaborative__n_factors=4, parts__collaborative__iterations=2
    )
    model.fit(seed.world.catalogue, seed.world.ratings)
    directory = tmp_path / "retrained"
    model.save(directory)
    with open_store(seed.settings)() as session:
        return model_registry.register_model(session, directory, n_ratings=len(seed.world.ratings))


def test_reload_during_a_stream_of_requests_fails_none(
    fresh_seed: Seed, start_app, tmp_path
) -> None:
    """Recommendations keep succeeding while an admin reloads a newly registered model."""
    client = start_app(fresh_seed.settings.model_copy(update={"model_poll_seconds": 3600}))
    version = register_retrained(fresh_seed, tmp_path)
    headers = fresh_seed.auth("practitioner")
    statuses: list[int] = []
    versions: set[str] = set()
    stop = threading.Event()

    def stream() -> None:
        i = 0
        while not stop.is_set():
            person = fresh_seed.world.new_people[i % len(fresh_seed.world.new_people)]
            body = {**person.model_dump(mode="json", exclude_none=True), "top_k": 5}
            r = client.post("/v1/recommendations", json=body, headers=headers)
            statuses.append(r.status_code)
            if r.status_code == 200:
                versions.add(r.json()["model_version"])
            i += 1

    def wait_for(n: int) -> None:
        deadline = time.monotonic() + 60
        while len(statuses) < n and time.monotonic() < deadline:
            time.sleep(0.01)

    threads = [threading.Thread(target=stream) for _ in range(4)]
    for t in threads:
        t.start()
    wait_for(10)
    reload = client.post("/v1/model/reload", headers=fresh_seed.auth("admin"))
    wait_for(len(statuses) + 10)  # requests answered after the swap too
    stop.set()
    for t in threads:
        t.join()
    assert reload.status_code == 200, reload.text
    assert reload.json() == {
        "previous_version": fresh_seed.model_version,
        "version": version,
        "swapped": True,
    }
    assert len(statuses) >= 20 and set(statuses) == {200}
    assert versions == {fresh_seed.model_version, version}


def test_broken_model_is_refused_and_the_old_one_keeps_serving(
    fresh_seed: Seed, start_app, tmp_path
) -> None:
    """A registered model whose files are damaged is refused (409); the old model serves on."""
    client = start_app(fresh_seed.settings.model_copy(update={"model_poll_seconds": 3600}))
    directory = tmp_path / "broken"
    directory.mkdir()
    (directory / "model.json").write_text('{"format": "not a model"}')
    with open_store(fresh_seed.settings)() as session:
        bad = model_registry.register_model(session, directory)
    response = client.post("/v1/model/reload", headers=fresh_seed.auth("admin"))
    assert response.status_code == 409, response.text
    assert response.json()["type"] == "/problems/model-refused"
    assert client.get("/ready").json()["model_version"] == fresh_seed.model_version
    rec = client.post(
        "/v1/recommendations", json={}, headers=fresh_seed.auth("practitioner")
    ).json()
    assert rec["model_version"] == fresh_seed.model_version != bad


def test_a_new_model_reaches_a_worker_by_polling(fresh_seed: Seed, start_app, tmp_path) -> None:
    """Two app instances share the store; a model registered once reaches both unprompted."""
    first = start_app(fresh_seed.settings)
    second = start_app(fresh_seed.settings)
    version = register_retrained(fresh_seed, tmp_path)
    deadline = time.monotonic() + 30
    seen: list[str] = []
    while time.monotonic() < deadline:
        seen = [c.get("/ready").json()["model_version"] for c in (first, second)]
        if seen == [version, version]:
            break
        time.sleep(0.2)
    assert seen == [version, version]


def test_new_services_rank_after_rebind(fresh_client: TestClient, fresh_seed: Seed) -> None:
    """A service only in the new catalogue version can be suggested (content alone)."""
    catalogue = fresh_seed.world.catalogue
    online = next(s for s in catalogue if "online" in s.delivery_modes and s.is_active)
    newcomer: Service = online.model_copy(update={"id": "newcomer-online"})
    feed = write_hsds3(Catalogue(services=[*catalogue.services, newcomer]))
    admin = fresh_seed.auth("admin")
    assert fresh_client.post("/v1/catalogue", json=feed, headers=admin).status_code == 201
    body = {"needs": newcomer.needs, "top_k": 100}
    rec = fresh_client.post(
        "/v1/recommendations", json=body, headers=fresh_seed.auth("practitioner")
    ).json()
    assert "newcomer-online" in {s["service_id"] for s in rec["suggestions"]}


def test_catalogue_rollback_reaches_the_app_by_polling(
    fresh_client: TestClient, fresh_seed: Seed
) -> None:
    """Activating an older catalogue version in the store (a rollback) is served within a poll."""
    admin = fresh_seed.auth("admin")
    original = fresh_client.get("/ready").json()["catalogue_version"]
    feed = write_hsds3(Catalogue(services=fresh_seed.world.catalogue.services[:10]))
    imported = fresh_client.post("/v1/catalogue", json=feed, headers=admin).json()["version_id"]
    assert fresh_client.get("/ready").json()["catalogue_version"] == imported
    with open_store(fresh_seed.settings)() as session:
        catalogue_versions.activate_version(session, original)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if fresh_client.get("/ready").json()["catalogue_version"] == original:
            break
        time.sleep(0.1)
    assert fresh_client.get("/ready").json()["catalogue_version"] == original
    search = fresh_client.get("/v1/services", headers=fresh_seed.auth("front_door")).json()
    assert search["catalogue_version"] == original
