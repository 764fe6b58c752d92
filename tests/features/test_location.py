"""Postcodes to coordinates on the real packaged Code-Point Open data, and overrides."""

from __future__ import annotations

import math
import re
from pathlib import Path

import pytest
from hypothesis import given
from strategies import postcode_like, postcode_text

from vcsmatch.errors import DataError, PostcodeError
from vcsmatch.features.geo import haversine_km
from vcsmatch.features.location import (
    PostcodeDirectory,
    get_postcode_directory,
    import_overrides,
    locate,
    normalise_postcode,
    packaged_data_dir,
)
from vcsmatch.features.person import Person
from vcsmatch.settings import Settings


def bng_to_wgs84(easting: float, northing: float) -> tuple[float, float]:
    """Ordnance Survey's published inverse Transverse Mercator (Airy 1830) and Helmert shift.

    An independent check on pyproj: written from OS's "A guide to coordinate systems in Great
    Britain", accurate to a few metres, which is all these tests claim.
    """
    a, b, f0 = 6377563.396, 6356256.909, 0.9996012717
    lat0, lon0, n0, e0 = math.radians(49), math.radians(-2), -100000.0, 400000.0
    e2 = 1 - b * b / (a * a)
    n = (a - b) / (a + b)

    def meridional(phi: float) -> float:
        d, s = phi - lat0, phi + lat0
        return (
            b
            * f0
            * (
                (1 + n + 1.25 * n**2 + 1.25 * n**3) * d
                - (3 * n + 3 * n**2 + 21 / 8 * n**3) * math.sin(d) * math.cos(s)
                + (15 / 8 * n**2 + 15 / 8 * n**3) * math.sin(2 * d) * math.cos(2 * s)
                - 35 / 24 * n**3 * math.sin(3 * d) * math.cos(3 * s)
            )
        )

    phi, m = lat0, 0.0
    while True:
        phi = (northing - n0 - m) / (a * f0) + phi
        m = meridional(phi)
        if abs(northing - n0 - m) < 1e-5:
            break
    sin, tan, sec = math.sin(phi), math.tan(phi), 1 / math.cos(phi)
    nu = a * f0 / math.sqrt(1 - e2 * sin**2)
    rho = a * f0 * (1 - e2) / (1 - e2 * sin**2) ** 1.5
    eta2 = nu / rho - 1
    de = easting - e0
    vii = tan / (2 * rho * nu)
    viii = tan / (24 * rho * nu**3) * (5 + 3 * tan**2 + eta2 - 9 * tan**2 * eta2)
    ix = tan / (720 * rho * nu**5) * (61 + 90 * tan**2 + 45 * tan**4)
    x = sec / nu
    xi = sec / (6 * nu**3) * (nu / rho + 2 * tan**2)
    xii = sec / (120 * nu**5) * (5 + 28 * tan**2 + 24 * tan**4)
    xiia = sec / (5040 * nu**7) * (61 + 662 * tan**2 + 1320 * tan**4 + 720 * tan**6)
    lat = phi - vii * de**2 + viii * de**4 - ix * de**6
    lon = lon0 + x * de - xi * de**3 + xii * de**5 - xiia * de**7
    # OSGB36 geodetic -> cartesian -> Helmert (OSGB36 to WGS84) -> WGS84 geodetic.
    nu_h = a / math.sqrt(1 - e2 * math.sin(lat) ** 2)
    cx = nu_h * math.cos(lat) * math.cos(lon)
    cy = nu_h * math.cos(lat) * math.sin(lon)
    cz = (1 - e2) * nu_h * math.sin(lat)
    tx, ty, tz, s = 446.448, -125.157, 542.060, -20.4894e-6
    rx, ry, rz = (math.radians(v / 3600) for v in (0.1502, 0.2470, 0.8421))
    x2 = tx + (1 + s) * cx - rz * cy + ry * cz
    y2 = ty + rz * cx + (1 + s) * cy - rx * cz
    z2 = tz - ry * cx + rx * cy + (1 + s) * cz
    a2, b2 = 6378137.0, 6356752.3141
    e2w = 1 - b2 * b2 / (a2 * a2)
    p = math.hypot(x2, y2)
    lat = math.atan2(z2, p * (1 - e2w))
    for _ in range(10):
        nu_w = a2 / math.sqrt(1 - e2w * math.sin(lat) ** 2)
        lat = math.atan2(z2 + e2w * nu_w * math.sin(lat), p)
    return math.degrees(lat), math.degrees(math.atan2(y2, x2))


