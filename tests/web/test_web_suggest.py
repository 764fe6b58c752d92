"""Suggest for a person and rate, over real HTTP through the ASGI app (no browser): the page
uses the API's own recommendation and rating code, so it behaves exactly like /v1."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient
from web_helpers import WebWorld, signed_in

from api.main import create_app
from vcsmatch.store import ratings_log, recommendation_log
from vcsmatch.store.db import open_store


@pytest.fixture
def practitioner(app_client: TestClient, web_world: WebWorld) -> tuple[TestClient, str]:
    """A signed-in practitioner's browser and its CSRF token."""
    app_client.cookies.clear()
    return app_client, signed_in(app_client, web_world.practitioner_key)


def _suggest(client: TestClient, csrf: str, postcode: str) -> str:
    made = client.post(
        "/suggest",
        data={"csrf_token": csrf, "action": "suggest", "postcode": postcode, "age": "81"}
        | {"sex": "female", "needs": ["social-isolation", "nutrition"]},
        follow_redirects=False,
    )
    assert made.status_code == 303
    return made.headers["location"]


def test_suggestions_are_logged_minimised_like_the_api(
    practitioner: tuple[TestClient, str], web_world: WebWorld
) -> None:
    """The request is in the recommendation log with the minimised person, not the postcode."""
    client, csrf = practitioner
    location = _suggest(client, csrf, web_world.postcode)
    request_id = location.rsplit("/", 1)[1]
    with open_store(web_world.settings)() as s:
        record = recommendation_log.get_request(s, request_id)
    assert (record.person.age, record.person.sex) == (81, "female")
    assert record.person.needs == ("social-isolation", "nutrition")
    assert record.person.latitude is not None and len(record.service_ids) >= 1
    page = client.get(location)
    assert page.status_code == 200
    assert "they do not make the decision" in page.text
    assert web_world.postcode not in page.text


def test_double_click_stores_one_rating_and_a_new_mind_another(
    practitioner: tuple[TestClient, str], web_world: WebWorld
) -> None:
    """The same rating posted twice is stored once (the API's idempotency); a different
    rating for the same suggestion is stored as a new rating."""
    client, csrf = practitioner
    location = _suggest(client, csrf, web_world.postcode)
    page = client.get(location)
    service_id = re.search(r'name="service_id" value="([^"]+)"', page.text).group(1)
    sessions = open_store(web_world.settings)
    with sessions() as s:
        before = ratings_log.count_ratings(s)
    form = {"csrf_token": csrf, "service_id": service_id}
    for rating in ("2", "2", "5"):
        answer = client.post(f"{location}/ratings", data=form | {"rating": rating})
        assert answer.status_code == 200 and "Rating saved" in answer.text
    with sessions() as s:
        assert ratings_log.count_ratings(s) == before + 2
        newest = ratings_log.list_ratings(s)[-2:]
    assert [r.rating for r in newest] == [2, 5]
    assert all(r.request_id == location.rsplit("/", 1)[1] for r in newest)


@pytest.mark.parametrize(
    ("rating", "service_id", "status"),
    [("9", None, 400), ("four", None, 400), ("3", "not-suggested", 404)],
)
def test_bad_ratings_store_nothing(
    practitioner: tuple[TestClient, str],
    web_world: WebWorld,
    rating: str,
    service_id: str | None,
    status: int,
) -> None:
    """A rating outside 1-5, or for a service not suggested, is refused and not stored."""
    client, csrf = practitioner
    location = _suggest(client, csrf, web_world.postcode)
    page = client.get(location)
    suggested = re.search(r'name="service_id" value="([^"]+)"', page.text).group(1)
    sessions = open_store(web_world.settings)
    with sessions() as s:
        before = ratings_log.count_ratings(s)
    answer = client.post(
        f"{location}/ratings",
        data={"csrf_token": csrf, "service_id": service_id or suggested, "rating": rating},
        headers={"Accept": "application/json"},
    )
    assert answer.status_code == status and answer.json()["message"]
    with sessions() as s:
        assert ratings_log.count_ratings(s) == before


def test_describing_nothing_asks_for_a_description(practitioner: tuple[TestClient, str]) -> None:
    """ "Suggest needs" with an empty description is an error tied to the description field."""
    client, csrf = practitioner
    answer = client.post(
        "/suggest", data={"csrf_token": csrf, "action": "interpret", "situation": " "}
    )
    assert answer.status_code == 400
    assert 'href="#situation"' in answer.text and 'id="situation-error"' in answer.text


@pytest.mark.postgres
def test_suggest_and_rate_on_postgresql(postgres_url: str, web_world: WebWorld, tmp_path) -> None:
    """The same page journey on PostgreSQL: sign in, suggest, rate, and the rating is stored."""
    from vcsmatch.store import api_keys, catalogue_versions, model_registry
    from vcsmatch.synthetic import make_world

    settings = web_world.settings.model_copy(
        update={"database_url": postgres_url, "data_dir": tmp_path}
    )
    sessions = open_store(settings)
    with sessions() as s:
        catalogue_versions.save_catalogue(s, make_world(150, 400, 0, seed=11).catalogue)
        model_registry.register_model(s, web_world.settings.data_dir / "trained")
        key, _ = api_keys.create_key(s, "practitioner", "pg web test")
    with TestClient(create_app(settings), base_url="http://testserver") as client:
        csrf = signed_in(client, key)
        location = _suggest(client, csrf, web_world.postcode)
        page = client.get(location)
        service_id = re.search(r'name="service_id" value="([^"]+)"', page.text).group(1)
        form = {"csrf_token": csrf, "service_id": service_id, "rating": "3"}
        answer = client.post(f"{location}/ratings", data=form)
        assert answer.status_code == 200 and "Rating saved" in answer.text
    with sessions() as s:
        stored = ratings_log.list_ratings(s)
    assert [(r.service_id, r.rating) for r in stored] == [(service_id, 3)]
