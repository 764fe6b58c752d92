"""`vcsmatch postcodes import|lookup` through typer's runner, on the real packaged data."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from vcsmatch.cli import app
from vcsmatch.features.location import clear_postcode_directories, get_postcode_directory
from vcsmatch.settings import get_settings


@pytest.fixture
def runner(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[CliRunner]:
    """A runner whose data directory is a fresh temporary one."""
    monkeypatch.setenv("VCSMATCH_DATA_DIR", str(tmp_path / "data"))
    get_settings.cache_clear()
    clear_postcode_directories()
    yield CliRunner()
    get_settings.cache_clear()
    clear_postcode_directories()


def test_lookup_prints_coordinates_and_attribution(runner: CliRunner) -> None:
    """A typed postcode prints normalised with its coordinates; the OGL attribution follows."""
    result = runner.invoke(app, ["postcodes", "lookup", "ip11aa"])
    assert result.exit_code == 0, result.output
    key, lat, lon = result.stdout.strip().split("\t")
    assert key == "IP1 1AA"
    assert abs(float(lat) - 52.0526) < 0.001 and abs(float(lon) - 1.1466) < 0.001
    assert "Open Government Licence" in result.stderr


def test_lookup_unknown_postcode_fails_naming_it(runner: CliRunner) -> None:
    """An unknown postcode exits 1 with an error naming it."""
    result = runner.invoke(app, ["postcodes", "lookup", "ZZ1 1ZZ"])
    assert result.exit_code == 1
    assert "ZZ1 1ZZ" in result.stderr


def test_import_then_lookup_uses_the_override(runner: CliRunner, tmp_path: Path) -> None:
    """An imported ONS-style file overrides the packaged data; bad rows are named by line."""
    source = tmp_path / "onspd.csv"
    source.write_text(
        "pcds,doterm,lat,long,oslaua\n"
        "IP1 1AA,,52.100000,1.200000,E07000202\n"
        "BT1 1AA,,54.597000,-5.930000,N09000003\n"
        "IP1 ???,,52.0,1.1,E07000202\n",
        encoding="utf-8",
    )
    result = runner.invoke(app, ["postcodes", "import", str(source)])
    assert result.exit_code == 0, result.output
    assert "imported 2 postcodes" in result.stdout
    assert "onspd.csv line 4" in result.stderr
    assert (Path(get_settings().data_dir) / "postcodes" / "ip.csv").exists()
    result = runner.invoke(app, ["postcodes", "lookup", "bt1 1aa"])
    assert result.stdout.strip() == "BT1 1AA\t54.597000\t-5.930000"
    assert get_postcode_directory().lookup("IP1 1AA") == pytest.approx((52.1, 1.2))


def test_import_refuses_a_file_without_coordinates(runner: CliRunner, tmp_path: Path) -> None:
    """A header with a postcode column but no latitude is refused, importing nothing."""
    source = tmp_path / "bad.csv"
    source.write_text("pcds,ward\nIP1 1AA,x\n", encoding="utf-8")
    result = runner.invoke(app, ["postcodes", "import", str(source)])
    assert result.exit_code == 1
    assert "latitude" in result.stderr
    assert not (Path(get_settings().data_dir) / "postcodes" / "ip.csv").exists()


def test_import_missing_file(runner: CliRunner, tmp_path: Path) -> None:
    """A path that does not exist is a usage error (exit 2)."""
    result = runner.invoke(app, ["postcodes", "import", str(tmp_path / "nope.csv")])
    assert result.exit_code == 2
