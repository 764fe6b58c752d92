"""Great-circle distances, the spatial index and service-area polygon tests."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from strategies import gb_points, latitudes, longitudes

from vcsmatch.catalogue.model import Catalogue, Location, Service, ServiceArea
from vcsmatch.errors import CatalogueError, NotFittedError
from vcsmatch.features.geo import (
    ServiceAreas,
    SpatialIndex,
    haversine_km,
    in_service_area,
    service_points,
)

IPSWICH = (52.0592, 1.1555)
LONDON = (51.5074, -0.1278)
EDINBURGH = (55.9533, -3.1883)

# Ipswich town centre, drawn by hand (lon, lat): a square of about 4 km.
IPSWICH_SQUARE = {
    "type": "Polygon",
    "coordinates": [[[1.12, 52.04], [1.19, 52.04], [1.19, 52.08], [1.12, 52.08], [1.12, 52.04]]],
}


def test_haversine_known_distances() -> None:
    """London-Edinburgh is about 534 km and Ipswich-London about 106 km."""
    assert haversine_km(*LONDON, *EDINBURGH) == pytest.approx(534, abs=2)
    assert haversine_km(*IPSWICH, *LONDON) == pytest.approx(106, abs=2)
    assert haversine_km(*IPSWICH, *IPSWICH) == 0.0


def test_haversine_broadcasts() -> None:
    """One point against many gives one distance per point; a grid gives a matrix."""
    lats = np.array([LONDON[0], EDINBURGH[0], IPSWICH[0]])
    lons = np.array([LONDON[1], EDINBURGH[1], IPSWICH[1]])
    row = haversine_km(IPSWICH[0], IPSWICH[1], lats, lons)
    assert row.shape == (3,) and row[2] == 0.0
    grid = haversine_km(lats[:, None], lons[:, None], lats[None, :], lons[None, :])
    assert grid.shape == (3, 3)
    np.testing.assert_allclose(grid, grid.T)
    np.testing.assert_allclose(np.diag(grid), 0.0)


@given(latitudes, longitudes, latitudes, longitudes)
def test_haversine_is_symmetric_and_non_negative(a: float, b: float, c: float, d: float) -> None:
    """d(p, q) == d(q, p) >= 0, and never more than half the Earth's circumference."""
    pq = haversine_km(a, b, c, d)
    qp = haversine_km(c, d, a, b)
    assert pq >= 0
    assert pq == pytest.approx(qp, abs=1e-9)
    assert pq <= np.pi * 6371.0088 + 1e-6


@given(gb_points, gb_points, gb_points)
def test_haversine_triangle_inequality(p: tuple, q: tuple, r: tuple) -> None:
    """Going via a third point is never shorter."""
    assert haversine_km(*p, *r) <= haversine_km(*p, *q) + haversine_km(*q, *r) + 1e-6


def test_spatial_index_radius_matches_a_brute_force_scan() -> None:
    """Radius query returns exactly the points a full scan finds, nearest first."""
    rng = np.random.default_rng(3)
    lats = rng.uniform(51.5, 52.5, 2000)
    lons = rng.uniform(0.5, 1.8, 2000)
    index = SpatialIndex().fit(lats, lons)
    rows, dist = index.query_radius(*IPSWICH, 12.0)
    brute = haversine_km(*IPSWICH, lats, lons)
    assert set(rows.tolist()) == set(np.flatnonzero(brute <= 12.0).tolist())
    np.testing.assert_allclose(dist, brute[rows], rtol=1e-9, atol=1e-9)
    assert np.all(np.diff(dist) >= 0)


def test_spatial_index_reports_each_service_once_at_its_nearest_location() -> None:
    """A service with two locations appears once, at the distance of the nearer one."""
    lats = [52.06, 52.00, 51.50, 52.059]
    lons = [1.15, 1.00, -0.10, 1.155]
    owners = [0, 1, 0, 2]  # service 0 in Ipswich and London
    index = SpatialIndex().fit(lats, lons, owners)
    rows, dist = index.query_radius(*LONDON, 5.0)
    assert rows.tolist() == [0]
    rows, dist = index.query_radius(*IPSWICH, 200.0)
    assert sorted(rows.tolist()) == [0, 1, 2]
    assert dist[rows.tolist().index(0)] == pytest.approx(haversine_km(*IPSWICH, 52.06, 1.15))
    near, km = index.nearest(*IPSWICH, k=2)
    assert near.tolist() == [2, 0]
    assert np.all(np.diff(km) >= 0)
    assert index.nearest(*IPSWICH, k=10)[0].size == 3


def test_spatial_index_ignores_unlocated_points_and_handles_empty() -> None:
    """NaN coordinates are not indexed; an empty index answers with nothing."""
    index = SpatialIndex().fit([np.nan, 52.0], [np.nan, 1.0])
    assert index.n_points_ == 1
    assert index.query_radius(52.0, 1.0, 1.0)[0].tolist() == [1]
    empty = SpatialIndex().fit([], [])
    assert empty.query_radius(52.0, 1.0, 10.0)[0].size == 0
    assert empty.nearest(52.0, 1.0, 3)[0].size == 0


