"""`vcsmatch synthetic | train | recommend | evaluate` end to end, on a small synthetic world."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from typer.testing import CliRunner

from vcsmatch.catalogue.hsds3 import read_hsds3
from vcsmatch.cli import app
from vcsmatch.files import read_people, read_recommendations
from vcsmatch.settings import get_settings

runner = CliRunner()


@pytest.fixture(scope="module")
def world_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small world written by the command itself."""
    out = tmp_path_factory.mktemp("world")
    result = runner.invoke(
        app,
        [
            "synthetic",
            "--output",
            str(out),
            "--services",
            "60",
            "--people",
            "200",
            "--new-people",
            "30",
            "--seed",
            "5",
        ],
    )
    assert result.exit_code == 0, result.output
    return out


@pytest.fixture(scope="module")
def model_dir(world_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A model trained with the contract's exact command form."""
    model = tmp_path_factory.mktemp("model") / "model"
    result = runner.invoke(
        app,
        [
            "train",
            "--catalogue",
            str(world_dir / "services.json"),
            "--people",
            str(world_dir / "people.csv"),
            "--ratings",
            str(world_dir / "ratings.csv"),
            "--model-dir",
            str(model),
        ],
    )
    assert result.exit_code == 0, result.output
    return model


def test_synthetic_writes_the_four_files(world_dir: Path):
    """The command writes a catalogue, people, ratings and new people that read back."""
    assert {p.name for p in world_dir.iterdir()} >= {
        "services.json",
        "people.csv",
        "ratings.csv",
        "new_people.csv",
    }
    assert len(read_hsds3(world_dir / "services.json").catalogue) == 60
    assert len(read_people(world_dir / "new_people.csv")) == 30


def test_train_saves_a_model_with_held_out_metrics(model_dir: Path):
    """train evaluates on held-out people, then saves the model with those metrics."""
    from vcsmatch.ranking.recommender import Recommender

    model = Recommender.load(model_dir)
    assert 0.0 < model.metrics_["ndcg@10"] <= 1.0
    assert "ndcg@10:nearest" in model.metrics_
    assert model.n_ratings_ > 0


def test_recommend_writes_recs_csv_for_everyone(world_dir: Path, model_dir: Path, tmp_path: Path):
    """recommend writes person_id,rank,service_id,score,reasons: ranked, known services."""
    recs_path = tmp_path / "recs.csv"
    result = runner.invoke(
        app,
        [
            "recommend",
            "--catalogue",
            str(world_dir / "services.json"),
            "--model-dir",
            str(model_dir),
            "--people",
            str(world_dir / "new_people.csv"),
            "--top-k",
            "5",
            "--output",
            str(recs_path),
        ],
    )
    assert result.exit_code == 0, result.output
    with recs_path.open(newline="") as fh:
        assert next(csv.reader(fh)) == ["person_id", "rank", "service_id", "score", "reasons"]
    recs = read_recommendations(recs_path)
    people = read_people(world_dir / "new_people.csv")
    catalogue = read_hsds3(world_dir / "services.json").catalogue
    assert set(recs["person_id"]) <= {p.reference for p in people}
    assert recs["person_id"].nunique() >= len(people) - 2
    assert set(recs["service_id"]) <= set(catalogue.ids())
    for _, group in recs.groupby("person_id"):
        assert group["rank"].tolist() == list(range(1, len(group) + 1))
        assert len(group) <= 5
        assert group["score"].is_monotonic_decreasing
    assert (recs["reasons"].str.len() > 0).mean() > 0.9


def test_people_without_location_get_only_services_that_reach_them(
    world_dir: Path, model_dir: Path, tmp_path: Path
):
    """A person with no postcode or coordinates gets online, phone or home-visit services."""
    people = tmp_path / "people.csv"
    people.write_text(
        "person_id,postcode,latitude,longitude,age,sex,needs,strengths\n"
        "x1,,,,82,female,social-isolation;mental-wellbeing,music\n"
        "x2,,,,35,male,money-advice,\n",
        encoding="utf-8",
    )
    recs_path = tmp_path / "recs.csv"
    result = runner.invoke(
        app,
        [
            "recommend",
            "--catalogue",
            str(world_dir / "services.json"),
            "--model-dir",
            str(model_dir),
            "--people",
            str(people),
            "--top-k",
            "10",
            "--output",
            str(recs_path),
        ],
    )
    assert result.exit_code == 0, result.output
    by_id = {s.id: s for s in read_hsds3(world_dir / "services.json").catalogue}
    recs = read_recommendations(recs_path)
    assert len(recs) > 0
    for service_id in recs["service_id"]:
        modes = set(by_id[service_id].delivery_modes)
        assert modes & {"online", "phone", "home_visit"}


def test_train_refuses_bad_ratings_with_line_numbers(world_dir: Path, tmp_path: Path):
    """A ratings file with bad rows exits 1, lists each line, and saves no model."""
    bad = tmp_path / "ratings.csv"
    lines = (world_dir / "ratings.csv").read_text(encoding="utf-8").splitlines()
    lines[3] = lines[3].replace(lines[3].split(",")[1], "no-such-service")
    parts = lines[5].split(",")
    parts[2] = "9"
    lines[5] = ",".join(parts)
    bad.write_text("\n".join(lines) + "\n", encoding="utf-8")
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
            str(bad),
            "--model-dir",
            str(model),
        ],
    )
    assert result.exit_code == 1
    assert "line 4: field 'service_id'" in result.output
    assert "line 6: field 'rating'" in result.output
    assert not model.exists()


