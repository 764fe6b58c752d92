"""Helpers shared by the API tests (imported by conftest.py and the test modules).

Seeding a store (migrate, store a 60-service catalogue, register a model, make keys) is done
once per backend per session into a *template*; each test gets a clone: a file copy on SQLite,
``CREATE DATABASE ... TEMPLATE`` on PostgreSQL. Clones are real, separate databases.
"""

from __future__ import annotations

import os
import queue
import shutil
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from vcsmatch.settings import Settings
from vcsmatch.store import api_keys, catalogue_versions, model_registry
from vcsmatch.store.db import get_engine, open_store

ROLES = ("practitioner", "front_door", "analyst", "admin", "manager")
POSTGRES_ADMIN_URL = os.environ.get(
    "VCSMATCH_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
_PSYCOPG_ADMIN = POSTGRES_ADMIN_URL.replace("postgresql+psycopg://", "postgresql://")


@dataclass(frozen=True)
class Template:
    """A seeded database to clone: where it is, its keys and its model version."""

    kind: str
    location: str  # SQLite file path or PostgreSQL database name
    keys: dict[str, str]
    model_version: str


@dataclass
class Seed:
    """What a test needs to know of its seeded store."""

    settings: Settings
    keys: dict[str, str]
    world: object
    model_version: str

    def auth(self, role: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.keys[role]}"}


def test_settings(url: str, data_dir: Path, **overrides) -> Settings:
    """Settings for a test app: fast registry polling, a rate limit tests do not hit."""
    values = {
        "database_url": url,
        "data_dir": data_dir,
        "secret_key": "test-secret",
        "model_poll_seconds": 0.2,
        "rate_limit_per_minute": 100_000,
        # every test client shares one address; the failed-check throttle has its own test
        "max_failed_key_checks_per_minute": 100_000,
    }
    return Settings(**{**values, **overrides})


test_settings.__test__ = False  # type: ignore[attr-defined]  # not a test, despite its name


def _require_postgres() -> None:
    try:
        import psycopg

        with psycopg.connect(_PSYCOPG_ADMIN, connect_timeout=3):
            pass
    except Exception:  # noqa: BLE001 - any failure means "no server here"
        pytest.skip(f"no PostgreSQL server at {POSTGRES_ADMIN_URL}")


def _pg_url(name: str) -> str:
    return f"{POSTGRES_ADMIN_URL.rsplit('/', 1)[0]}/{name}"


def _pg(sql: str) -> None:
    import psycopg

    with psycopg.connect(_PSYCOPG_ADMIN, autocommit=True) as conn:
        conn.execute(sql)


class _Dropper:
    """Drops finished clone databases on a background thread.

    ``DROP DATABASE`` forces a checkpoint, which takes seconds on a busy machine; doing it off
    the test's path overlaps that wait with the next tests. ``drain()`` waits for all of them.
    """

    def __init__(self) -> None:
        self._queue: queue.Queue[str | None] = queue.Queue()
        self._thread: threading.Thread | None = None

    def drop(self, name: str) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="drop-test-dbs", daemon=True)
            self._thread.start()
        self._queue.put(name)

    def _run(self) -> None:
        while (name := self._queue.get()) is not None:
            _pg(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def drain(self) -> None:
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join()
            self._thread = None


_dropper = _Dropper()


def _release(url: str, data_dir: Path) -> None:
    """Close the pooled connections this process holds to ``url``."""
    get_engine(test_settings(url, data_dir)).dispose()


def seed_template(kind: str, directory: Path, world, model_dir: Path) -> Iterator[Template]:
    """Create and seed one template database of ``kind``; drop it afterwards."""
    if kind == "postgres":
        _require_postgres()
        name = f"vcsmatch_api_tmpl_{uuid.uuid4().hex[:10]}"
        _pg(f'CREATE DATABASE "{name}"')
        url = _pg_url(name)
        location = name
    else:
        location = str(directory / "template.db")
        url = f"sqlite:///{location}"
    try:
        with open_store(test_settings(url, directory))() as session:
            catalogue_versions.save_catalogue(session, world.catalogue, source="synthetic")
            version = model_registry.register_model(
                session, model_dir, n_ratings=len(world.ratings)
            )
            keys = {r: api_keys.create_key(session, r, f"test {r}")[0] for r in ROLES}
        _release(url, directory)  # a template must have no open connections to be copied
        yield Template(kind, location, keys, version)
    finally:
        if kind == "postgres":
            _release(url, directory)
            _dropper.drain()  # clones first: each was copied from this template
            _pg(f'DROP DATABASE IF EXISTS "{location}" WITH (FORCE)')


def clone(template: Template, data_dir: Path, world) -> Iterator[Seed]:
    """A fresh database holding the template's contents, removed afterwards."""
    if template.kind == "postgres":
        name = f"vcsmatch_api_{uuid.uuid4().hex[:12]}"
        _pg(f'CREATE DATABASE "{name}" TEMPLATE "{template.location}"')
        url = _pg_url(name)
    else:
        target = data_dir / "vcsmatch.db"
        shutil.copyfile(template.location, target)
        url = f"sqlite:///{target}"
        name = ""
    seed = Seed(test_settings(url, data_dir), template.keys, world, template.model_version)
    try:
        yield seed
    finally:
        _release(url, data_dir)
        if template.kind == "postgres":
            _dropper.drop(name)
