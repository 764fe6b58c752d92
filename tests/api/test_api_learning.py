"""The learning loop's API: every suggestion shown is logged with its propensity, the exposure
export joins outcomes, and GET /v1/model shows the learner and the history."""

from __future__ import annotations

from api_helpers import Seed
from fastapi.testclient import TestClient

from vcsmatch.store import model_registry
from vcsmatch.store.db import open_store


def _person(seed: Seed, i: int) -> dict:
    person = seed.world.new_people[i % len(seed.world.new_people)]
    return person.model_dump(mode="json", exclude_none=True)


def test_every_suggestion_shown_is_logged_and_exported_with_its_outcome(
    fresh_seed: Seed, start_app
) -> None:
    """Each suggestion is an exposure row (rank, score, propensity); exploration slots say so
    and carry their draw probability; a rating citing the request shows up as its outcome."""
    client: TestClient = start_app(fresh_seed.settings.model_copy(update={"explore_share": 0.3}))
    practitioner, analyst = fresh_seed.auth("practitioner"), fresh_seed.auth("analyst")
    answers = []
    for i in range(10):
        answer = client.post(
            "/v1/recommendations",
            json={**_person(fresh_seed, i), "top_k": 10},
            headers=practitioner,
        )
        assert answer.status_code == 200, answer.text
        answers.append(answer.json())
    first = answers[0]
    rated = first["suggestions"][0]["service_id"]
    stored = client.post(
        "/v1/ratings",
        json={"request_id": first["request_id"], "service_id": rated, "rating": 5},
        headers=practitioner,
    )
    assert stored.status_code == 201, stored.text

    export = client.get("/v1/exposures/export", headers=analyst)
    assert export.status_code == 200, export.text
    rows = export.json()["data"]
    assert len(rows) == sum(len(a["suggestions"]) for a in answers)
    by_request: dict[str, list[dict]] = {}
    for row in rows:
        by_request.setdefault(row["request_id"], []).append(row)
    explored = 0
    for answer in answers:
        logged = sorted(by_request[answer["request_id"]], key=lambda r: r["rank"])
        assert [r["service_id"] for r in logged] == [s["service_id"] for s in answer["suggestions"]]
        for row, s in zip(logged, answer["suggestions"], strict=True):
            is_explored = s["reasons"][0]["kind"] == "exploration"
            assert row["slot"] == ("explore" if is_explored else "ranked")
            explored += is_explored
            if is_explored:
                assert row["rank"] > 3 and 0 < row["propensity"] <= 1
            else:
                assert row["propensity"] == 1
    assert explored > 0
    outcome = [r for r in rows if r["request_id"] == first["request_id"] and r["rating"]]
    assert [(r["service_id"], r["rating"]) for r in outcome] == [(rated, 5)]
    for row in rows:
        assert set(row) >= {"propensity", "score", "model_version"}
        assert not set(row) & {"age", "sex", "needs", "strengths", "latitude", "postcode"}

    csv = client.get("/v1/exposures/export", params={"format": "csv"}, headers=analyst)
    assert csv.status_code == 200
    assert csv.text.splitlines()[0].startswith("exposure_id,request_id,shown_at")
    assert client.get("/v1/exposures/export", headers=practitioner).status_code == 403


def test_model_shows_the_learner_and_the_recent_attempts(fresh_seed: Seed, fresh_client) -> None:
    """GET /v1/model says how learning is set and lists the recorded attempts, newest first."""
    with open_store(fresh_seed.settings)() as session:
        model_registry.record_attempt(
            session,
            trigger="learner",
            decision="kept",
            reason="worse beyond noise",
            candidate_version="cand-1",
            serving_version=fresh_seed.model_version,
            last_rating_id=7,
            details={"gate": {"candidate": {"rated_ndcg": 0.4}}},
        )
    body = fresh_client.get("/v1/model", headers=fresh_seed.auth("analyst")).json()
    assert body["version"] == fresh_seed.model_version
    assert body["learning"]["min_new_ratings"] == fresh_seed.settings.learn_min_new_ratings
    latest = body["history"][0]
    assert latest["decision"] == "kept" and latest["reason"] == "worse beyond noise"
    assert latest["figures"] == {"candidate": {"rated_ndcg": 0.4}}


def test_first_request_after_an_import_elsewhere_is_answered_at_once(
    world, start_app, tmp_path
) -> None:
    """A catalogue imported by another process (the CLI) into an empty store serves at the
    first request, with its day-one model, without waiting for the next poll."""
    from api_helpers import test_settings

    from vcsmatch.learner import ensure_day_one
    from vcsmatch.store import api_keys, catalogue_versions

    url = f"sqlite:///{tmp_path / 'empty' / 'store.db'}"
    settings = test_settings(url, tmp_path / "empty", model_poll_seconds=3600)
    sessions = open_store(settings)
    with sessions() as session:
        key, _ = api_keys.create_key(session, "practitioner", "first day")
    client: TestClient = start_app(settings)
    auth = {"Authorization": f"Bearer {key}"}
    person = world.new_people[0].model_dump(mode="json", exclude_none=True)
    assert client.post("/v1/recommendations", json=person, headers=auth).status_code == 503
    with sessions() as session:  # what `vcsmatch catalogue import` does
        catalogue_versions.save_catalogue(session, world.catalogue, source="cli")
    assert ensure_day_one(sessions, settings) is not None
    answer = client.post("/v1/recommendations", json=person, headers=auth)
    assert answer.status_code == 200, answer.text
    assert answer.json()["suggestions"]
    reasons = {r["kind"] for s in answer.json()["suggestions"] for r in s["reasons"]}
    assert "new_service" in reasons and "collaborative" not in reasons
