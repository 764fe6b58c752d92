"""Who may call what: every operation in the OpenAPI document, without a key and with each role.

The operations are read from the app's own OpenAPI document, so an endpoint added later is
checked here without anyone remembering to add it.
"""

from __future__ import annotations

import pytest
from api_helpers import ROLES, Seed
from fastapi.testclient import TestClient

PUBLIC = {("get", "/health"), ("get", "/ready")}
#: The Open Referral UK feed is the public directory (no key; tests/api/test_openreferral_feed.py).
PUBLIC_PREFIX = "/openreferral/"


def is_public(method: str, path: str) -> bool:
    return (method, path) in PUBLIC or (method == "get" and path.startswith(PUBLIC_PREFIX))


def operations(client: TestClient) -> list[tuple[str, str, dict]]:
    doc = client.get("/openapi.json").json()
    return [
        (method, path, op)
        for path, item in doc["paths"].items()
        for method, op in item.items()
        if method in {"get", "post", "put", "patch", "delete"}
    ]


def call(client: TestClient, method: str, path: str, headers: dict[str, str] | None = None):
    """A request that reaches the role check: placeholders in the path, an empty JSON body.

    Path placeholders name nothing that exists, so an admitted call changes nothing shared.
    """
    url = path.replace("{service_id}", "no-such-service").replace("{key_id}", "999999")
    kwargs = {"json": {}} if method in {"post", "put", "patch"} else {}
    return client.request(method.upper(), url, headers=headers or {}, **kwargs)


def test_every_operation_declares_roles_and_auth_errors(shared_client: TestClient) -> None:
    """Each operation but health/readiness lists its roles and declares 401, 403 and 429."""
    ops = operations(shared_client)
    assert len(ops) >= 13
    for method, path, op in ops:
        if is_public(method, path):
            assert "x-roles" not in op
            continue
        assert set(op["x-roles"]) <= set(ROLES), (method, path)
        assert {"401", "403", "429", "503"} <= set(op["responses"]), (method, path)
        assert op["security"] == [{"HTTPBearer": []}], (method, path)
        assert op["operationId"], (method, path)


def test_every_operation_answers_401_without_a_key(shared_client: TestClient) -> None:
    """No key, a malformed header or an unknown key: 401 problem with WWW-Authenticate."""
    for method, path, _ in operations(shared_client):
        if is_public(method, path):
            continue
        for headers in ({}, {"Authorization": "Basic abc"}, {"Authorization": "Bearer vcs_nope"}):
            response = call(shared_client, method, path, headers)
            assert response.status_code == 401, (method, path, headers)
            assert response.headers["www-authenticate"] == "Bearer"
            assert response.headers["content-type"] == "application/problem+json"
            assert response.json()["status"] == 401


def test_every_operation_answers_403_to_each_wrong_role(
    shared_client: TestClient, shared_seed: Seed
) -> None:
    """A live key of a role the operation does not list is refused with 403; listed roles pass."""
    checked = 0
    for method, path, op in operations(shared_client):
        if is_public(method, path):
            continue
        for role in ROLES:
            response = call(shared_client, method, path, shared_seed.auth(role))
            if role in op["x-roles"]:
                assert response.status_code not in (401, 403), (method, path, role)
            else:
                assert response.status_code == 403, (method, path, role, response.text)
                assert response.json()["title"] == "Forbidden"
                checked += 1
            assert response.status_code < 500, (method, path, role, response.text)
    assert checked >= 20


def test_health_and_ready_need_no_key(shared_client: TestClient) -> None:
    """Liveness and readiness answer without a key; readiness names the loaded versions."""
    assert shared_client.get("/health").json() == {"status": "ok"}
    ready = shared_client.get("/ready")
    assert ready.status_code == 200
    assert ready.json()["model_version"] and ready.json()["catalogue_version"] >= 1


@pytest.mark.parametrize("role", ["practitioner", "front_door", "analyst", "admin"])
def test_taxonomy_is_open_to_every_role(
    shared_client: TestClient, shared_seed: Seed, role: str
) -> None:
    """Every role can read the need and strength codes with their labels."""
    body = shared_client.get("/v1/taxonomy", headers=shared_seed.auth(role)).json()
    codes = {t["code"] for t in body["needs"]}
    assert "dementia" in codes and all(t["label"] for t in body["needs"])
    assert body["strengths"]