def packaged_row(postcode: str) -> tuple[int, int, int]:
    """The raw Code-Point Open row (quality, easting, northing) for ``postcode``."""
    import gzip

    area = re.match(r"[A-Z]+", postcode).group(0).lower()
    with gzip.open(packaged_data_dir() / f"{area}.csv.gz", "rt") as fh:
        for line in fh:
            code, quality, east, north = line.strip().split(",")
            if code == postcode:
                return int(quality), int(east), int(north)
    raise LookupError(postcode)


@pytest.fixture(scope="module")
def directory() -> PostcodeDirectory:
    """The packaged data with no overrides, shared by this module's tests."""
    return PostcodeDirectory()


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("e58aa", "E5 8AA"),
        (" E5  8AA ", "E5 8AA"),
        ("e5", "E5"),
        (" ip1 1aa", "IP1 1AA"),
        ("EC1A1BB", "EC1A 1BB"),
        ("sw1a 2aa", "SW1A 2AA"),
        ("W1", "W1"),
    ],
)
def test_normalise_postcode_accepts_what_people_type(typed: str, expected: str) -> None:
    """Case and spacing do not matter, and an outward code alone stays an outward code."""
    assert normalise_postcode(typed) == expected


@pytest.mark.parametrize("bad", ["", "   ", "12345", "IP1 1A", "IPSWICH", "IP1 1AAA", "1P1 1AA"])
def test_normalise_postcode_rejects_malformed_text(bad: str) -> None:
    """Text that cannot be a postcode is a PostcodeError naming what was typed."""
    with pytest.raises(PostcodeError) as info:
        normalise_postcode(bad)
    assert info.value.postcode == bad


@given(postcode_text)
def test_normalise_postcode_is_idempotent(text: str) -> None:
    """Normalising a normalised postcode changes nothing (and bad text always fails alike)."""
    try:
        once = normalise_postcode(text)
    except PostcodeError:
        return
    assert normalise_postcode(once) == once


@given(postcode_like())
def test_well_formed_postcodes_always_normalise(text: str) -> None:
    """Every well-formed postcode, however spaced or cased, normalises to upper case."""
    out = normalise_postcode(text)
    assert out == out.upper().strip()
    assert "  " not in out


@pytest.mark.parametrize("postcode", ["IP1 1AA", "IP4 2BS", "CB2 1TN", "EC1A 1BB", "E5 8AB"])
def test_lookup_matches_the_os_grid_reference(directory: PostcodeDirectory, postcode: str) -> None:
    """A unit postcode's coordinates are its Code-Point Open grid reference in WGS84 (< 20 m)."""
    quality, east, north = packaged_row(postcode)
    expected = bng_to_wgs84(east, north)
    lat, lon = directory.lookup(postcode.lower().replace(" ", ""))
    assert haversine_km(lat, lon, *expected) < 0.02


def test_ipswich_postcode_is_in_ipswich(directory: PostcodeDirectory) -> None:
    """IP1 1AA lands in central Ipswich (Cornhill is at about 52.0592, 1.1555)."""
    lat, lon = directory.lookup("IP1 1AA")
    assert haversine_km(lat, lon, 52.0592, 1.1555) < 1.5


def test_outward_code_is_the_centroid_of_its_postcodes(directory: PostcodeDirectory) -> None:
    """ "IP1" resolves to the mean position of IP1's unit postcodes, not to any one of them."""
    units = [p for p in directory.unit_postcodes("IP") if p.startswith("IP1 ")]
    coords = directory.lookup_many(units)
    lat, lon = directory.lookup("ip1")
    assert len(units) > 100
    assert haversine_km(lat, lon, coords[:, 0].mean(), coords[:, 1].mean()) < 0.05
    assert "IP1" in directory.outward_codes("IP")


