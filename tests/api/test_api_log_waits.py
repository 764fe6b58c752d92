"""A recommendation whose log must wait for the store waits off the event loop, and so does
anything that may send an address to the online geocoder.

An ordinary recommendation is ranked, and logged when the store can take it at once, on the
event loop (``api.loop_budget``). Here another connection holds the lock the log needs (SQLite's
write lock, as a second worker's import would; on PostgreSQL a lock on the log's table): the
worker must go on answering ``/health`` meanwhile, hold the answer back until it is logged, and
then answer with a request id that a rating can cite.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
import pytest
from api_helpers import Seed
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.engine import make_url

from vcsmatch.store.db import open_store
from vcsmatch.store.tables import RecommendationRequestRow

#: How long a call may take before the test calls the worker stuck (a liveness bound only).
STUCK_S = 20.0


@contextmanager
def log_locked(seed: Seed) -> Iterator[None]:
    """Hold, from a connection of the test's own, the lock a recommendation's log needs."""
    url = make_url(seed.settings.resolved_database_url)
    if url.get_backend_name() == "sqlite":
        conn = sqlite3.connect(url.database, isolation_level=None)
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield
        finally:
            conn.execute("ROLLBACK")
            conn.close()
        return
    dsn = url.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(dsn) as conn:
        conn.execute("LOCK TABLE recommendation_requests IN EXCLUSIVE MODE")
        yield
        conn.rollback()


def logged(seed: Seed, request_id: str) -> bool:
    with open_store(seed.settings)() as session:
        query = select(func.count()).where(RecommendationRequestRow.request_id == request_id)
        return bool(session.scalar(query))


def test_a_recommendation_waiting_for_the_store_leaves_the_worker_answering(
    shared_client: TestClient, shared_seed: Seed
) -> None:
    person = shared_seed.world.new_people[3]
    body = person.model_dump(mode="json", exclude_none=True, exclude={"reference"})
    headers = shared_seed.auth("practitioner")
    assert shared_client.post("/v1/recommendations", json=body, headers=headers).status_code == 200
    answered: dict[str, object] = {}

    def recommend() -> None:
        answered["response"] = shared_client.post("/v1/recommendations", json=body, headers=headers)

    with log_locked(shared_seed):
        waiting = threading.Thread(target=recommend)
        waiting.start()
        health: dict[str, int] = {}
        checker = threading.Thread(
            target=lambda: health.update(status=shared_client.get("/health").status_code)
        )
        checker.start()
        checker.join(STUCK_S)
        assert health.get("status") == 200, "the worker stopped answering while a log waited"
        waiting.join(0.5)
        assert waiting.is_alive(), "the answer was sent before its request was logged"
    waiting.join(STUCK_S)
    response = answered["response"]
    assert response.status_code == 200, response.text  # type: ignore[attr-defined]
    assert logged(shared_seed, response.json()["request_id"])  # type: ignore[attr-defined]


def on_the_event_loop() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


def test_an_address_goes_to_the_online_geocoder_from_a_worker_thread(
    fresh_seed: Seed, start_app, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A place given as an address (a search's ``postcode``, a person's) is looked up by a
    network call that may take seconds: never from the event loop, where every request of the
    worker would wait for it."""
    import vcsmatch.features.location as location

    calls: list[bool] = []

    def geocode(text: str, **kwargs: object) -> tuple[float, float]:
        calls.append(on_the_event_loop())
        return 52.63, 1.30  # Norwich, inside the synthetic catalogue's area

    monkeypatch.setattr(location, "geocode_address", geocode)
    client = start_app(fresh_seed.settings.model_copy(update={"geocoder_enabled": True}))
    headers = fresh_seed.auth("practitioner")
    for _ in range(2):  # checked against the store, then recalled from memory
        found = client.get("/v1/services", params={"postcode": "Town Hall"}, headers=headers)
        assert found.status_code == 200, found.text
        body = {"postcode": "Town Hall", "age": 80, "needs": []}
        answered = client.post("/v1/recommendations", json=body, headers=headers)
        assert answered.status_code == 200, answered.text
    assert calls == [False] * 4