def test_revoked_key_stops_working_at_once(fresh_client: TestClient, fresh_seed: Seed) -> None:
    """An admin revokes a practitioner key; its very next request is 401."""
    admin = fresh_seed.auth("admin")
    practitioner = fresh_seed.auth("practitioner")
    assert fresh_client.get("/v1/services", headers=practitioner).status_code == 200
    keys = fresh_client.get("/v1/keys", headers=admin).json()["data"]
    target = next(k for k in keys if k["role"] == "practitioner")
    revoked = fresh_client.delete(f"/v1/keys/{target['id']}", headers=admin)
    assert revoked.status_code == 200 and revoked.json()["revoked_at"]
    assert fresh_client.get("/v1/services", headers=practitioner).status_code == 401


def test_admin_creates_a_key_shown_once(fresh_client: TestClient, fresh_seed: Seed) -> None:
    """A created key works at once; listings show its prefix, never the key or its hash."""
    admin = fresh_seed.auth("admin")
    body = {"role": "front_door", "name": "desk"}
    created = fresh_client.post("/v1/keys", json=body, headers=admin)
    assert created.status_code == 201
    key = created.json()["key"]
    listing = fresh_client.get("/v1/keys", headers=admin)
    assert key not in listing.text
    assert any(k["prefix"] == key[: len(k["prefix"])] for k in listing.json()["data"])
    search = fresh_client.get("/v1/services", headers={"Authorization": f"Bearer {key}"})
    assert search.status_code == 200


