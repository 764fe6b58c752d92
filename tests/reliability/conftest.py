"""Fixtures for the reliability tests: a small synthetic county and a model trained on it.

No ``__init__.py`` here (like ``tests/api``): the helper module ``reliability_server`` is
imported by its unique name.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from reliability_server import LIVE_DEADLINE_S, LiveServer, Seeded, seed_store

from vcsmatch.store.db import dispose_engines


@pytest.fixture(scope="session")
def rel_world() -> object:
    """A small synthetic county: 60 services, 200 people and their ratings."""
    from vcsmatch.synthetic import make_world

    return make_world(n_services=60, n_people=200, n_new_people=10, seed=1)


@pytest.fixture(scope="session")
def rel_model_dir(rel_world, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A ``Recommender`` fitted on the world's ratings and saved (what `vcsmatch train` writes)."""
    from vcsmatch.ranking.recommender import Recommender

    model = Recommender(show_progress=False, n_factors=8, iterations=5)
    model.fit(rel_world.catalogue, rel_world.ratings)
    directory = tmp_path_factory.mktemp("rel-model")
    model.save(directory)
    return directory


@pytest.fixture(scope="session")
def live_server(
    rel_world, rel_model_dir, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[LiveServer, Seeded]]:
    """One real `vcsmatch serve --workers 2` on a seeded SQLite store, shared by the hostile
    input and privacy tests (starting one costs tens of seconds); request deadline 2 s."""
    data_dir = tmp_path_factory.mktemp("live")
    seeded = seed_store(
        f"sqlite:///{data_dir / 'vcsmatch.db'}", data_dir, rel_world.catalogue, rel_model_dir
    )
    server = LiveServer(
        seeded, workers=2, extra_env={"VCSMATCH_BODY_TIMEOUT_SECONDS": str(LIVE_DEADLINE_S)}
    )
    with server:
        yield server, seeded
    dispose_engines()
