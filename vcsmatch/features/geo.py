"""Great-circle distances, a spatial index of service locations, and service-area tests.

Candidates within a radius come from a BallTree with the haversine metric (a tree query, not a
scan of every service), or, for an index of at most ``SpatialIndex.scan_max_points`` points, a
vectorised scan of every point with the tree's own formula (faster there than the tree's input
checks alone, and the same rows and distances to the last bit); a service with several
locations is indexed at each and reported once, at its nearest. Service areas are real polygon
tests with shapely.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from contextlib import AbstractContextManager
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from vcsmatch.catalogue.model import Catalogue, Service
from vcsmatch.errors import CatalogueError, NotFittedError

#: Mean Earth radius (IUGG), km.
EARTH_RADIUS_KM = 6371.0088


def haversine_km(lat1: ArrayLike, lon1: ArrayLike, lat2: ArrayLike, lon2: ArrayLike) -> Any:
    """Great-circle distance in km between points given in degrees; numpy broadcasting.

    Returns a float for scalar inputs, otherwise an array of the broadcast shape.
    """
    p1, l1, p2, l2 = (np.radians(np.asarray(a, dtype=float)) for a in (lat1, lon1, lat2, lon2))
    a = np.sin((p2 - p1) / 2.0) ** 2 + np.cos(p1) * np.cos(p2) * np.sin((l2 - l1) / 2.0) ** 2
    d = 2.0 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(np.clip(a, 0.0, 1.0)))
    return float(d) if np.ndim(d) == 0 else d


def service_points(
    catalogue: Catalogue | Sequence[Service], *, directory: Any | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every location of every service: ``(lats, lons, owners)`` with owner = catalogue row.

    Locations without coordinates are resolved through ``directory`` (a
    ``PostcodeDirectory``) when one is given and the location has a known postcode; otherwise
    they are left out.
    """
    lats: list[float] = []
    lons: list[float] = []
    owners: list[int] = []
    for row, service in enumerate(catalogue):
        for loc in service.locations:
            point = _location_point(loc, directory)
            if point is not None:
                lats.append(point[0])
                lons.append(point[1])
                owners.append(row)
    return (
        np.asarray(lats, dtype=float),
        np.asarray(lons, dtype=float),
        np.asarray(owners, dtype=np.intp),
    )


