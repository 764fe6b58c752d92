"""An ordinary recommendation or search calls its endpoint without FastAPI's dependency
solving (``api.direct_route``), and answers exactly what FastAPI's own path answers, errors
included."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import fastapi.routing
import pytest
from api_helpers import Seed
from fastapi.testclient import TestClient

from api.direct_route import DirectCall, direct_call
from api.routes import ratings, recommendations, services
from api.routes.recommendations import RecommendationResponse


@contextmanager
def solved() -> Iterator[list[str]]:
    """The paths whose dependencies FastAPI solved while the block ran."""
    seen: list[str] = []
    original = fastapi.routing.solve_dependencies

    async def counting(*args: object, **kwargs: object) -> object:
        seen.append(kwargs["request"].url.path)  # type: ignore[attr-defined]
        return await original(*args, **kwargs)

    fastapi.routing.solve_dependencies = counting  # type: ignore[assignment]
    try:
        yield seen
    finally:
        fastapi.routing.solve_dependencies = original


@contextmanager
def fastapi_path_only() -> Iterator[None]:
    """Every request through FastAPI's own handler, as before ``api.direct_route``."""
    original = DirectCall.__call__

    async def never(self: DirectCall, request: object) -> None:
        return None

    DirectCall.__call__ = never  # type: ignore[method-assign]
    try:
        yield
    finally:
        DirectCall.__call__ = original  # type: ignore[method-assign]


def person(seed: Seed, i: int = 0, **extra: object) -> dict:
    p = seed.world.new_people[i]
    return {**p.model_dump(mode="json", exclude_none=True, exclude={"reference"}), **extra}


def comparable(answer: dict) -> dict:
    return {k: v for k, v in answer.items() if k not in ("request_id", "generated_at")}


def test_an_ordinary_recommendation_solves_no_dependencies(
    shared_client: TestClient, shared_seed: Seed
) -> None:
    headers = shared_seed.auth("practitioner")
    with solved() as seen:
        response = shared_client.post(
            "/v1/recommendations", json=person(shared_seed), headers=headers
        )
    assert response.status_code == 200, response.text
    assert response.json()["suggestions"]
    assert seen == []


def test_the_direct_path_answers_what_fastapis_path_answers(
    shared_client: TestClient, shared_seed: Seed
) -> None:
    headers = shared_seed.auth("practitioner")
    body = person(shared_seed, 1, top_k=7)
    direct = shared_client.post("/v1/recommendations", json=body, headers=headers)
    with fastapi_path_only(), solved() as seen:
        solved_answer = shared_client.post("/v1/recommendations", json=body, headers=headers)
    assert seen == ["/v1/recommendations"]  # the comparison is with FastAPI's own path
    assert direct.status_code == solved_answer.status_code == 200
    assert direct.headers["content-type"] == solved_answer.headers["content-type"]
    assert comparable(direct.json()) == comparable(solved_answer.json())
    assert len(direct.json()["suggestions"]) == 7
    # Serialised once, without the response model: byte for byte what the model would write.
    model = RecommendationResponse.model_validate_json(direct.content)
    assert model.model_dump_json() == direct.text


@pytest.mark.parametrize(
    ("case", "role", "query", "change"),
    [
        ("a body that does not validate", "practitioner", "", {"age": "very old"}),
        ("an unknown field", "practitioner", "", {"favourite_colour": "blue"}),
        ("an unknown query parameter", "practitioner", "?need=x", {}),
        ("a key of another role", "front_door", "", {}),
        ("an unknown need code", "practitioner", "", {"needs": ["no-such-need"]}),
    ],
)
def test_every_refusal_is_the_one_fastapis_path_gives(
    shared_client: TestClient,
    shared_seed: Seed,
    case: str,
    role: str,
    query: str,
    change: dict,
) -> None:
    headers = shared_seed.auth(role)
    body = {**person(shared_seed, 2), **change}
    url = f"/v1/recommendations{query}"
    first = shared_client.post(url, json=body, headers=headers)
    with fastapi_path_only():
        second = shared_client.post(url, json=body, headers=headers)
    assert 400 <= first.status_code < 500, case
    assert (first.status_code, first.json()) == (second.status_code, second.json()), case
    assert first.headers["content-type"].startswith("application/problem+json"), case


def test_a_body_that_is_not_json_gets_fastapis_answer(
    shared_client: TestClient, shared_seed: Seed
) -> None:
    headers = {**shared_seed.auth("practitioner"), "content-type": "application/json"}
    first = shared_client.post("/v1/recommendations", content=b'{"age": 70,', headers=headers)
    with fastapi_path_only():
        second = shared_client.post("/v1/recommendations", content=b'{"age": 70,', headers=headers)
    assert first.status_code == 422
    assert first.json() == second.json()