@pytest.mark.parametrize("unknown", ["ZZ1 1ZZ", "IP1 7ZZ", "ZZ9", "BT1 1AA"])
def test_unknown_postcode_is_an_error_naming_it(directory: PostcodeDirectory, unknown: str) -> None:
    """A well-formed postcode that is not in the data raises, never returns (0, 0)."""
    with pytest.raises(PostcodeError, match=unknown):
        directory.lookup(unknown)
    assert unknown not in directory


def test_northern_ireland_postcode_explains_how_to_add_it(directory: PostcodeDirectory) -> None:
    """Code-Point Open has no BT postcodes: the error says to import them."""
    with pytest.raises(PostcodeError, match="vcsmatch postcodes import"):
        directory.lookup("BT1 1AA")


def test_postcode_without_coordinates_is_unknown(directory: PostcodeDirectory) -> None:
    """Code-Point Open rows with quality 90 (eastings 0) have no position: treated as unknown."""
    quality, east, _ = packaged_row("AB43 1AG")
    assert (quality, east) == (90, 0)
    with pytest.raises(PostcodeError):
        directory.lookup("AB43 1AG")


def test_malformed_postcode_is_an_error(directory: PostcodeDirectory) -> None:
    """Text that is not a postcode fails before any lookup, with the postcode named."""
    with pytest.raises(PostcodeError, match="not-a-postcode"):
        directory.lookup("not-a-postcode")


def test_lookup_many_coerces_or_raises(directory: PostcodeDirectory) -> None:
    """Bulk lookup gives NaN rows for bad postcodes only when asked to coerce."""
    out = directory.lookup_many(["IP1 1AA", "ZZ1 1ZZ", "junk"], errors="coerce")
    assert out.shape == (3, 2)
    assert not math.isnan(out[0, 0]) and math.isnan(out[1, 0]) and math.isnan(out[2, 1])
    with pytest.raises(PostcodeError):
        directory.lookup_many(["IP1 1AA", "ZZ1 1ZZ"])


