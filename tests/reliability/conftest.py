"""Fixtures for the reliability tests: a small synthetic county and a model trained on it.

No ``__init__.py`` here (like ``tests/api``): the helper module ``reliability_server`` is
imported by its unique name.
"""

from __future__ import annotations

from pathlib import Path

import pytest


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
