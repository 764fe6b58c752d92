"""Referrals through the real app: their whole life by the key that made them, refused for any
other key (404, as if they did not exist) and for a service the request did not suggest; their
outcomes reach the learner's training frame."""

from __future__ import annotations

from api_helpers import Seed
from fastapi.testclient import TestClient

from vcsmatch.learner.loop import learn_once
from vcsmatch.store import api_keys, model_registry, ratings_log
from vcsmatch.store.db import open_store
from vcsmatch.store.demo import _rating_of
from vcsmatch.store.secrets import get_secret


def _suggest(client: TestClient, seed: Seed, headers: dict[str, str], i: int = 0) -> dict:
    person = seed.world.new_people[i].model_dump(mode="json", exclude_none=True)
    response = client.post("/v1/recommendations", json={**person, "top_k": 5}, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


def _second_practitioner(seed: Seed) -> dict[str, str]:
    with open_store(seed.settings)() as session:
        plaintext, _ = api_keys.create_key(session, "practitioner", "second team")
    return {"Authorization": f"Bearer {plaintext}"}


def test_a_referral_lives_made_accepted_attended_for_its_owner_only(
    fresh_client: TestClient, fresh_seed: Seed
) -> None:
    """Made (201, then 200 on a retry), accepted, attended; listed for its owner; another
    practitioner key gets 404 for it and for its request; a service not suggested is a 422."""
    owner = fresh_seed.auth("practitioner")
    other = _second_practitioner(fresh_seed)
    answer = _suggest(fresh_client, fresh_seed, owner)
    request_id = answer["request_id"]
    service_id = answer["suggestions"][0]["service_id"]
    body = {"request_id": request_id, "service_id": service_id}

    made = fresh_client.post("/v1/referrals", json=body, headers=owner)
    assert made.status_code == 201, made.text
    referral = made.json()
    assert referral["status"] == "made" and referral["created"] is True
    assert referral["team"] == "test practitioner"
    again = fresh_client.post("/v1/referrals", json=body, headers=owner)
    assert again.status_code == 200 and again.json()["id"] == referral["id"]
    assert again.json()["created"] is False

    url = f"/v1/referrals/{referral['id']}"
    assert fresh_client.post("/v1/referrals", json=body, headers=other).status_code == 404
    hijack = fresh_client.patch(url, json={"status": "accepted"}, headers=other)
    assert hijack.status_code == 404
    assert hijack.headers["content-type"].startswith("application/problem+json")
    assert fresh_client.get("/v1/referrals", headers=other).json()["count"] == 0

    suggested = {s["service_id"] for s in answer["suggestions"]}
    elsewhere = next(i for i in fresh_seed.world.catalogue.ids() if i not in suggested)
    refused = fresh_client.post(
        "/v1/referrals", json={"request_id": request_id, "service_id": elsewhere}, headers=owner
    )
    assert refused.status_code == 422
    assert refused.json()["errors"][0]["field"] == "service_id"

    for status in ("accepted", "attended"):
        moved = fresh_client.patch(url, json={"status": status}, headers=owner)
        assert moved.status_code == 200, moved.text
        assert moved.json()["status"] == status
    retry = fresh_client.patch(url, json={"status": "attended"}, headers=owner)
    assert retry.status_code == 200 and retry.json()["status"] == "attended"
    final = fresh_client.patch(url, json={"status": "withdrawn"}, headers=owner)
    assert final.status_code == 422 and final.json()["errors"][0]["field"] == "status"

    listed = fresh_client.get("/v1/referrals", headers=owner).json()
    assert [r["id"] for r in listed["data"]] == [referral["id"]]
    assert listed["data"][0]["status"] == "attended"
    assert fresh_client.get("/v1/referrals?open=true", headers=owner).json()["count"] == 0


def test_a_decline_needs_a_reason_and_only_a_practitioner_refers(
    fresh_client: TestClient, fresh_seed: Seed
) -> None:
    owner = fresh_seed.auth("practitioner")
    answer = _suggest(fresh_client, fresh_seed, owner, 1)
    body = {
        "request_id": answer["request_id"],
        "service_id": answer["suggestions"][0]["service_id"],
    }
    for role in ("analyst", "front_door", "admin"):
        assert (
            fresh_client.post("/v1/referrals", json=body, headers=fresh_seed.auth(role)).status_code
            == 403
        )
    referral = fresh_client.post("/v1/referrals", json=body, headers=owner).json()
    url = f"/v1/referrals/{referral['id']}"
    no_reason = fresh_client.patch(url, json={"status": "declined"}, headers=owner)
    assert no_reason.status_code == 422 and no_reason.json()["errors"][0]["field"] == "reason"
    bad = fresh_client.patch(url, json={"status": "declined", "reason": "nope"}, headers=owner)
    assert bad.status_code == 422
    ok = fresh_client.patch(
        url, json={"status": "declined", "reason": "no_capacity"}, headers=owner
    )
    assert ok.status_code == 200 and ok.json()["reason"] == "no_capacity"
    assert (
        fresh_client.patch(
            "/v1/referrals/999999", json={"status": "accepted"}, headers=owner
        ).status_code
        == 404
    )


def test_outcomes_reach_the_next_trained_models_training_frame(
    fresh_client: TestClient, fresh_seed: Seed
) -> None:
    """Attended counts for (and stands in for a lower rating of the same suggestion), declined
    as not suitable counts against, a decline for capacity says nothing; the learner's next
    model learns from exactly that frame, with the request's person features."""
    owner = fresh_seed.auth("practitioner")
    sessions = open_store(fresh_seed.settings)
    with sessions() as session:  # the world's ratings, so the learner has something to learn
        sample = fresh_seed.world.ratings.head(400)
        ratings_log.add_ratings(
            session,
            [_rating_of(i, row) for i, row in enumerate(sample.itertuples(index=False))],
            secret=get_secret(session, fresh_seed.settings),
        )
    answer = _suggest(fresh_client, fresh_seed, owner, 2)
    request_id = answer["request_id"]
    a, b, c = (s["service_id"] for s in answer["suggestions"][:3])
    rated = fresh_client.post(
        "/v1/ratings",
        json={"request_id": request_id, "service_id": a, "rating": 2},
        headers=owner,
    )
    assert rated.status_code == 201, rated.text
    steps = {
        a: [{"status": "accepted"}, {"status": "attended"}],
        b: [{"status": "declined", "reason": "not_suitable"}],
        c: [{"status": "declined", "reason": "no_capacity"}],
    }
    for service_id, moves in steps.items():
        ref = fresh_client.post(
            "/v1/referrals",
            json={"request_id": request_id, "service_id": service_id},
            headers=owner,
        ).json()
        for move in moves:
            r = fresh_client.patch(f"/v1/referrals/{ref['id']}", json=move, headers=owner)
            assert r.status_code == 200, r.text

    with sessions() as session:
        frame = ratings_log.ratings_frame(session, with_ids=True)
    ours = frame[frame["request_id"] == request_id].set_index("service_id")
    assert ours["rating"].to_dict() == {a: 5, b: 1}
    person = fresh_seed.world.new_people[2]
    assert set(ours["needs"].iloc[0]) == set(person.needs)
    assert ours["age"].iloc[0] == person.age
    assert ours["person_id"].nunique() == 1  # one request, one person

    outcome = learn_once(sessions, fresh_seed.settings, force=True)
    assert outcome.status in {"promoted", "kept"}, outcome.describe()
    with sessions() as session:
        attempt = model_registry.list_attempts(session, limit=1)[0]
    assert attempt.n_ratings == len(frame) == len(sample) + 2
