"""The learning loop through the real app: a new council's first import, suggestions at once,
practitioners rating what they are shown, and the service retraining by itself."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient

from api.main import create_app
from vcsmatch.catalogue.hsds3 import write_hsds3
from vcsmatch.evaluation.metrics import gain, ndcg_at_k
from vcsmatch.features.person import Person
from vcsmatch.settings import Settings
from vcsmatch.store import api_keys, model_registry
from vcsmatch.store.db import dispose_engines, open_store
from vcsmatch.synthetic import World, make_world

pytestmark = pytest.mark.slow

SHOWN = 8  # suggestions each simulated practitioner sees and rates


@pytest.fixture(scope="module")
def loop_world() -> World:
    """A small county whose truth the simulated practitioners rate from."""
    return make_world(n_services=120, n_people=600, n_new_people=60, seed=11)


def _settings(url: str, data_dir: Path, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "database_url": url,
        "data_dir": data_dir,
        "secret_key": "loop-test-secret",
        "model_poll_seconds": 0.2,
        "rate_limit_per_minute": 1_000_000,
        "learn_enabled": True,
        "learn_min_new_ratings": 300,
        "learn_interval_seconds": 0,
        "learn_check_seconds": 0.3,
        "explore_share": 0.1,
    }
    return Settings(**{**values, **overrides})


def _keys(settings: Settings) -> dict[str, str]:
    with open_store(settings)() as session:
        return {
            role: api_keys.create_key(session, role, f"loop {role}")[0]
            for role in ("practitioner", "admin", "analyst")
        }


def _body(person: Person, top_k: int = SHOWN) -> dict[str, object]:
    body = person.model_dump(
        include={"latitude", "longitude", "age", "sex", "needs", "strengths"}, exclude_none=True
    )
    return {**body, "top_k": top_k}


def _true_ndcg(client: TestClient, auth: dict[str, str], world: World) -> float:
    """NDCG@8 of the served suggestions against the world's truth, over fixed new residents."""
    ids = world.catalogue.ids()
    values = []
    for person in world.new_people:
        answer = client.post("/v1/recommendations", json=_body(person), headers=auth)
        assert answer.status_code == 200, answer.text
        truth = world.true_relevance(person)
        gains = {sid: float(gain(r)) for sid, r in zip(ids, truth, strict=True)}
        ranked = [s["service_id"] for s in answer.json()["suggestions"]]
        value = ndcg_at_k(ranked, gains, SHOWN)
        if value is not None:
            values.append(value)
    return float(np.mean(values))


def _rate_round(
    client: TestClient, auth: dict[str, str], world: World, people: list[Person], seed: int
) -> int:
    """Each person is shown suggestions; a practitioner rates every one from the truth."""
    rng = np.random.default_rng(seed)
    index = world.catalogue.index()
    ratings = []
    for person in people:
        answer = client.post("/v1/recommendations", json=_body(person), headers=auth).json()
        shown = answer["suggestions"]
        truth = world.true_relevance(person, [index[s["service_id"]] for s in shown])
        for s, expected in zip(shown, truth, strict=True):
            stars = int(np.clip(np.rint(expected + rng.normal(0, 0.5)), 1, 5))
            ratings.append(
                {"request_id": answer["request_id"], "service_id": s["service_id"], "rating": stars}
            )
    for start in range(0, len(ratings), 500):
        batch = {"ratings": ratings[start : start + 500]}
        stored = client.post("/v1/ratings", json=batch, headers=auth)
        assert stored.status_code == 201, stored.text
    return len(ratings)


def _wait_for_new_model(
    client: TestClient, auth: dict[str, str], before: str, timeout: float = 180.0
) -> dict[str, object]:
    """The model once a worker serves another version than ``before``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        model = client.get("/v1/model", headers=auth).json()
        if model["version"] != before:
            return model
        time.sleep(0.5)
    raise AssertionError(f"the model did not change by itself within {timeout:.0f} s")


def _wait_for_first_model(
    client: TestClient, auth: dict[str, str], timeout: float = 180.0
) -> dict[str, object]:
    """The first model a worker serves (``GET /v1/model`` is 503 until it has one)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        answer = client.get("/v1/model", headers=auth)
        if answer.status_code == 200:
            return answer.json()
        assert answer.status_code == 503, answer.text
        time.sleep(0.5)
    raise AssertionError(f"no model was served within {timeout:.0f} s")


