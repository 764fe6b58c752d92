"""Fixtures of the ranking tests: a small synthetic world, shared by the test modules."""

from __future__ import annotations

import pytest

from vcsmatch.synthetic import World, make_world


@pytest.fixture(scope="session")
def small_world() -> World:
    """A small synthetic county (80 services, 400 rated people, 20 new people)."""
    return make_world(n_services=80, n_people=400, n_new_people=20, seed=7)
