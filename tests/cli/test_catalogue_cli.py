"""`vcsmatch catalogue ...` through typer's runner on a real temporary database."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from vcsmatch.catalogue.hsds3 import write_hsds3
from vcsmatch.catalogue.ids import public_id
from vcsmatch.catalogue.model import Catalogue, Location, Service
from vcsmatch.cli import app
from vcsmatch.settings import get_settings
from vcsmatch.store import catalogue_versions
from vcsmatch.store.db import dispose_engines, open_store


@pytest.fixture
def cli_env(
    tmp_path: Path, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> Iterator[CliRunner]:
    """A runner whose commands use a fresh database (SQLite file, then PostgreSQL)."""
    monkeypatch.setenv("VCSMATCH_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("VCSMATCH_DATABASE_URL", database_url)
    get_settings.cache_clear()
    yield CliRunner()
    dispose_engines()
    get_settings.cache_clear()


def _catalogue(n: int, prefix: str) -> Catalogue:
    return Catalogue(
        services=[
            Service(
                id=f"{prefix}-{i}",
                name=f"{prefix.title()} club {i}",
                description="A synthetic lunch club.",
                needs=["social-isolation", "nutrition"],
                activities=["cooking"],
                delivery_modes=["in_person"],
                locations=[Location(postcode="RG1 1AA", latitude=51.455, longitude=-0.969)],
            )
            for i in range(n)
        ]
    )


def _hsds_file(path: Path, catalogue: Catalogue, *, bad: bool = False) -> Path:
    records = write_hsds3(catalogue)
    if bad:
        records.append({"id": "broken-1", "name": "Broken", "minimum_age": 90, "maximum_age": 5})
    path.write_text(json.dumps(records), encoding="utf-8")
    return path


def _versions() -> list[catalogue_versions.CatalogueVersion]:
    with open_store(get_settings())() as session:
        return catalogue_versions.list_versions(session)


def test_import_stores_a_new_active_version_and_prints_the_report(
    cli_env: CliRunner, tmp_path: Path
) -> None:
    """A valid file becomes the active version; the report counts what was read."""
    file = _hsds_file(tmp_path / "feed.json", _catalogue(5, "lunch"))
    result = cli_env.invoke(app, ["catalogue", "import", str(file)])
    assert result.exit_code == 0, result.output
    assert "read 5, accepted 5, rejected 0" in result.stdout
    [version] = _versions()
    assert version.active and version.n_services == 5 and version.report["accepted"] == 5


def test_refused_import_exits_1_names_the_record_and_stores_nothing(
    cli_env: CliRunner, tmp_path: Path
) -> None:
    """One bad record refuses the whole file by default; the report names record and field."""
    file = _hsds_file(tmp_path / "feed.json", _catalogue(3, "lunch"), bad=True)
    result = cli_env.invoke(app, ["catalogue", "import", str(file)])
    assert result.exit_code == 1
    assert "broken-1" in result.stdout
    assert _versions() == []


def test_skip_invalid_imports_the_valid_rest_and_still_reports(
    cli_env: CliRunner, tmp_path: Path
) -> None:
    """With --skip-invalid the good records are stored and the bad one is still reported."""
    file = _hsds_file(tmp_path / "feed.json", _catalogue(3, "lunch"), bad=True)
    result = cli_env.invoke(app, ["catalogue", "import", str(file), "--skip-invalid"])
    assert result.exit_code == 0, result.output
    assert "broken-1" in result.stdout and "rejected 1" in result.stdout
    [version] = _versions()
    assert version.n_services == 3
    assert version.report["rejections"][0]["record_id"] == "broken-1"


def test_validate_reports_but_stores_nothing(cli_env: CliRunner, tmp_path: Path) -> None:
    """validate exits 0 for a good file, 1 for a bad one, and never creates a version."""
    good = _hsds_file(tmp_path / "good.json", _catalogue(2, "lunch"))
    bad = _hsds_file(tmp_path / "bad.json", _catalogue(2, "lunch"), bad=True)
    assert cli_env.invoke(app, ["catalogue", "validate", str(good)]).exit_code == 0
    refused = cli_env.invoke(app, ["catalogue", "validate", str(bad)])
    assert refused.exit_code == 1 and "broken-1" in refused.stdout
    assert _versions() == []


def test_export_round_trips_the_active_catalogue(cli_env: CliRunner, tmp_path: Path) -> None:
    """Exported HSDS 3.0 re-imports as the same services."""
    original = _catalogue(4, "lunch")
    cli_env.invoke(app, ["catalogue", "import", str(_hsds_file(tmp_path / "in.json", original))])
    out = tmp_path / "out.json"
    result = cli_env.invoke(app, ["catalogue", "export", "--output", str(out)])
    assert result.exit_code == 0, result.output
    exported = [r["id"] for r in json.loads(out.read_text())]
    assert exported == [public_id("service", s.id, s.source) for s in original.services]
    again = cli_env.invoke(app, ["catalogue", "import", str(out)])
    assert again.exit_code == 0, again.output
    with open_store(get_settings())() as session:
        first, second = (
            catalogue_versions.load_version(session, v.id) for v in reversed(_versions())
        )
    assert second.services == first.services


def test_versions_and_activate_roll_back(cli_env: CliRunner, tmp_path: Path) -> None:
    """After two imports, activating the first serves it again; unknown versions exit 1."""
    cli_env.invoke(
        app, ["catalogue", "import", str(_hsds_file(tmp_path / "a.json", _catalogue(2, "old")))]
    )
    cli_env.invoke(
        app, ["catalogue", "import", str(_hsds_file(tmp_path / "b.json", _catalogue(3, "new")))]
    )
    old_id = _versions()[-1].id
    result = cli_env.invoke(app, ["catalogue", "activate", str(old_id)])
    assert result.exit_code == 0, result.output
    assert [v.active for v in _versions()] == [False, True]
    listing = cli_env.invoke(app, ["catalogue", "versions"])
    assert "a.json" in listing.stdout and "b.json" in listing.stdout
    assert cli_env.invoke(app, ["catalogue", "activate", "9999"]).exit_code == 1


def test_stats_describes_the_active_catalogue(cli_env: CliRunner, tmp_path: Path) -> None:
    """stats prints the service count and per-need counts; an empty store exits 1."""
    assert cli_env.invoke(app, ["catalogue", "stats"]).exit_code == 1
    cli_env.invoke(
        app, ["catalogue", "import", str(_hsds_file(tmp_path / "a.json", _catalogue(3, "lunch")))]
    )
    result = cli_env.invoke(app, ["catalogue", "stats"])
    assert result.exit_code == 0, result.output
    assert "3 services, 3 active" in result.stdout
    assert "social-isolation" in result.stdout and "nutrition" in result.stdout


def test_missing_file_is_a_usage_error(cli_env: CliRunner, tmp_path: Path) -> None:
    """A path that does not exist exits 2 and stores nothing."""
    result = cli_env.invoke(app, ["catalogue", "import", str(tmp_path / "nope.json")])
    assert result.exit_code == 2
    assert _versions() == []


def test_shipped_sample_imports_and_exports_whole(cli_env: CliRunner, tmp_path: Path) -> None:
    """The shipped HSDS 3.0 sample imports with no rejection and exports every service again."""
    from vcsmatch.paths import SAMPLE_DIR

    sample = SAMPLE_DIR / "services.json"
    n = len(json.loads(sample.read_text(encoding="utf-8-sig")))
    result = cli_env.invoke(app, ["catalogue", "import", str(sample)])
    assert result.exit_code == 0, result.output
    assert f"read {n}, accepted {n}, rejected 0" in result.stdout
    out = tmp_path / "export.json"
    assert cli_env.invoke(app, ["catalogue", "export", "-o", str(out)]).exit_code == 0
    assert len(json.loads(out.read_text())) == n


def test_crosswalk_maps_a_council_term_to_our_code(cli_env: CliRunner, tmp_path: Path) -> None:
    """--crosswalk CSV turns a council's own taxonomy term into one of our need codes."""
    record = write_hsds3(_catalogue(1, "club"))[0]
    record["attributes"] = [
        {
            "id": "attr-1",
            "link_id": record["id"],
            "link_type": "service",
            "taxonomy_term": {
                "id": "term-1",
                "code": "SUF-042",
                "name": "Memory cafes",
                "taxonomy": "suffolk-directory",
            },
        }
    ]
    feed = tmp_path / "feed.json"
    feed.write_text(json.dumps([record]), encoding="utf-8")
    crosswalk = tmp_path / "crosswalk.csv"
    crosswalk.write_text(
        "taxonomy,code,label,kind,target\nsuffolk-directory,SUF-042,,need,dementia\n",
        encoding="utf-8",
    )
    result = cli_env.invoke(app, ["catalogue", "import", str(feed), "--crosswalk", str(crosswalk)])
    assert result.exit_code == 0, result.output
    with open_store(get_settings())() as session:
        _, catalogue = catalogue_versions.active_catalogue(session)
    assert "dementia" in catalogue.services[0].needs


