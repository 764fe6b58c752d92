"""`vcsmatch catalogue import` on an empty store, `train` with no ratings, `learn --once`,
`model history` and `model rollback`: the learning loop from a shell."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from vcsmatch.cli import app
from vcsmatch.settings import get_settings

runner = CliRunner()


@pytest.fixture(scope="module")
def world_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("world")
    result = runner.invoke(
        app,
        ["synthetic", "--output", str(out), "--services", "60", "--people", "250", "--seed", "4"],
    )
    assert result.exit_code == 0, result.output
    return out


@pytest.fixture
def learning_env(store_env: None, monkeypatch: pytest.MonkeyPatch) -> None:
    """The scratch store, with a learner that is due after 100 new ratings at once."""
    monkeypatch.setenv("VCSMATCH_LEARN_MIN_NEW_RATINGS", "100")
    monkeypatch.setenv("VCSMATCH_LEARN_INTERVAL_SECONDS", "0")
    get_settings.cache_clear()


def _store_ratings(world_dir: Path) -> int:
    from vcsmatch.files import read_people, read_ratings
    from vcsmatch.store import catalogue_versions, ratings_log, secrets
    from vcsmatch.store.db import open_store
    from vcsmatch.store.demo import _rating_of

    with open_store(get_settings())() as session:
        catalogue = catalogue_versions.active_catalogue(session)[1]
        frame = read_ratings(
            world_dir / "ratings.csv", read_people(world_dir / "people.csv"), catalogue
        )
        secret = secrets.get_secret(session, get_settings())
        new = [_rating_of(i, row) for i, row in enumerate(frame.itertuples(index=False))]
        ratings_log.add_ratings(session, new, secret=secret)
    return len(frame)


def test_train_with_no_ratings_builds_the_day_one_model(world_dir: Path, tmp_path: Path) -> None:
    """`train` on a ratings file with a header only says so and saves a model that ranks."""
    empty = tmp_path / "ratings.csv"
    empty.write_text("person_id,service_id,rating,practitioner_id,rated_at\n")
    model = tmp_path / "model"
    result = runner.invoke(
        app,
        [
            "train",
            "--catalogue",
            str(world_dir / "services.json"),
            "--people",
            str(world_dir / "people.csv"),
            "--ratings",
            str(empty),
            "--model-dir",
            str(model),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "no ratings yet: building the day-one model" in result.output
    recs = tmp_path / "recs.csv"
    result = runner.invoke(
        app,
        [
            "recommend",
            "--catalogue",
            str(world_dir / "services.json"),
            "--model-dir",
            str(model),
            "--people",
            str(world_dir / "new_people.csv"),
            "--output",
            str(recs),
        ],
    )
    assert result.exit_code == 0, result.output
    assert len(recs.read_text().splitlines()) > 10


def test_import_learn_history_and_rollback(world_dir: Path, learning_env: None) -> None:
    """Importing into an empty store serves a day-one model; `learn --once` is not due until
    ratings arrive, then retrains through the gate; history lists both; rollback serves the
    day-one model again."""
    from vcsmatch.store import model_registry
    from vcsmatch.store.db import open_store

    result = runner.invoke(app, ["catalogue", "import", str(world_dir / "services.json")])
    assert result.exit_code == 0, result.output
    assert "day-one model" in result.output
    with open_store(get_settings())() as session:
        day_one = model_registry.serving_version(session)
    assert day_one is not None

    result = runner.invoke(app, ["learn", "--once"])
    assert result.exit_code == 0, result.output
    assert "not-due" in result.output

    assert _store_ratings(world_dir) >= 100
    result = runner.invoke(app, ["learn", "--once"])
    assert result.exit_code == 0, result.output
    assert "learner: promoted" in result.output
    with open_store(get_settings())() as session:
        learned = model_registry.serving_version(session)
    assert learned != day_one

    result = runner.invoke(app, ["model", "history"])
    assert result.exit_code == 0, result.output
    assert f"serving: {learned}" in result.output
    assert "day-one" in result.output and "once" in result.output

    result = runner.invoke(app, ["model", "rollback", day_one])
    assert result.exit_code == 0, result.output
    with open_store(get_settings())() as session:
        assert model_registry.serving_version(session) == day_one
        assert model_registry.list_attempts(session)[0].trigger == "rollback"
    result = runner.invoke(app, ["model", "rollback", "no-such-version"])
    assert result.exit_code == 1 and "no model with version" in result.output