def write_csv(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_overrides_import_wins_over_packaged_data(tmp_path: Path) -> None:
    """An imported ONS-style file overrides a packaged postcode and adds a new one (BT)."""
    settings = Settings(data_dir=tmp_path)
    source = write_csv(
        tmp_path / "onspd.csv",
        "pcd,pcds,doterm,lat,long\n"
        "IP1  1AA,IP1 1AA,,52.1000,1.2000\n"
        "BT1 1AA,BT1 1AA,,54.5970,-5.9300\n"
        "BT1 1AB,BT1 1AB,201901,54.5,-5.9\n"
        "XX,XX,,52,1\n"
        "IP1 1AF,IP1 1AF,,not-a-number,1\n"
        "IP1 1AG,IP1 1AG,,99.999999,0.000000\n",
    )
    result = import_overrides(source, settings=settings)
    assert result.accepted == 2
    assert result.skipped_terminated == 1
    assert [(e.line, e.field) for e in result.rejected] == [
        (5, "postcode"),
        (6, "latitude"),
        (7, "latitude"),
    ]
    directory = get_postcode_directory(settings)
    assert directory.lookup("ip11aa") == pytest.approx((52.1, 1.2))
    assert directory.lookup("BT1 1AA") == pytest.approx((54.597, -5.93))
    assert directory.lookup("BT1") == pytest.approx((54.597, -5.93))
    assert directory.lookup("IP1 1AF") != pytest.approx((52.1, 1.2))  # rejected: packaged kept


def test_overrides_accept_a_headerless_three_column_csv(tmp_path: Path) -> None:
    """Any CSV of postcode, latitude, longitude works, even without a header row."""
    settings = Settings(data_dir=tmp_path)
    source = write_csv(tmp_path / "plain.csv", "GY1 1AA,49.4550,-2.5360\ngy11ab,49.456,-2.537\n")
    result = import_overrides(source, settings=settings)
    assert result.accepted == 2 and not result.rejected
    assert get_postcode_directory(settings).lookup("GY1 1AB") == pytest.approx((49.456, -2.537))


def test_a_second_import_merges_and_is_seen_by_the_shared_directory(tmp_path: Path) -> None:
    """Importing again keeps earlier overrides and the shared directory sees the new ones."""
    settings = Settings(data_dir=tmp_path)
    directory = get_postcode_directory(settings)
    import_overrides(
        write_csv(tmp_path / "a.csv", "postcode,latitude,longitude\nBT2 1AA,54.59,-5.93\n"),
        settings=settings,
    )
    assert directory.lookup("BT2 1AA") == pytest.approx((54.59, -5.93))
    import_overrides(
        write_csv(tmp_path / "b.csv", "postcode,latitude,longitude\nBT3 1AA,54.6,-5.9\n"),
        settings=settings,
    )
    assert directory.lookup("BT3 1AA") == pytest.approx((54.6, -5.9))
    assert directory.lookup("BT2 1AA") == pytest.approx((54.59, -5.93))


def test_locate_prefers_coordinates_then_postcode(tmp_path: Path) -> None:
    """Coordinates win over a postcode; a postcode is looked up; nothing gives None."""
    settings = Settings(data_dir=tmp_path)
    assert locate(Person(latitude=52.0, longitude=1.0, postcode="IP1 1AA"), settings=settings) == (
        52.0,
        1.0,
    )
    lat, lon = locate(Person(postcode="ip1 1aa"), settings=settings)
    assert haversine_km(lat, lon, 52.0592, 1.1555) < 1.5
    assert locate(Person(), settings=settings) is None


def test_locate_does_not_geocode_addresses_unless_enabled(tmp_path: Path) -> None:
    """An address in the postcode field is a PostcodeError while the geocoder is off (default)."""
    settings = Settings(data_dir=tmp_path)
    assert settings.geocoder_enabled is False
    with pytest.raises(PostcodeError):
        locate(Person(postcode="Town Hall"), settings=settings)


def test_locate_geocodes_addresses_when_enabled(tmp_path: Path) -> None:
    """With the geocoder on, a non-postcode address goes to the geopy geocoder given."""

    class Found:
        latitude, longitude = 52.0579, 1.1535

    class Geocoder:  # a geopy-shaped geocoder that records what it was asked; no network
        asked: list[str] = []

        def geocode(self, query: str, **kwargs: object) -> Found | None:
            self.asked.append(query)
            return Found() if "Town Hall" in query else None

    settings = Settings(data_dir=tmp_path, geocoder_enabled=True)
    geo = Geocoder()
    assert locate(Person(postcode="Town Hall"), settings=settings, geocoder=geo) == (
        52.0579,
        1.1535,
    )
    with pytest.raises(PostcodeError):  # a well-formed but unknown postcode is never geocoded
        locate(Person(postcode="ZZ1 1ZZ"), settings=settings, geocoder=geo)
    assert geo.asked == ["Town Hall"]


def test_replace_drops_earlier_imports(tmp_path: Path) -> None:
    """--replace forgets what was imported before; merging (the default) keeps it."""
    settings = Settings(data_dir=tmp_path)
    first = write_csv(tmp_path / "a.csv", "postcode,latitude,longitude\nBT4 1AA,54.6,-5.9\n")
    second = write_csv(tmp_path / "b.csv", "postcode,latitude,longitude\nBT5 1AA,54.5,-5.8\n")
    import_overrides(first, settings=settings)
    import_overrides(second, settings=settings, replace=True)
    directory = get_postcode_directory(settings)
    assert directory.lookup("BT5 1AA") == pytest.approx((54.5, -5.8))
    with pytest.raises(PostcodeError):
        directory.lookup("BT4 1AA")


def test_unreadable_file_is_refused_and_imports_nothing(tmp_path: Path) -> None:
    """A file that is not UTF-8 text (a spreadsheet saved wrongly) is refused; nothing written."""
    settings = Settings(data_dir=tmp_path)
    source = tmp_path / "export.csv"
    source.write_bytes(
        b"postcode,latitude,longitude\nBT6 1AA,54.6,-5.9\n" + b"BT6 1AB,\xff\xfe,-5.9\n"
    )
    with pytest.raises(DataError, match="export.csv.*UTF-8"):
        import_overrides(source, settings=settings)
    assert not (tmp_path / "postcodes" / "bt.csv").exists()
    with pytest.raises(PostcodeError):
        get_postcode_directory(settings).lookup("BT6 1AA")
