"""Fixtures shared by the whole suite: database URLs, a small synthetic world and its model."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

# The suite compares API answers with the library's deterministic ranking and counts what the
# store holds: the learner (a child process that retrains and swaps the model) and exploration
# (randomly drawn slots) stay off unless a test of the learning loop switches them on.
os.environ.setdefault("VCSMATCH_LEARN_ENABLED", "false")
os.environ.setdefault("VCSMATCH_EXPLORE_SHARE", "0")

POSTGRES_ADMIN_URL = os.environ.get(
    "VCSMATCH_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """A fresh SQLite file for one test."""
    return f"sqlite:///{tmp_path / 'vcsmatch.db'}"


def _postgres_available() -> bool:
    try:
        import psycopg

        url = POSTGRES_ADMIN_URL.replace("postgresql+psycopg://", "postgresql://")
        with psycopg.connect(url, connect_timeout=3):
            return True
    except Exception:  # noqa: BLE001 - any failure means "no server here"
        return False


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh, empty PostgreSQL database for one test, dropped afterwards.

    Skips (with the reason) where no server answers at VCSMATCH_TEST_POSTGRES_URL.
    """
    if not _postgres_available():
        pytest.skip(f"no PostgreSQL server at {POSTGRES_ADMIN_URL}")
    import psycopg

    admin = POSTGRES_ADMIN_URL.replace("postgresql+psycopg://", "postgresql://")
    name = f"vcsmatch_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base = POSTGRES_ADMIN_URL.rsplit("/", 1)[0]
    try:
        yield f"{base}/{name}"
    finally:
        # Close pooled connections before the database goes, so none is left open for the
        # garbage collector to find (and warn about) in some later test.
        from vcsmatch.store.db import dispose_engines

        dispose_engines()
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest) -> str:
    """Each store test runs on a real SQLite file and on real PostgreSQL (skips if absent)."""
    if request.param == "sqlite":
        return request.getfixturevalue("sqlite_url")
    return request.getfixturevalue("postgres_url")


@pytest.fixture(scope="session")
def world() -> object:
    """A small synthetic county: 60 services, 200 people and their ratings."""
    from vcsmatch.synthetic import make_world

    return make_world(n_services=60, n_people=200, n_new_people=10, seed=1)


@pytest.fixture(scope="session")
def trained_model_dir(world, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A Recommender fitted on the world's ratings and saved (what `vcsmatch train` writes)."""
    from vcsmatch.ranking.recommender import Recommender

    model = Recommender(show_progress=False).set_params(
        parts__collaborative__n_factors=8, parts__collaborative__iterations=5
    )
    model.fit(world.catalogue, world.ratings)
    directory = tmp_path_factory.mktemp("model")
    model.save(directory)
    return directory
