"""The practitioner's loop: ask for suggestions, rate them, idempotently; the analyst's export."""

from __future__ import annotations

import csv
import io
import json
import threading

from api_helpers import Seed
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from vcsmatch.store import ratings_log
from vcsmatch.store.db import open_store
from vcsmatch.store.tables import RatingRow


def person_body(seed: Seed, i: int = 0, **extra) -> dict:
    """A new person of the synthetic world, as the JSON a case-management system sends."""
    person = seed.world.new_people[i]
    body = person.model_dump(mode="json", exclude_none=True)
    body.update(extra)
    return body


def stored_ratings(seed: Seed) -> int:
    with open_store(seed.settings)() as session:
        return session.scalar(select(func.count()).select_from(RatingRow))


def test_recommendation_lists_ranked_services_with_reasons(
    shared_client: TestClient, shared_seed: Seed
) -> None:
    """Suggestions come ranked with score, reasons, model version, request id and the notice."""
    response = shared_client.post(
        "/v1/recommendations",
        json=person_body(shared_seed, top_k=5),
        headers=shared_seed.auth("practitioner"),
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["model_version"] == shared_seed.model_version
    assert len(body["request_id"]) == 32
    assert "not a decision" in body["decision_support"]
    suggestions = body["suggestions"]
    assert 1 <= len(suggestions) <= 5
    assert [s["rank"] for s in suggestions] == list(range(1, len(suggestions) + 1))
    scores = [s["score"] for s in suggestions]
    assert scores == sorted(scores, reverse=True)
    ids = set(shared_seed.world.catalogue.ids())
    assert all(s["service_id"] in ids and s["service_name"] for s in suggestions)
    assert all(s["reasons"] for s in suggestions)


def test_recommendation_from_a_postcode_equals_one_from_its_coordinates(
    shared_client: TestClient, shared_seed: Seed
) -> None:
    """A postcode is resolved server-side; the same place given as coordinates ranks alike."""
    from vcsmatch.features.location import get_postcode_directory

    person = shared_seed.world.new_people[1]
    postcode = person.postcode or "IP1 1AA"
    lat, lon = get_postcode_directory(shared_seed.settings).lookup(postcode)
    base = person.model_dump(mode="json", exclude={"postcode", "latitude", "longitude"})
    headers = shared_seed.auth("practitioner")
    by_postcode = shared_client.post(
        "/v1/recommendations", json={**base, "postcode": postcode}, headers=headers
    ).json()
    by_coords = shared_client.post(
        "/v1/recommendations", json={**base, "latitude": lat, "longitude": lon}, headers=headers
    ).json()
    assert [s["service_id"] for s in by_postcode["suggestions"]] == [
        s["service_id"] for s in by_coords["suggestions"]
    ]


def test_top_k_above_the_server_limit_is_422(shared_client: TestClient, shared_seed: Seed) -> None:
    """top_k is bounded by Settings.max_top_k, and the problem names the field."""
    limit = shared_seed.settings.max_top_k
    response = shared_client.post(
        "/v1/recommendations",
        json={"top_k": limit + 1},
        headers=shared_seed.auth("practitioner"),
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "top_k"


def test_rating_a_recommendation_by_request_id(fresh_client: TestClient, fresh_seed: Seed) -> None:
    """A rating citing the request id is stored with the person's features from the request."""
    headers = fresh_seed.auth("practitioner")
    rec = fresh_client.post(
        "/v1/recommendations", json=person_body(fresh_seed, top_k=3), headers=headers
    ).json()
    first = rec["suggestions"][0]["service_id"]
    before = stored_ratings(fresh_seed)
    response = fresh_client.post(
        "/v1/ratings",
        json={
            "request_id": rec["request_id"],
            "service_id": first,
            "rating": 5,
            "comment_codes": ["referred"],
        },
        headers=headers,
    )
    assert response.status_code == 201, response.text
    assert response.json()["created"] == 1
    assert stored_ratings(fresh_seed) == before + 1
    with open_store(fresh_seed.settings)() as session:
        row = ratings_log.list_ratings(session)[-1]
    assert row.request_id == rec["request_id"] and row.rating == 5
    assert row.comment_codes == ("referred",)


def test_same_idempotency_key_stores_once(fresh_client: TestClient, fresh_seed: Seed) -> None:
    """Sending one rating five times with one key (body or header) stores it once."""
    headers = fresh_seed.auth("practitioner")
    service = fresh_seed.world.catalogue.ids()[0]
    rating = {"person": person_body(fresh_seed), "service_id": service, "rating": 4}
    before = stored_ratings(fresh_seed)
    answers = [
        fresh_client.post(
            "/v1/ratings", json={**rating, "idempotency_key": "retry-1"}, headers=headers
        )
        for _ in range(3)
    ]
    answers += [
        fresh_client.post(
            "/v1/ratings", json=rating, headers={**headers, "Idempotency-Key": "retry-1"}
        )
        for _ in range(2)
    ]
    assert [a.status_code for a in answers] == [201] * 5
    assert [a.json()["data"][0]["created"] for a in answers] == [True] + [False] * 4
    assert len({a.json()["data"][0]["id"] for a in answers}) == 1
    assert stored_ratings(fresh_seed) == before + 1


def test_concurrent_retries_with_one_key_store_once(
    fresh_client: TestClient, fresh_seed: Seed
) -> None:
    """Eight clients racing with the same key: all get 201, one row is stored."""
    headers = {**fresh_seed.auth("practitioner"), "Idempotency-Key": "race-1"}
    rating = {
        "person": person_body(fresh_seed),
        "service_id": fresh_seed.world.catalogue.ids()[1],
        "rating": 3,
    }
    before = stored_ratings(fresh_seed)
    statuses: list[int] = []

    def send() -> None:
        statuses.append(fresh_client.post("/v1/ratings", json=rating, headers=headers).status_code)

    threads = [threading.Thread(target=send) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert statuses == [201] * 8
    assert stored_ratings(fresh_seed) == before + 1


def test_reusing_a_key_for_a_different_rating_is_409(
    fresh_client: TestClient, fresh_seed: Seed
) -> None:
    """A key reused with different content is a conflict and stores nothing more."""
    headers = fresh_seed.auth("practitioner")
    rating = {
        "person": person_body(fresh_seed),
        "service_id": fresh_seed.world.catalogue.ids()[0],
        "rating": 2,
        "idempotency_key": "k-409",
    }
    assert fresh_client.post("/v1/ratings", json=rating, headers=headers).status_code == 201
    before = stored_ratings(fresh_seed)
    conflict = fresh_client.post("/v1/ratings", json={**rating, "rating": 5}, headers=headers)
    assert conflict.status_code == 409
    assert conflict.json()["type"] == "/problems/idempotency-conflict"
    assert stored_ratings(fresh_seed) == before


def test_a_batch_is_stored_all_or_nothing(fresh_client: TestClient, fresh_seed: Seed) -> None:
    """A batch with one bad service id stores none; the corrected batch stores all."""
    headers = fresh_seed.auth("practitioner")
    ids = fresh_seed.world.catalogue.ids()
    person = person_body(fresh_seed, 2)
    batch = [
        {"person": person, "service_id": s, "rating": 1 + i % 5} for i, s in enumerate(ids[:4])
    ]
    before = stored_ratings(fresh_seed)
    bad = fresh_client.post(
        "/v1/ratings",
        json={"ratings": [*batch, {"person": person, "service_id": "nope", "rating": 3}]},
        headers=headers,
    )
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["field"] == "ratings.4.service_id"
    assert stored_ratings(fresh_seed) == before
    good = fresh_client.post(
        "/v1/ratings", json={"ratings": batch}, headers={**headers, "Idempotency-Key": "b1"}
    )
    assert good.status_code == 201
    assert good.json()["count"] == 4 and good.json()["created"] == 4
    assert [d["idempotency_key"] for d in good.json()["data"]] == [f"b1:{i}" for i in range(4)]
    again = fresh_client.post(
        "/v1/ratings", json={"ratings": batch}, headers={**headers, "Idempotency-Key": "b1"}
    )
    assert again.json()["created"] == 0
    assert stored_ratings(fresh_seed) == before + 4


def test_rating_errors_name_the_field(shared_client: TestClient, shared_seed: Seed) -> None:
    """Missing person, bad rating and bad comment code are each a 422 (an unknown request id
    is a 404: tests/api/test_api_hardening.py)."""
    headers = shared_seed.auth("practitioner")
    service = shared_seed.world.catalogue.ids()[0]
    cases = {
        "body": {"service_id": service, "rating": 3},
        "body.rating": {"request_id": "x", "service_id": service, "rating": 6},
        "body.comment_codes.0": {
            "request_id": "x",
            "service_id": service,
            "rating": 3,
            "comment_codes": ["brilliant"],
        },
    }
    for field, body in cases.items():
        response = shared_client.post("/v1/ratings", json=body, headers=headers)
        assert response.status_code == 422, (field, response.text)
        assert field in [e["field"] for e in response.json()["errors"]], (field, response.text)


def test_ratings_keep_only_a_keyed_hash_of_the_reference(
    fresh_client: TestClient, fresh_seed: Seed
) -> None:
    """The person reference never reaches the database; its keyed hash does."""
    reference = "CASE-REF-7781-SENTINEL"
    body = {
        "person": person_body(fresh_seed, reference=reference),
        "service_id": fresh_seed.world.catalogue.ids()[0],
        "rating": 4,
    }
    response = fresh_client.post("/v1/ratings", json=body, headers=fresh_seed.auth("practitioner"))
    assert response.status_code == 201
    with open_store(fresh_seed.settings)() as session:
        rows = session.execute(select(RatingRow)).scalars().all()
        dump = json.dumps(
            [{c.name: str(getattr(r, c.name)) for c in RatingRow.__table__.columns} for r in rows]
        )
    assert reference not in dump
    from vcsmatch.store.secrets import person_key

    assert person_key(b"test-secret", reference) in dump


def test_analyst_exports_the_training_frame(fresh_client: TestClient, fresh_seed: Seed) -> None:
    """JSON and CSV exports hold every stored rating, with hashed person ids only."""
    headers = fresh_seed.auth("practitioner")
    reference = "REF-EXPORT-1"
    ids = fresh_seed.world.catalogue.ids()
    body = {
        "ratings": [
            {"person": person_body(fresh_seed, reference=reference), "service_id": s, "rating": 4}
            for s in ids[:3]
        ]
    }
    assert fresh_client.post("/v1/ratings", json=body, headers=headers).status_code == 201
    analyst = fresh_seed.auth("analyst")
    exported = fresh_client.get("/v1/ratings/export", headers=analyst)
    assert exported.status_code == 200
    data = exported.json()
    assert data["count"] == stored_ratings(fresh_seed) == 3
    assert {r["service_id"] for r in data["data"]} == set(ids[:3])
    assert reference not in exported.text
    assert len({r["person_id"] for r in data["data"]}) == 1
    as_csv = fresh_client.get("/v1/ratings/export", params={"format": "csv"}, headers=analyst)
    assert as_csv.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(as_csv.text)))
    assert len(rows) == 3 and set(rows[0]) >= {"person_id", "service_id", "rating", "needs"}
    assert reference not in as_csv.text
