"""Store fixtures: a migrated engine and a session on SQLite and on PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from vcsmatch.catalogue.model import Catalogue, Location, Service
from vcsmatch.store import db


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    """A migrated engine on a fresh database (SQLite file, then PostgreSQL)."""
    eng = db.make_engine(database_url)
    db.migrate(eng)
    try:
        yield eng
    finally:
        eng.dispose()


@pytest.fixture
def factory(engine: Engine) -> sessionmaker[Session]:
    return db.session_factory(engine)


@pytest.fixture
def session(factory: sessionmaker[Session]) -> Iterator[Session]:
    with factory() as s:
        yield s


@pytest.fixture
def make_catalogue() -> Callable[..., Catalogue]:
    """A builder of small synthetic catalogues: ``make_catalogue(n, prefix="svc")``."""
    return _make_catalogue


def _make_catalogue(n: int, prefix: str = "svc") -> Catalogue:
    """``n`` small services with distinct ids, needs and a location."""
    needs = ["dementia", "social-isolation", "carer-support"]
    return Catalogue(
        services=[
            Service(
                id=f"{prefix}-{i}",
                name=f"Service {i}",
                description="A synthetic service.",
                needs=[needs[i % 3]],
                delivery_modes=["in_person"],
                locations=[Location(postcode="RG1 1AA", latitude=51.45, longitude=-0.97)],
            )
            for i in range(n)
        ],
        source=f"{prefix}.json",
    )