def test_spatial_index_refuses_bad_use() -> None:
    """Unfitted use and bad parameters are typed errors naming the parameter."""
    with pytest.raises(NotFittedError):
        SpatialIndex().query_radius(52.0, 1.0, 5.0)
    index = SpatialIndex().fit([52.0], [1.0])
    with pytest.raises(ValueError, match="radius_km"):
        index.query_radius(52.0, 1.0, -1.0)
    with pytest.raises(ValueError, match="'k'"):
        index.nearest(52.0, 1.0, 0)
    with pytest.raises(ValueError, match="same length"):
        SpatialIndex().fit([52.0, 53.0], [1.0])


@settings(max_examples=50, deadline=None)
@given(st.lists(gb_points, min_size=1, max_size=60), gb_points, st.floats(0, 300))
def test_radius_query_equals_brute_force(points: list, centre: tuple, radius: float) -> None:
    """For any points, centre and radius the tree finds exactly what a scan finds."""
    lats = np.array([p[0] for p in points])
    lons = np.array([p[1] for p in points])
    rows, dist = SpatialIndex().fit(lats, lons).query_radius(*centre, radius)
    brute = haversine_km(*centre, lats, lons)
    inside = set(np.flatnonzero(brute <= radius).tolist())
    edge = set(np.flatnonzero(np.abs(brute - radius) < 1e-6).tolist())
    assert set(rows.tolist()) ^ inside <= edge


def test_service_points_index_every_location() -> None:
    """Each located place of each service is one point owned by its catalogue row."""
    cat = Catalogue(
        services=[
            Service(
                id="a",
                name="A",
                locations=[Location(latitude=52, longitude=1), Location(latitude=51, longitude=0)],
            ),
            Service(id="b", name="B"),
            Service(id="c", name="C", locations=[Location(latitude=53, longitude=-1)]),
        ]
    )
    lats, lons, owners = service_points(cat)
    assert owners.tolist() == [0, 0, 2]
    assert lats.tolist() == [52, 51, 53]
    rows, _ = SpatialIndex.from_catalogue(cat).query_radius(51, 0, 1)
    assert rows.tolist() == [0]


def area_service(geometry: dict | None, **extra: object) -> Service:
    return Service(
        id="area",
        name="Area",
        service_areas=[ServiceArea(name="Ipswich", geometry=geometry)],
        **extra,
    )


def test_in_service_area_polygon() -> None:
    """A point in the square is inside, one outside is not, and no area gives None."""
    svc = area_service(IPSWICH_SQUARE)
    assert in_service_area(svc, *IPSWICH) is True
    assert in_service_area(svc, *LONDON) is False
    assert in_service_area(Service(id="x", name="X"), *IPSWICH) is None


def test_in_service_area_multipolygon_and_edge() -> None:
    """Either part of a MultiPolygon counts, and a point on the edge is inside."""
    far = [[[-0.2, 51.4], [0.0, 51.4], [0.0, 51.6], [-0.2, 51.6], [-0.2, 51.4]]]
    multi = {"type": "MultiPolygon", "coordinates": [IPSWICH_SQUARE["coordinates"], far]}
    svc = area_service(multi)
    assert in_service_area(svc, *IPSWICH) and in_service_area(svc, *LONDON)
    assert in_service_area(svc, *EDINBURGH) is False
    assert in_service_area(area_service(IPSWICH_SQUARE), 52.04, 1.15) is True


def test_service_area_must_be_a_polygon() -> None:
    """A Point or broken geometry is a CatalogueError naming the service and field."""
    with pytest.raises(CatalogueError, match="service_areas\\[0\\].geometry"):
        in_service_area(area_service({"type": "Point", "coordinates": [1, 52]}), *IPSWICH)
    with pytest.raises(CatalogueError, match="area"):
        in_service_area(area_service({"type": "Polygon", "coordinates": [[1, 2]]}), *IPSWICH)


def test_service_areas_prepared_agree_with_single_tests() -> None:
    """The fitted, prepared areas answer exactly as in_service_area does, row by row."""
    services = [
        area_service(IPSWICH_SQUARE).model_copy(update={"id": "a"}),
        Service(id="b", name="B"),
        area_service(
            {
                "type": "Polygon",
                "coordinates": [[[-0.2, 51.4], [0.0, 51.4], [0.0, 51.6], [-0.2, 51.4]]],
            }
        ).model_copy(update={"id": "c"}),
    ]
    areas = ServiceAreas().fit(services)
    assert areas.declared_.tolist() == [True, False, True]
    for point in (IPSWICH, LONDON, (51.45, -0.15), EDINBURGH):
        inside = areas.contains(*point)
        for row, svc in enumerate(services):
            single = in_service_area(svc, *point)
            assert areas.contains_row(row, *point) == single
            assert bool(inside[row]) == bool(single)


