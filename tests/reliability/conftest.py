"""Fixtures for the reliability tests: a small synthetic county and a model trained on it.

No ``__init__.py`` here (like ``tests/api``): the helper module ``reliability_server`` is
imported by its unique name.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from reliability_server import LIVE_DEADLINE_S, LiveServer, Seeded, seed_store

from vcsmatch.store.db import dispose_engines


@pytest.fixture(scope="session")
def live_server(
    world, trained_model_dir, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[LiveServer, Seeded]]:
    """One real `vcsmatch serve --workers 2` on a seeded SQLite store, shared by the hostile
    input and privacy tests (starting one costs tens of seconds); request deadline 2 s."""
    data_dir = tmp_path_factory.mktemp("live")
    seeded = seed_store(
        f"sqlite:///{data_dir / 'vcsmatch.db'}", data_dir, world.catalogue, trained_model_dir
    )
    server = LiveServer(
        seeded, workers=2, extra_env={"VCSMATCH_BODY_TIMEOUT_SECONDS": str(LIVE_DEADLINE_S)}
    )
    with server:
        yield server, seeded
    dispose_engines()