@pytest.fixture
def fresh_store(tmp_path: Path) -> Iterator[Path]:
    yield tmp_path
    dispose_engines()


def test_the_loop_runs_itself_from_day_one(loop_world: World, fresh_store: Path) -> None:
    """Empty store, catalogue import, suggestions at once; rated rounds retrain the model by
    itself, each promotion is recorded with its reason, and the figure on new residents rises."""
    settings = _settings(f"sqlite:///{fresh_store / 'vcsmatch.db'}", fresh_store)
    keys = _keys(settings)
    practitioner = {"Authorization": f"Bearer {keys['practitioner']}"}
    analyst = {"Authorization": f"Bearer {keys['analyst']}"}
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        assert (
            client.post(
                "/v1/recommendations", json=_body(loop_world.people[0]), headers=practitioner
            ).status_code
            == 503
        )  # nothing imported yet
        imported = client.post(
            "/v1/catalogue",
            json=write_hsds3(loop_world.catalogue),
            headers={"Authorization": f"Bearer {keys['admin']}"},
        )
        assert imported.status_code == 201, imported.text
        day_one = client.get("/v1/model", headers=analyst).json()
        assert day_one["history"][0]["trigger"] == "day-one"
        assert day_one["n_ratings"] == 0
        figures = [_true_ndcg(client, practitioner, loop_world)]  # day one answers at once

        version = day_one["version"]
        changes = 0
        for round_no in range(3):
            people = loop_world.people[round_no * 120 : (round_no + 1) * 120]
            assert _rate_round(client, practitioner, loop_world, people, round_no) >= 300
            started = time.monotonic()
            model = _wait_for_new_model(client, analyst, version)
            print(f"round {round_no + 1}: new model after {time.monotonic() - started:.1f} s")
            changes += model["version"] != version
            version = str(model["version"])
            figures.append(_true_ndcg(client, practitioner, loop_world))

        history = client.get("/v1/model", headers=analyst).json()["history"]
    learned = [a for a in history if a["trigger"] == "learner"]
    assert changes == 3
    assert len([a for a in learned if a["decision"] == "promoted"]) >= 3
    for attempt in learned:
        assert attempt["reason"], attempt
        assert attempt["last_rating_id"] > 0
        assert "candidate" in attempt["figures"] and "serving" in attempt["figures"]
    print("true NDCG@8 by round:", [round(f, 3) for f in figures])
    assert figures[-1] >= figures[0] + 0.05, figures


def test_two_workers_on_postgresql_train_once(
    loop_world: World, postgres_url: str, tmp_path: Path
) -> None:
    """Two workers sharing one PostgreSQL store both see a retrain due: exactly one trains,
    and both end up serving its model."""
    settings = _settings(postgres_url, tmp_path, learn_min_new_ratings=200, learn_check_seconds=0.2)
    keys = _keys(settings)
    practitioner = {"Authorization": f"Bearer {keys['practitioner']}"}
    analyst = {"Authorization": f"Bearer {keys['analyst']}"}
    with (
        TestClient(create_app(settings), raise_server_exceptions=False) as first,
        TestClient(create_app(settings), raise_server_exceptions=False) as second,
    ):
        imported = first.post(
            "/v1/catalogue",
            json=write_hsds3(loop_world.catalogue),
            headers={"Authorization": f"Bearer {keys['admin']}"},
        )
        assert imported.status_code == 201, imported.text
        # The day-one model is trained by whichever worker takes its lease first: when the
        # second worker's learner saw the catalogue first, the importing worker serves it only
        # once it has picked that model up.
        before = str(_wait_for_first_model(first, analyst)["version"])
        _rate_round(first, practitioner, loop_world, loop_world.people[:60], 7)
        model = _wait_for_new_model(second, analyst, before)
        deadline = time.monotonic() + 30
        while first.get("/v1/model", headers=analyst).json()["version"] != model["version"]:
            assert time.monotonic() < deadline, "the first worker never picked the model up"
            time.sleep(0.2)
        time.sleep(2.0)  # any second learner would have started by now
        with open_store(settings)() as session:
            attempts = [a for a in model_registry.list_attempts(session) if a.trigger == "learner"]
    assert len(attempts) == 1, [(a.decision, a.reason) for a in attempts]
    assert attempts[0].decision == "promoted"
    holders = {a.details.get("holder") for a in attempts}
    assert len(holders) == 1