def test_the_rate_limit_counts_a_direct_answer_once(fresh_seed: Seed, start_app) -> None:
    settings = fresh_seed.settings.model_copy(update={"rate_limit_per_minute": 3})
    client = start_app(settings)
    headers = fresh_seed.auth("practitioner")
    statuses = [
        client.post("/v1/recommendations", json=person(fresh_seed, i), headers=headers).status_code
        for i in range(4)
    ]
    assert statuses == [200, 200, 200, 429]


def test_only_routes_of_the_request_alone_are_planned() -> None:
    [recommend] = [r for r in recommendations.router.routes if r.path == "/v1/recommendations"]
    plan = direct_call(recommend)  # type: ignore[arg-type]
    assert plan is not None
    assert [name for name, _ in plan.dependencies] == ["key"]
    # A rating needs a database session (a dependency with a clean-up): FastAPI solves it.
    [rate] = [r for r in ratings.router.routes if r.path == "/v1/ratings"]
    assert direct_call(rate) is None  # type: ignore[arg-type]


def search_queries(seed: Seed) -> list[str]:
    """Query strings of every kind a search takes: text, a place, lists given twice, each
    scalar type, a page, and a parameter given twice (the last counts, as in FastAPI)."""
    postcode = seed.world.new_people[0].postcode
    return [
        "",
        "?q=lunch+club",
        f"?q=carers&postcode={postcode}&radius_km=30",
        f"?postcode={postcode}&include_remote=false&age=81&sex=female",
        "?needs=social-isolation&needs=dementia&delivery_mode=online&delivery_mode=phone",
        "?q=walk&free_only=true&open_on=MO&page=2&size=5",
        "?q=befriending&open_on=2026-12-07&size=3&size=4",
        "?latitude=52.6&longitude=1.3&radius_km=5",
    ]


def test_an_ordinary_search_solves_no_dependencies(
    shared_client: TestClient, shared_seed: Seed
) -> None:
    headers = shared_seed.auth("front_door")
    with solved() as seen:
        responses = [
            shared_client.get(f"/v1/services{query}", headers=headers)
            for query in search_queries(shared_seed)
        ]
    assert [r.status_code for r in responses] == [200] * len(responses)
    assert seen == []


def test_a_direct_search_answers_what_fastapis_path_answers(
    shared_client: TestClient, shared_seed: Seed
) -> None:
    headers = shared_seed.auth("practitioner")
    for query in search_queries(shared_seed):
        direct = shared_client.get(f"/v1/services{query}", headers=headers)
        with fastapi_path_only(), solved() as seen:
            solved_answer = shared_client.get(f"/v1/services{query}", headers=headers)
        assert seen == ["/v1/services"], query
        assert direct.status_code == solved_answer.status_code == 200, query
        assert direct.json() == solved_answer.json(), query
    twice = shared_client.get("/v1/services?q=befriending&size=3&size=4", headers=headers)
    assert twice.json()["size"] == 4


@pytest.mark.parametrize(
    ("case", "role", "query"),
    [
        ("a size out of range", "practitioner", "?size=0"),
        ("a number that is not one", "front_door", "?radius_km=far"),
        ("an empty number", "practitioner", "?age="),
        ("a list item of no kind", "practitioner", "?delivery_mode=by+pigeon"),
        ("a weekday of no pattern", "practitioner", "?open_on=Monday"),
        ("a date that is not real", "practitioner", "?open_on=2026-02-30"),
        ("a place given twice over", "practitioner", "?postcode=NR1+1AA&latitude=52&longitude=1"),
        ("an unknown query parameter", "practitioner", "?need=social-isolation"),
        ("a key of another role", "manager", "?q=lunch"),
        ("no key", None, "?q=lunch"),
    ],
)
def test_every_search_refusal_is_the_one_fastapis_path_gives(
    shared_client: TestClient, shared_seed: Seed, case: str, role: str | None, query: str
) -> None:
    headers = shared_seed.auth(role) if role else {}
    first = shared_client.get(f"/v1/services{query}", headers=headers)
    with fastapi_path_only():
        second = shared_client.get(f"/v1/services{query}", headers=headers)
    assert 400 <= first.status_code < 500, case
    assert (first.status_code, first.json()) == (second.status_code, second.json()), case
    assert first.headers["content-type"].startswith("application/problem+json"), case


def test_a_search_is_planned_and_one_service_is_not() -> None:
    routes = {r.path: r for r in services.router.routes}
    plan = direct_call(routes["/v1/services"])  # type: ignore[arg-type]
    assert plan is not None
    assert plan.body is None
    assert {p.key for p in plan.query} >= {"q", "needs", "postcode", "size", "open_on"}
    assert {p.key for p in plan.query if p.many} == {"needs", "activities", "delivery_mode"}
    # A plain ``def`` endpoint (in a thread, with a path parameter): FastAPI's own handler.
    assert direct_call(routes["/v1/services/{service_id}"]) is None  # type: ignore[arg-type]