def located_service_points(
    catalogue: Catalogue | Sequence[Service],
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``service_points`` with locations known only by a postcode placed through the shared
    postcode directory, as ``ServiceFeatures`` places them: the candidate search and the
    distances must see every location the service features see. The directory is opened
    only when some location has a postcode and no coordinates."""
    wants = any(
        loc.postcode and (loc.latitude is None or loc.longitude is None)
        for service in catalogue
        for loc in service.locations
    )
    directory = None
    if wants:
        from vcsmatch.features.location import get_postcode_directory

        directory = get_postcode_directory()
    return service_points(catalogue, directory=directory)


def _location_point(loc: Any, directory: Any | None) -> tuple[float, float] | None:
    if loc.latitude is not None and loc.longitude is not None:
        return (float(loc.latitude), float(loc.longitude))
    if directory is not None and loc.postcode:
        from vcsmatch.errors import PostcodeError

        try:
            return directory.lookup(loc.postcode)
        except PostcodeError:
            return None
    return None


def _checked_point() -> AbstractContextManager[None]:
    """scikit-learn's settings for a tree query of a point ``SpatialIndex._point`` has already
    checked finite: its second check of a one-point array cost as much as the query itself at
    a county's size (the setting is per thread, so other threads keep their checks)."""
    import sklearn

    return sklearn.config_context(assume_finite=True)


class SpatialIndex:
    """Nearest services and services within a radius, from a haversine BallTree.

    ``fit(lats, lons, owners)`` indexes points in degrees; ``owners[i]`` is the service row of
    point ``i`` (default: the point's own position), so several locations of one service
    collapse to the nearest. Points with NaN coordinates are ignored.

    ``scan_max_points``: an unordered radius query (``nearest_first=False``) of an index of at
    most this many points scans every point instead of asking the tree: at a county's few
    hundred points scikit-learn's checks of the one query point cost more than the scan. The
    scan computes the tree's own haversine (the same operations in the same order, sines and
    cosines from numpy, which match the C library the tree calls, the arcsine from ``math``,
    which is that library's, as numpy's vectorised one is not) and keeps a point when the
    tree's leaf test would, so the rows and distances are the tree's. 0 always asks the tree.
    """

    def __init__(self, leaf_size: int = 40, scan_max_points: int = 2000) -> None:
        self.leaf_size = leaf_size
        self.scan_max_points = scan_max_points

    def fit(
        self, lats: ArrayLike, lons: ArrayLike, owners: ArrayLike | None = None
    ) -> SpatialIndex:
        from sklearn.neighbors import BallTree

        lat = np.asarray(lats, dtype=float).ravel()
        lon = np.asarray(lons, dtype=float).ravel()
        if lat.shape != lon.shape:
            raise ValueError(
                f"lats and lons must have the same length. Got {lat.size} and {lon.size}."
            )
        own = np.arange(lat.size) if owners is None else np.asarray(owners, dtype=np.intp).ravel()
        if own.shape != lat.shape:
            raise ValueError(
                f"owners must have one entry per point. Got {own.size} for {lat.size} points."
            )
        if not isinstance(self.leaf_size, int | np.integer) or self.leaf_size < 1:
            raise ValueError(
                f"The 'leaf_size' parameter of SpatialIndex must be a positive int. "
                f"Got {self.leaf_size!r} instead."
            )
        scan = self.scan_max_points
        if isinstance(scan, bool) or not isinstance(scan, int | np.integer) or scan < 0:
            raise ValueError(
                f"The 'scan_max_points' parameter of SpatialIndex must be a non-negative int. "
                f"Got {scan!r} instead."
            )
        ok = np.isfinite(lat) & np.isfinite(lon)
        self.lats_ = lat[ok]
        self.lons_ = lon[ok]
        self.owners_ = own[ok]
        self.one_point_each_ = bool(np.unique(self.owners_).size == self.owners_.size)
        self.n_points_ = int(ok.sum())
        self.n_owners_ = int(own.max()) + 1 if own.size else 0
        if self.n_points_:
            coords = np.radians(np.column_stack([self.lats_, self.lons_]))
            self.tree_ = BallTree(coords, leaf_size=self.leaf_size, metric="haversine")
            # the scan's side of the tree's formula: its points' radians and their cosines
            self.scan_lat_ = np.ascontiguousarray(coords[:, 0])
            self.scan_lon_ = np.ascontiguousarray(coords[:, 1])
            self.scan_cos_ = np.cos(self.scan_lat_)
        else:
            self.tree_ = None
        return self

    @classmethod
    def from_catalogue(
        cls, catalogue: Catalogue | Sequence[Service], *, directory: Any | None = None, **params
    ) -> SpatialIndex:
        """Index every location of every service (rows in catalogue order)."""
        lats, lons, owners = service_points(catalogue, directory=directory)
        return cls(**params).fit(lats, lons, owners)

    def _check(self) -> None:
        if not hasattr(self, "owners_"):
            raise NotFittedError("SpatialIndex is not fitted yet; call fit(lats, lons) first.")

    def query_radius(
        self, lat: float, lon: float, radius_km: float, *, nearest_first: bool = True
    ) -> tuple[np.ndarray, np.ndarray]:
        """Service rows within ``radius_km`` of the point, nearest first, and their distances.

        Each owner appears once, at its nearest location. ``nearest_first=False`` returns them
        in no particular order, which saves two sorts of every hit (tens of thousands in a
        national catalogue) for a caller that only needs the set.
        """
        self._check()
        if not (np.isfinite(radius_km) and radius_km >= 0):
            raise ValueError(
                f"The 'radius_km' parameter of query_radius must be a non-negative number. "
                f"Got {radius_km!r} instead."
            )
        if self.tree_ is None:
            return np.empty(0, dtype=np.intp), np.empty(0, dtype=float)
        point = self._point(lat, lon)
        if not nearest_first and self.n_points_ <= self.scan_max_points:
            ind, dist = self._scan_radius(point, radius_km / EARTH_RADIUS_KM)
        else:
            with _checked_point():
                ind, dist = self.tree_.query_radius(
                    point,
                    r=radius_km / EARTH_RADIUS_KM,
                    return_distance=True,
                    sort_results=nearest_first,
                )
        if not nearest_first and self.one_point_each_:
            return self.owners_[ind[0]].astype(np.intp), dist[0] * EARTH_RADIUS_KM
        if not nearest_first:  # distinct owners at their nearest point need the order
            order = np.argsort(dist[0], kind="stable")
            ind, dist = [ind[0][order]], [dist[0][order]]
        return self._collapse(ind[0], dist[0] * EARTH_RADIUS_KM)

    def nearest(self, lat: float, lon: float, k: int = 10) -> tuple[np.ndarray, np.ndarray]:
        """The ``k`` nearest distinct service rows (fewer if fewer exist) and their distances."""
        self._check()
        if not isinstance(k, int | np.integer) or k < 1:
            raise ValueError(
                f"The 'k' parameter of nearest must be a positive int. Got {k!r} instead."
            )
        if self.tree_ is None:
            return np.empty(0, dtype=np.intp), np.empty(0, dtype=float)
        point = self._point(lat, lon)
        ask = min(int(k), self.n_points_)
        while True:
            with _checked_point():
                dist, ind = self.tree_.query(point, k=ask, return_distance=True, sort_results=True)
            rows, km = self._collapse(ind[0], dist[0] * EARTH_RADIUS_KM)
            if rows.size >= k or ask >= self.n_points_:
                return rows[:k], km[:k]
            ask = min(ask * 2, self.n_points_)

    def _scan_radius(self, point: np.ndarray, r: float) -> tuple[list, list]:
        """``BallTree.query_radius``'s unordered answer for one point (radians) within ``r``
        radians, from a scan of every point: the tree's ``rdist`` (``sin((x1 - y1) / 2)^2 +
        cos(x1) cos(y1) sin((x2 - y2) / 2)^2``, query point first), kept where it is at most
        the radius's own (``sin(r / 2)^2``, as a leaf tests it) and turned into a distance by
        ``2 asin(sqrt(.))``; points in index order."""
        la, lo = float(point[0, 0]), float(point[0, 1])
        s0 = np.sin(0.5 * (la - self.scan_lat_))
        s1 = np.sin(0.5 * (lo - self.scan_lon_))
        rdist = s0 * s0 + math.cos(la) * self.scan_cos_ * s1 * s1
        reduced = math.sin(0.5 * r)
        ind = np.flatnonzero(rdist <= reduced * reduced)
        asin, sqrt = math.asin, math.sqrt
        dist = np.array([2 * asin(sqrt(v)) for v in rdist[ind].tolist()], dtype=np.float64)
        return [ind], [dist]

    @staticmethod
    def _point(lat: float, lon: float) -> np.ndarray:
        try:
            la, lo = float(lat), float(lon)
        except (TypeError, ValueError):
            raise ValueError("lat and lon must be numbers (degrees).") from None
        if not (np.isfinite(la) and np.isfinite(lo) and -90 <= la <= 90 and -180 <= lo <= 180):
            raise ValueError("lat and lon must be finite degrees within -90..90 and -180..180.")
        return np.radians([[la, lo]])

    def _collapse(self, ind: np.ndarray, km: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Point hits (sorted by distance) -> distinct owners at their nearest point."""
        owners = self.owners_[ind]
        _, first = np.unique(owners, return_index=True)
        first.sort()  # keep distance order
        return owners[first].astype(np.intp), km[first]


# -- service areas -----------------------------------------------------------------------------


def _area_geometry(service: Service) -> Any | None:
    """The union of a service's declared areas as one shapely geometry (None: no area)."""
    from shapely.geometry import shape
    from shapely.ops import unary_union

    geoms = []
    for i, area in enumerate(service.service_areas):
        if area.geometry is None:
            continue
        kind = area.geometry.get("type")
        if kind not in ("Polygon", "MultiPolygon"):
            raise CatalogueError(
                service.id,
                f"service_areas[{i}].geometry",
                f"must be a GeoJSON Polygon or MultiPolygon, not {kind!r}",
            )
        try:
            geom = shape(area.geometry)
        except (ValueError, TypeError, KeyError, IndexError, AttributeError) as error:
            raise CatalogueError(
                service.id, f"service_areas[{i}].geometry", f"not valid GeoJSON: {error}"
            ) from None
        if geom.is_empty:
            continue
        if not geom.is_valid:
            geom = geom.buffer(0)  # repairs self-intersections, the usual hand-drawn fault
        geoms.append(geom)
    if not geoms:
        return None
    return geoms[0] if len(geoms) == 1 else unary_union(geoms)


def in_service_area(service: Service, lat: float, lon: float) -> bool | None:
    """Whether the point lies in (or on the edge of) the service's declared area.

    ``None`` when the service declares no area. GeoJSON order is longitude, latitude. For many
    checks against one catalogue use ``ServiceAreas``, which prepares each geometry once.
    """
    geom = _area_geometry(service)
    if geom is None:
        return None
    import shapely

    return bool(shapely.intersects_xy(geom, float(lon), float(lat)))


class ServiceAreas:
    """The declared areas of a catalogue, prepared once for fast point-in-area tests."""

    def fit(self, catalogue: Catalogue | Sequence[Service]) -> ServiceAreas:
        import shapely

        services = list(catalogue)
        self.n_services_ = len(services)
        self.declared_ = np.zeros(self.n_services_, dtype=bool)
        rows: list[int] = []
        geoms: list[Any] = []
        for row, service in enumerate(services):
            geom = _area_geometry(service)
            if geom is not None:
                shapely.prepare(geom)
                self.declared_[row] = True
                rows.append(row)
                geoms.append(geom)
        self.rows_ = np.asarray(rows, dtype=np.intp)
        self.geometries_ = geoms
        self.tree_ = shapely.STRtree(geoms) if geoms else None
        return self

    def contains(self, lat: float, lon: float) -> np.ndarray:
        """Per service (catalogue order): True when the point is in its declared area.

        Services that declare no area get False here; read ``declared_`` to tell them apart.
        """
        if not hasattr(self, "declared_"):
            raise NotFittedError("ServiceAreas is not fitted yet; call fit(catalogue) first.")
        inside = np.zeros(self.n_services_, dtype=bool)
        if self.tree_ is None:
            return inside
        import shapely

        hits = self.tree_.query(shapely.Point(float(lon), float(lat)), predicate="intersects")
        inside[self.rows_[hits]] = True
        return inside

    def contains_row(self, row: int, lat: float, lon: float) -> bool | None:
        """One service: like ``in_service_area`` but on the prepared geometry."""
        if not hasattr(self, "declared_"):
            raise NotFittedError("ServiceAreas is not fitted yet; call fit(catalogue) first.")
        if not self.declared_[row]:
            return None
        import shapely

        geom = self.geometries_[int(np.searchsorted(self.rows_, row))]
        return bool(shapely.intersects_xy(geom, float(lon), float(lat)))