def test_recommend_refuses_a_missing_model(world_dir: Path, tmp_path: Path):
    """A model directory that holds no model is exit code 1 with a reason, not a traceback."""
    result = runner.invoke(
        app,
        [
            "recommend",
            "--catalogue",
            str(world_dir / "services.json"),
            "--model-dir",
            str(tmp_path / "nothing"),
            "--people",
            str(world_dir / "new_people.csv"),
            "--output",
            str(tmp_path / "recs.csv"),
        ],
    )
    assert result.exit_code == 1
    assert "refused" in result.output
    assert not (tmp_path / "recs.csv").exists()


def test_evaluate_writes_the_report(world_dir: Path, model_dir: Path, tmp_path: Path):
    """evaluate compares the model with the baselines and writes the HTML report."""
    report = tmp_path / "report.html"
    result = runner.invoke(
        app,
        [
            "evaluate",
            "--catalogue",
            str(world_dir / "services.json"),
            "--people",
            str(world_dir / "people.csv"),
            "--ratings",
            str(world_dir / "ratings.csv"),
            "--model-dir",
            str(model_dir),
            "--report",
            str(report),
            "--split",
            "time",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "model / nearest" in result.output
    # the exposure-fair figure comes first, and the logged-rating one says why it misleads
    fair = result.output.index("model / nearest (rated_ndcg)")
    assert fair < result.output.index("model / nearest (ndcg on logged ratings)")
    assert "favours the old tool" in result.output
    assert "0 specialist suggestions without their need" in result.output
    # the off-policy figure, with what it is and where its propensities came from
    assert "model snips@10:" in result.output and "model / nearest (snips)" in result.output
    assert "estimated from the ratings" in result.output
    text = report.read_text(encoding="utf-8")
    assert "data:image/png;base64," in text and "by time" in text
    assert "snips@10" in text and "favours the old tool" in text


def test_evaluate_refuses_an_exposure_log_with_a_bad_propensity(world_dir: Path, tmp_path: Path):
    """--exposures with a propensity of 0 is refused, naming the row, before any fitting."""
    shown = tmp_path / "exposures.csv"
    shown.write_text("person_id,service_id,propensity\np1,s1,0.5\np2,s2,0\n", encoding="utf-8")
    files = ["services.json", "people.csv", "ratings.csv"]
    options = ["--catalogue", "--people", "--ratings"]
    args = [a for o, f in zip(options, files, strict=True) for a in (o, str(world_dir / f))]
    report = ["--report", str(tmp_path / "report.html")]
    result = runner.invoke(app, ["evaluate", *args, *report, "--exposures", str(shown)])
    assert result.exit_code == 1
    assert "Exposure row 2: 'propensity'" in result.output
    assert not (tmp_path / "report.html").exists()


def _store_the_world(world_dir: Path):  # noqa: ANN202 - the stored ratings' frame
    """The world's catalogue (active) and its ratings, stored in the store of the environment."""
    from vcsmatch.catalogue.importing import import_file
    from vcsmatch.files import read_ratings
    from vcsmatch.store import catalogue_versions, ratings_log, secrets
    from vcsmatch.store.db import open_store
    from vcsmatch.store.demo import _rating_of

    catalogue = import_file(world_dir / "services.json", "hsds3").catalogue
    frame = read_ratings(
        world_dir / "ratings.csv", read_people(world_dir / "people.csv"), catalogue
    )
    with open_store(get_settings())() as session:
        catalogue_versions.save_catalogue(session, catalogue, source="test")
        secret = secrets.get_secret(session, get_settings())
        new = [_rating_of(i, row) for i, row in enumerate(frame.itertuples(index=False))]
        ratings_log.add_ratings(session, new, secret=secret)
    return frame


def test_train_from_store_and_register(world_dir: Path, tmp_path: Path, store_env: None):
    """--from-store trains on the ratings log and --register adds the model to the registry."""
    from vcsmatch.store import model_registry
    from vcsmatch.store.db import open_store

    frame = _store_the_world(world_dir)
    sessions = open_store(get_settings())

    model = tmp_path / "model"
    result = runner.invoke(
        app, ["train", "--from-store", "--register", "--no-evaluate", "--model-dir", str(model)]
    )
    assert result.exit_code == 0, result.output
    with sessions() as session:
        records = model_registry.list_models(session)
    assert len(records) == 1 and records[0].n_ratings == len(frame)
    assert "registered as model version" in result.output


def test_the_same_commands_run_on_an_online_only_world(tmp_path: Path):
    """Every service online, nobody located: synthetic, train and recommend run unchanged."""
    world = tmp_path / "online"
    steps = [
        [
            "synthetic",
            "--output",
            str(world),
            "--services",
            "40",
            "--people",
            "120",
            "--new-people",
            "10",
            "--seed",
            "2",
            "--online-only",
        ],
        [
            "train",
            "--catalogue",
            str(world / "services.json"),
            "--people",
            str(world / "people.csv"),
            "--ratings",
            str(world / "ratings.csv"),
            "--model-dir",
            str(tmp_path / "model"),
            "--no-evaluate",
        ],
        [
            "recommend",
            "--catalogue",
            str(world / "services.json"),
            "--model-dir",
            str(tmp_path / "model"),
            "--people",
            str(world / "new_people.csv"),
            "--top-k",
            "10",
            "--output",
            str(tmp_path / "recs.csv"),
        ],
    ]
    for args in steps:
        result = runner.invoke(app, args)
        assert result.exit_code == 0, result.output
    recs = read_recommendations(tmp_path / "recs.csv")
    assert recs["person_id"].nunique() == 10
    assert (recs.groupby("person_id").size() == 10).all()


def test_recommend_accepts_a_top_k_as_large_as_a_big_catalogue(
    world_dir: Path, model_dir: Path, tmp_path: Path
):
    """--top-k 5000 (more than any fixed cap, as large as a county's catalogue) is accepted
    and gives each person their whole ranked candidate list, no longer than the catalogue."""
    recs_path = tmp_path / "all.csv"
    result = runner.invoke(
        app,
        [
            "recommend",
            "--catalogue",
            str(world_dir / "services.json"),
            "--model-dir",
            str(model_dir),
            "--people",
            str(world_dir / "new_people.csv"),
            "--top-k",
            "5000",
            "--output",
            str(recs_path),
        ],
    )
    assert result.exit_code == 0, result.output
    recs = read_recommendations(recs_path)
    n_services = len(read_hsds3(world_dir / "services.json").catalogue)
    per_person = recs.groupby("person_id").size()
    assert per_person.max() <= n_services
    assert per_person.max() > 10


def test_finding10_train_takes_the_ratings_export_as_it_is(
    world_dir: Path, tmp_path: Path, store_env: None
):
    """The data scientist's README path: export the ratings log as CSV through the API, then
    `vcsmatch train --ratings ratings.csv` (with or without --people) trains on it as it is:
    each row carries its person's features under the hashed person id."""
    from fastapi.testclient import TestClient

    from api.main import create_app
    from vcsmatch.store import api_keys
    from vcsmatch.store.db import open_store

    frame = _store_the_world(world_dir)
    settings = get_settings()
    with open_store(settings)() as session:
        analyst, _ = api_keys.create_key(session, "analyst", "data scientist")
    with TestClient(create_app(settings)) as client:
        export = client.get(
            "/v1/ratings/export?format=csv", headers={"Authorization": f"Bearer {analyst}"}
        )
    assert export.status_code == 200
    exported = tmp_path / "ratings.csv"
    exported.write_bytes(export.content)

    for people in ([], ["--people", str(world_dir / "people.csv")]):
        model = tmp_path / f"model{len(people)}"
        result = _train(
            world_dir,
            *people,
            "--ratings",
            str(exported),
            "--no-evaluate",
            "--model-dir",
            str(model),
        )
        assert result.exit_code == 0, result.output
        assert f"{len(frame)} ratings of" in result.output
        assert "is not in the people file" not in result.output


def test_finding10_file_errors_name_the_unknown_code(world_dir: Path, tmp_path: Path):
    """A need code that is not in the taxonomy is named in the refusal, with its line."""
    people = (world_dir / "people.csv").read_text(encoding="utf-8").splitlines()
    header = people[0].split(",")
    first = next(csv.reader([people[1]]))
    first[header.index("needs")] = "lonelyness"
    bad = tmp_path / "people.csv"
    with bad.open("w", newline="", encoding="utf-8") as fh:
        csv.writer(fh).writerows([header, first])
    result = _train(
        world_dir,
        "--people",
        str(bad),
        "--ratings",
        str(world_dir / "ratings.csv"),
        "--model-dir",
        str(tmp_path / "model"),
    )
    assert result.exit_code != 0
    assert "'lonelyness' is not a need code of the taxonomy" in result.output, result.output
    assert "line 2" in result.output


def _train(world_dir: Path, *args: str):  # noqa: ANN202 - typer's Result
    """`vcsmatch train --catalogue <the world's services> ARGS...`."""
    return runner.invoke(app, ["train", "--catalogue", str(world_dir / "services.json"), *args])


def test_recommend_top_k_of_the_catalogue_size_ranks_every_candidate(tmp_path: Path):
    """Issue 14: `recommend --top-k <catalogue size>` on an online-only world (public rating
    data's shape: no location) lists every eligible service once per person, and its first
    ten are the `--top-k 10` list."""
    from vcsmatch.ranking.recommender import Recommender

    world, model = tmp_path / "world", tmp_path / "model"
    steps = [
        ["synthetic", "--output", str(world), "--services", "40", "--people", "150",
         "--new-people", "8", "--online-only", "--seed", "2"],
        ["train", "--catalogue", str(world / "services.json"), "--people",
         str(world / "people.csv"), "--ratings", str(world / "ratings.csv"), "--model-dir",
         str(model), "--no-evaluate"],
    ]  # fmt: skip
    for args in steps:
        result = runner.invoke(app, args)
        assert result.exit_code == 0, result.output
    n_services = len(read_hsds3(world / "services.json").catalogue)
    lists = {}
    for k in (10, n_services):
        out = tmp_path / f"recs{k}.csv"
        result = runner.invoke(
            app,
            ["recommend", "--catalogue", str(world / "services.json"), "--model-dir",
             str(model), "--people", str(world / "new_people.csv"), "--top-k", str(k),
             "--output", str(out)],
        )  # fmt: skip
        assert result.exit_code == 0, result.output
        recs = read_recommendations(out).sort_values(["person_id", "rank"])
        lists[k] = {pid: list(g["service_id"]) for pid, g in recs.groupby("person_id")}
    fitted = Recommender.load(model)
    people = read_people(world / "new_people.csv")
    assert len(lists[n_services]) == len(people)
    for person in people:
        full = lists[n_services][person.reference]
        eligible = fitted.candidates_.find(person, None, fitted.default_radius_km).rows
        assert len(full) == len(set(full)) == len(eligible) > 10
        assert full[:10] == lists[10][person.reference]
