"""Helpers shared by the API tests (imported by conftest.py and the test modules)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from vcsmatch.settings import Settings
from vcsmatch.store import api_keys, catalogue_versions, model_registry
from vcsmatch.store.db import dispose_engines, open_store

ROLES = ("practitioner", "front_door", "analyst", "admin")
POSTGRES_ADMIN_URL = os.environ.get(
    "VCSMATCH_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)


@dataclass
class Seed:
    """What the tests need to know of the seeded store."""

    settings: Settings
    keys: dict[str, str]
    world: object
    model_version: str

    def auth(self, role: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.keys[role]}"}


def postgres_database() -> Iterator[str]:
    try:
        import psycopg

        admin = POSTGRES_ADMIN_URL.replace("postgresql+psycopg://", "postgresql://")
        with psycopg.connect(admin, connect_timeout=3):
            pass
    except Exception:  # noqa: BLE001 - any failure means "no server here"
        pytest.skip(f"no PostgreSQL server at {POSTGRES_ADMIN_URL}")
    name = f"vcsmatch_api_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"{POSTGRES_ADMIN_URL.rsplit('/', 1)[0]}/{name}"
    finally:
        dispose_engines()
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def make_seed(url: str, data_dir: Path, world, model_dir: Path, **overrides) -> Seed:
    """Migrate ``url``, store the world's catalogue, register the model, make one key a role."""
    settings = Settings(
        database_url=url,
        data_dir=data_dir,
        secret_key="test-secret",
        model_poll_seconds=overrides.pop("model_poll_seconds", 0.2),
        rate_limit_per_minute=overrides.pop("rate_limit_per_minute", 100_000),
        **overrides,
    )
    sessions = open_store(settings)
    with sessions() as session:
        catalogue_versions.save_catalogue(session, world.catalogue, source="synthetic")
        version = model_registry.register_model(session, model_dir, n_ratings=len(world.ratings))
        keys = {role: api_keys.create_key(session, role, f"test {role}")[0] for role in ROLES}
    return Seed(settings=settings, keys=keys, world=world, model_version=version)