@settings(max_examples=50, deadline=None)
@given(
    st.lists(st.tuples(gb_points, st.integers(0, 9)), min_size=1, max_size=60),
    gb_points,
    st.floats(0, 300),
)
def test_each_service_is_found_once_at_its_nearest_location(
    points: list, centre: tuple, radius: float
) -> None:
    """With several locations per service, each service within range appears once, at its
    nearest location's distance, exactly as a scan of every location finds."""
    lats = np.array([p[0][0] for p in points])
    lons = np.array([p[0][1] for p in points])
    owners = np.array([p[1] for p in points])
    rows, dist = SpatialIndex().fit(lats, lons, owners).query_radius(*centre, radius)
    assert len(set(rows.tolist())) == rows.size
    brute = haversine_km(*centre, lats, lons)
    for owner in set(owners.tolist()):
        nearest = brute[owners == owner].min()
        if nearest < radius - 1e-6:
            assert dist[rows.tolist().index(owner)] == pytest.approx(nearest, abs=1e-6)
        elif nearest > radius + 1e-6:
            assert owner not in rows


def test_query_point_must_be_real_coordinates() -> None:
    """A NaN or out-of-range query point is a ValueError, not a silent empty answer."""
    index = SpatialIndex().fit([52.0], [1.0])
    with pytest.raises(ValueError, match="lat and lon"):
        index.query_radius(float("nan"), 1.0, 5.0)
    with pytest.raises(ValueError, match="lat and lon"):
        index.nearest(95.0, 1.0, 1)


@given(
    st.lists(st.tuples(gb_points, st.integers(0, 9)), min_size=1, max_size=60),
    gb_points,
    st.floats(0, 300),
    st.booleans(),
)
def test_unordered_radius_query_finds_the_same_services(
    points: list, centre: tuple, radius: float, one_each: bool
) -> None:
    """``nearest_first=False`` returns the same services at the same distances, in any
    order, whether each service has one location or several; below ``scan_max_points`` it
    scans, and gives the tree's rows at exactly the tree's distances."""
    lats = np.array([p[0][0] for p in points])
    lons = np.array([p[0][1] for p in points])
    owners = np.arange(len(points)) if one_each else np.array([p[1] for p in points])
    index = SpatialIndex().fit(lats, lons, owners)
    rows, dist = index.query_radius(*centre, radius)
    any_rows, any_dist = index.query_radius(*centre, radius, nearest_first=False)
    assert index.one_point_each_ is (len(set(owners.tolist())) == len(owners))
    assert sorted(any_rows.tolist()) == sorted(rows.tolist())
    by_row = dict(zip(rows.tolist(), dist.tolist(), strict=True))
    for r, d in zip(any_rows.tolist(), any_dist.tolist(), strict=True):
        assert d == pytest.approx(by_row[r], abs=1e-9)
    tree = SpatialIndex(scan_max_points=0).fit(lats, lons, owners)
    _same_hits((any_rows, any_dist), tree.query_radius(*centre, radius, nearest_first=False))


def _same_hits(a: tuple[np.ndarray, np.ndarray], b: tuple[np.ndarray, np.ndarray]) -> None:
    """Two unordered radius answers hold the same rows at bit-identical distances."""
    order_a, order_b = np.argsort(a[0], kind="stable"), np.argsort(b[0], kind="stable")
    assert a[0][order_a].tolist() == b[0][order_b].tolist()
    assert a[1][order_a].tolist() == b[1][order_b].tolist()  # exact, not approximate


def test_scan_and_tree_agree_on_a_county_of_points_either_side_of_the_threshold(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """An index of ``scan_max_points`` points scans and one of a point more asks the tree;
    both answer a county's queries with the same rows and bit-identical distances."""
    rng = np.random.default_rng(11)
    n = 600
    lats, lons = rng.uniform(51.2, 52.2, n), rng.uniform(-1.8, -0.2, n)
    owners = rng.integers(0, 400, n)  # some services at several locations
    queries = np.column_stack(
        [rng.uniform(51.0, 52.4, 200), rng.uniform(-2.0, 0.0, 200), rng.uniform(0, 60, 200)]
    ).tolist()
    scans = SpatialIndex(scan_max_points=n).fit(lats, lons, owners)
    trees = SpatialIndex(scan_max_points=n - 1).fit(lats, lons, owners)
    calls = []
    scan = SpatialIndex._scan_radius

    def counted(self: SpatialIndex, point: np.ndarray, r: float) -> tuple[list, list]:
        calls.append(self is scans)
        return scan(self, point, r)

    monkeypatch.setattr(SpatialIndex, "_scan_radius", counted)
    n_hits = 0
    for lat, lon, radius in queries:
        got = scans.query_radius(lat, lon, radius, nearest_first=False)
        _same_hits(got, trees.query_radius(lat, lon, radius, nearest_first=False))
        n_hits += got[0].size
    assert calls == [True] * 200  # the larger index never scanned
    assert n_hits > 10_000  # the queries found plenty, so the comparison is not vacuous


def test_scan_max_points_must_be_a_non_negative_int() -> None:
    """A bad ``scan_max_points`` is refused at fit, naming the parameter."""
    for bad in (-1, 2.5, True):
        with pytest.raises(ValueError, match="'scan_max_points'"):
            SpatialIndex(scan_max_points=bad).fit([52.0], [1.0])
