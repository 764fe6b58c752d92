"""API fixtures: a store seeded with a small synthetic world, a trained model, a key per role,
and the real app served over HTTP (starlette's TestClient runs the lifespan).

No ``__init__.py`` here on purpose: a package named ``api`` under ``tests/`` would shadow the
real ``api`` package. Test modules are named ``test_api_*.py`` to stay unique.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from api_helpers import Seed, Template, clone, seed_template
from fastapi.testclient import TestClient

from api.main import create_app
from vcsmatch.settings import Settings


@pytest.fixture(scope="session")
def sqlite_template(world, trained_model_dir, tmp_path_factory) -> Iterator[Template]:
    """The seeded SQLite store that each SQLite test copies."""
    yield from seed_template("sqlite", tmp_path_factory.mktemp("tmpl"), world, trained_model_dir)


@pytest.fixture(scope="session")
def postgres_template(world, trained_model_dir, tmp_path_factory) -> Iterator[Template]:
    """The seeded PostgreSQL database that each PostgreSQL test clones (skips without one)."""
    yield from seed_template("postgres", tmp_path_factory.mktemp("tmpl"), world, trained_model_dir)


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def shared_seed(request: pytest.FixtureRequest, world, tmp_path_factory) -> Iterator[Seed]:
    """One seeded store per test module and backend, for tests that change nothing shared."""
    template = request.getfixturevalue(f"{request.param}_template")
    yield from clone(template, tmp_path_factory.mktemp("data"), world)


@pytest.fixture(scope="module")
def shared_client(shared_seed: Seed) -> Iterator[TestClient]:
    """The app over HTTP, started once per module and backend."""
    with TestClient(create_app(shared_seed.settings), raise_server_exceptions=False) as client:
        yield client


@pytest.fixture(params=["sqlite", "postgres"])
def fresh_seed(request: pytest.FixtureRequest, world, tmp_path: Path) -> Iterator[Seed]:
    """A seeded store of its own, for tests that import, reload, rate or revoke."""
    yield from clone(request.getfixturevalue(f"{request.param}_template"), tmp_path, world)


@pytest.fixture
def start_app() -> Iterator[Callable[[Settings], TestClient]]:
    """``start_app(settings)`` -> a started TestClient; all are shut down after the test."""
    clients: list[TestClient] = []

    def start(settings: Settings) -> TestClient:
        client = TestClient(create_app(settings), raise_server_exceptions=False)
        client.__enter__()
        clients.append(client)
        return client

    yield start
    for client in reversed(clients):
        client.__exit__(None, None, None)


@pytest.fixture
def fresh_client(fresh_seed: Seed, start_app) -> TestClient:
    return start_app(fresh_seed.settings)
