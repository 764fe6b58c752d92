"""CLI fixtures: the environment that points `vcsmatch` at a scratch SQLite store."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from vcsmatch.settings import get_settings
from vcsmatch.store.db import dispose_engines


@pytest.fixture
def store_env(tmp_path: Path, sqlite_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """VCSMATCH_DATA_DIR and VCSMATCH_DATABASE_URL for one test, settings re-read."""
    monkeypatch.setenv("VCSMATCH_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("VCSMATCH_DATABASE_URL", sqlite_url)
    get_settings.cache_clear()
    yield
    dispose_engines()
    get_settings.cache_clear()