def _oruk_feed(path: Path, n: int) -> Path:
    """An ORUK 1.0 page of ``n`` services, one with an empty name and one with an
    ``attending_type`` outside the ORUK enum (as two real council feeds carried)."""
    content = [
        {
            "id": f"oruk-{i}",
            "name": f"Club {i}",
            "status": "active",
            "attending_type": "Venue",
            "service_taxonomys": [],
        }
        for i in range(n)
    ]
    content[3]["name"] = ""
    content[7]["attending_type"] = "Drop-in"
    page = {"totalElements": n, "totalPages": 1, "number": 1, "first": True, "last": True}
    path.write_text(json.dumps({**page, "size": n, "content": content}), encoding="utf-8")
    return path


def test_a_real_feed_with_a_bad_record_imports_by_default(
    cli_env: CliRunner, tmp_path: Path
) -> None:
    """Every valid record is stored and the rejected one is named; the odd enum is a warning."""
    feed = _oruk_feed(tmp_path / "oruk.json", 40)
    result = cli_env.invoke(app, ["catalogue", "import", str(feed)])
    assert result.exit_code == 0, result.output
    assert "#4 oruk-3: name: missing" in result.output
    assert "warning: oruk-7: attending_type: unknown attending type 'Drop-in'" in result.output
    (version,) = _versions()
    with open_store(get_settings())() as session:
        stored = catalogue_versions.load_version(session, version.id)
    assert len(stored) == 39 and "oruk-3" not in stored.ids() and "oruk-7" in stored.ids()


@pytest.mark.parametrize("options", [["--strict"], ["--max-invalid", "2%"]])
def test_strict_or_a_lower_limit_refuses_the_feed(
    cli_env: CliRunner, tmp_path: Path, options: list[str]
) -> None:
    feed = _oruk_feed(tmp_path / "oruk.json", 40)  # 1 of 40 invalid: 2.5%
    result = cli_env.invoke(app, ["catalogue", "import", str(feed), *options])
    assert result.exit_code == 1
    assert "oruk-3: name: missing" in result.output
    assert _versions() == []


def test_max_invalid_must_be_a_share(cli_env: CliRunner, tmp_path: Path) -> None:
    feed = _oruk_feed(tmp_path / "oruk.json", 10)
    result = cli_env.invoke(app, ["catalogue", "import", str(feed), "--max-invalid", "lots"])
    assert result.exit_code == 2
    assert "expected a share" in result.output