def test_rate_limit_answers_429_with_retry_after(fresh_seed: Seed, start_app) -> None:
    """With 3 requests a minute, the 4th is 429 with Retry-After; another key is unaffected."""
    settings = fresh_seed.settings.model_copy(update={"rate_limit_per_minute": 3})
    client = start_app(settings)
    headers = fresh_seed.auth("front_door")
    statuses = [client.get("/v1/taxonomy", headers=headers).status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    limited = client.get("/v1/taxonomy", headers=headers)
    assert limited.status_code == 429
    assert int(limited.headers["retry-after"]) >= 1
    assert limited.headers["content-type"] == "application/problem+json"
    assert client.get("/v1/taxonomy", headers=fresh_seed.auth("analyst")).status_code == 200


def test_revoked_key_remembered_for_recommendations_is_refused_at_once(
    fresh_client: TestClient, fresh_seed: Seed
) -> None:
    """A practitioner key the worker remembers (so the key gate recalls it from memory and
    the recommendation route checks it in its own thread) is 401 on the very next
    recommendation after its revocation, and that request logs nothing."""
    from sqlalchemy import func, select

    from vcsmatch.store.db import open_store
    from vcsmatch.store.tables import RecommendationRequestRow

    def logged() -> int:
        with open_store(fresh_seed.settings)() as session:
            return session.scalar(select(func.count()).select_from(RecommendationRequestRow))

    admin = fresh_seed.auth("admin")
    practitioner = fresh_seed.auth("practitioner")
    person = fresh_seed.world.new_people[0]
    body = person.model_dump(mode="json", exclude_none=True, exclude={"reference"})
    for _ in range(2):  # the second is answered with the key recalled from memory
        answered = fresh_client.post("/v1/recommendations", json=body, headers=practitioner)
        assert answered.status_code == 200, answered.text
    before = logged()
    keys = fresh_client.get("/v1/keys", headers=admin).json()["data"]
    target = next(k for k in keys if k["role"] == "practitioner")
    assert fresh_client.delete(f"/v1/keys/{target['id']}", headers=admin).status_code == 200
    refused = fresh_client.post("/v1/recommendations", json=body, headers=practitioner)
    assert refused.status_code == 401, refused.text
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert refused.headers["www-authenticate"] == "Bearer"
    assert logged() == before


def test_a_remembered_key_is_still_answered_when_another_key_is_revoked(
    fresh_client: TestClient, fresh_seed: Seed
) -> None:
    """Revoking a second practitioner key moves the key generation that a remembered key's
    recommendation confirms when it logs its answer: the live key is checked again and
    answered, and its request is logged exactly once; the revoked one is refused."""
    from sqlalchemy import func, select

    from vcsmatch.store.db import open_store
    from vcsmatch.store.tables import RecommendationRequestRow

    def logged() -> int:
        with open_store(fresh_seed.settings)() as session:
            return session.scalar(select(func.count()).select_from(RecommendationRequestRow))

    admin = fresh_seed.auth("admin")
    practitioner = fresh_seed.auth("practitioner")
    created = fresh_client.post(
        "/v1/keys", json={"role": "practitioner", "name": "second"}, headers=admin
    )
    assert created.status_code == 201
    second = {"Authorization": f"Bearer {created.json()['key']}"}
    person = fresh_seed.world.new_people[1]
    body = person.model_dump(mode="json", exclude_none=True, exclude={"reference"})
    for headers in (practitioner, practitioner, second, second):  # both remembered
        assert fresh_client.post("/v1/recommendations", json=body, headers=headers).is_success
    before = logged()
    revoked = fresh_client.delete(f"/v1/keys/{created.json()['id']}", headers=admin)
    assert revoked.status_code == 200
    answered = fresh_client.post("/v1/recommendations", json=body, headers=practitioner)
    assert answered.status_code == 200, answered.text
    assert logged() == before + 1
    refused = fresh_client.post("/v1/recommendations", json=body, headers=second)
    assert refused.status_code == 401, refused.text
    assert logged() == before + 1


def test_revoked_remembered_key_sends_no_address_to_the_geocoder(
    fresh_seed: Seed, start_app, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With the online geocoder on, a recommendation could send the person's address to a
    third party before its answer is logged: a key recalled from memory is confirmed first,
    so a revoked one is 401 and the address goes nowhere."""
    import vcsmatch.features.location as location

    asked: list[str] = []

    def geocode(text: str, **kwargs: object) -> tuple[float, float]:
        asked.append(text)
        return 52.63, 1.30  # Norwich, inside the synthetic catalogue's area

    monkeypatch.setattr(location, "geocode_address", geocode)
    client = start_app(fresh_seed.settings.model_copy(update={"geocoder_enabled": True}))
    admin = fresh_seed.auth("admin")
    practitioner = fresh_seed.auth("practitioner")
    body = {"postcode": "Town Hall", "age": 80, "needs": []}
    for _ in range(2):  # the second is answered with the key recalled from memory
        answered = client.post("/v1/recommendations", json=body, headers=practitioner)
        assert answered.status_code == 200, answered.text
    assert len(asked) == 2
    keys = client.get("/v1/keys", headers=admin).json()["data"]
    target = next(k for k in keys if k["role"] == "practitioner")
    assert client.delete(f"/v1/keys/{target['id']}", headers=admin).status_code == 200
    refused = client.post("/v1/recommendations", json=body, headers=practitioner)
    assert refused.status_code == 401, refused.text
    assert len(asked) == 2


def test_revoked_remembered_key_is_401_not_422(fresh_client: TestClient, fresh_seed: Seed) -> None:
    """A revoked key the worker still remembers is told 401 even when its request would
    fail validation before the route checks the key: malformed JSON for a recommendation, an
    unknown query parameter for a search (issue 17, finding 6, for remembered keys)."""
    admin = fresh_seed.auth("admin")
    practitioner = fresh_seed.auth("practitioner")
    person = fresh_seed.world.new_people[0]
    body = person.model_dump(mode="json", exclude_none=True, exclude={"reference"})
    malformed = {**practitioner, "content-type": "application/json"}
    assert fresh_client.post("/v1/recommendations", json=body, headers=practitioner).is_success
    assert fresh_client.get("/v1/services", headers=practitioner).is_success
    # Still live: the same mistakes are 422s.
    bad_json = fresh_client.post("/v1/recommendations", content=b"{", headers=malformed)
    assert bad_json.status_code == 422
    assert fresh_client.get("/v1/services?need=x", headers=practitioner).status_code == 422
    keys = fresh_client.get("/v1/keys", headers=admin).json()["data"]
    target = next(k for k in keys if k["role"] == "practitioner")
    assert fresh_client.delete(f"/v1/keys/{target['id']}", headers=admin).status_code == 200
    bad_json = fresh_client.post("/v1/recommendations", content=b"{", headers=malformed)
    assert bad_json.status_code == 401, bad_json.text
    assert bad_json.headers["www-authenticate"] == "Bearer"
    unknown = fresh_client.get("/v1/services?need=x", headers=practitioner)
    assert unknown.status_code == 401, unknown.text
