"""Feature benchmarks: postcode lookups per second, candidate retrieval, eligibility.

Run: ``python benchmarks/features.py`` (about a minute). Every figure is measured in this run,
and each fast path is printed beside the brute-force way measured on the same data, so the
ratios hold on whatever machine runs it.

- Postcode lookups: real postcodes from the packaged Code-Point Open data, spread over several
  postcode areas. Cold = a fresh directory (each area file is read and converted on first use);
  warm = the same postcodes again.
- Candidate retrieval: services within 15 km of random points in Great Britain, from the
  BallTree (``SpatialIndex.query_radius``) and from a vectorised haversine scan of every
  service, for 700 and for 100,000 services (each with one location).
- Eligibility: ``EligibilityFilter.check`` for one person against the whole catalogue.
"""

from __future__ import annotations

import argparse
import gzip
import time
from collections.abc import Callable

import numpy as np
from rich.console import Console
from rich.table import Table

from vcsmatch.catalogue.model import Eligibility, Location, Service, ServiceArea
from vcsmatch.features.eligibility import EligibilityFilter
from vcsmatch.features.geo import SpatialIndex, haversine_km
from vcsmatch.features.location import PostcodeDirectory, packaged_data_dir
from vcsmatch.features.person import Person

console = Console()
AREAS = ("IP", "CB", "NR", "CO", "E", "M", "B", "LS", "G", "EH", "CF", "BS")


def timed(fn: Callable[[], object], repeat: int = 1) -> float:
    """Best wall time of ``repeat`` runs, seconds."""
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def sample_postcodes(n: int, rng: np.random.Generator) -> list[str]:
    """Real unit postcodes with coordinates, drawn evenly from ``AREAS``."""
    per_area = n // len(AREAS)
    out: list[str] = []
    for area in AREAS:
        with gzip.open(packaged_data_dir() / f"{area.lower()}.csv.gz", "rt") as fh:
            codes = [line.split(",", 1)[0] for line in fh if ",90," not in line]
        out.extend(rng.choice(codes, size=per_area, replace=False).tolist())
    rng.shuffle(out)
    return out


def bench_postcodes(n: int, rng: np.random.Generator) -> list[tuple[str, str]]:
    postcodes = sample_postcodes(n, rng)
    typed = [p.lower().replace(" ", "") for p in postcodes]
    directory = PostcodeDirectory()
    cold = timed(lambda: [directory.lookup(p) for p in typed])
    warm = timed(lambda: [directory.lookup(p) for p in typed], repeat=3)
    bulk = timed(lambda: directory.lookup_many(typed), repeat=3)
    return [
        (f"cold lookups ({len(AREAS)} areas loaded)", f"{n / cold:,.0f} /s ({cold:.2f} s)"),
        ("warm lookups", f"{n / warm:,.0f} /s"),
        ("warm lookup_many", f"{n / bulk:,.0f} /s"),
        ("cold: load per area", f"{(cold - warm) / len(AREAS) * 1000:,.0f} ms"),
    ]


def gb_points(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Points in England and Wales's rough bounding box, denser near towns does not matter."""
    return rng.uniform(50.6, 53.8, n), rng.uniform(-3.5, 1.7, n)


def bench_retrieval(
    n_services: int, n_queries: int, radius_km: float, rng: np.random.Generator
) -> dict[str, float]:
    lats, lons = gb_points(n_services, rng)
    qlat, qlon = gb_points(n_queries, rng)
    SpatialIndex().fit(lats[:10], lons[:10])  # warm-up: imports, not building
    build = timed(lambda: SpatialIndex().fit(lats, lons))
    index = SpatialIndex().fit(lats, lons)

    def tree() -> int:
        return sum(
            index.query_radius(a, b, radius_km)[0].size for a, b in zip(qlat, qlon, strict=True)
        )

    def scan() -> int:
        found = 0
        for a, b in zip(qlat, qlon, strict=True):
            d = haversine_km(a, b, lats, lons)
            rows = np.flatnonzero(d <= radius_km)
            rows = rows[np.argsort(d[rows], kind="stable")]
            found += rows.size
        return found

    if tree() != scan():
        raise RuntimeError("the index and the scan disagree")
    t_tree = timed(tree, repeat=3) / n_queries
    t_scan = timed(scan, repeat=3) / n_queries
    return {"build": build, "tree": t_tree, "scan": t_scan}


def catalogue_of(n: int, rng: np.random.Generator) -> list[Service]:
    lats, lons = gb_points(n, rng)
    services = []
    for i in range(n):
        area = []
        if i % 10 == 0:  # one in ten declares a 10 km square service area
            lo, la = lons[i], lats[i]
            ring = [
                [lo - 0.07, la - 0.045],
                [lo + 0.07, la - 0.045],
                [lo + 0.07, la + 0.045],
                [lo - 0.07, la + 0.045],
                [lo - 0.07, la - 0.045],
            ]
            area = [ServiceArea(geometry={"type": "Polygon", "coordinates": [ring]})]
        services.append(
            Service(
                id=f"s{i}",
                name=f"Service {i}",
                status="inactive" if i % 25 == 0 else "active",
                eligibility=Eligibility(
                    min_age=65 if i % 4 == 0 else None, sex="female" if i % 13 == 0 else None
                ),
                locations=[Location(latitude=lats[i], longitude=lons[i])],
                service_areas=area,
            )
        )
    return services


def bench_eligibility(n: int, rng: np.random.Generator) -> tuple[float, float]:
    services = catalogue_of(n, rng)
    fit = timed(lambda: EligibilityFilter().fit(services))
    flt = EligibilityFilter().fit(services)
    person = Person(age=70, sex="male")
    check = timed(lambda: flt.check(person, (52.05, 1.15)), repeat=5)
    return fit, check


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--postcodes", type=int, default=24_000)
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--radius-km", type=float, default=15.0)
    args = parser.parse_args()
    rng = np.random.default_rng(20261122)

    with console.status("postcode lookups..."):
        rows = bench_postcodes(args.postcodes, rng)
    table = Table(title=f"Postcode lookups ({args.postcodes:,} real postcodes)")
    table.add_column("what")
    table.add_column("rate", justify="right")
    for what, rate in rows:
        table.add_row(what, rate)
    console.print(table)

    table = Table(
        title=f"Candidate retrieval: services within {args.radius_km:g} km "
        f"(mean of {args.queries} queries)"
    )
    for col in (
        "services",
        "index build",
        "BallTree / query",
        "haversine scan / query",
        "scan / tree",
    ):
        table.add_column(col, justify="right")
    for n in (700, 100_000):
        with console.status(f"retrieval over {n:,} services..."):
            r = bench_retrieval(n, args.queries, args.radius_km, rng)
        table.add_row(
            f"{n:,}",
            f"{r['build'] * 1000:.1f} ms",
            f"{r['tree'] * 1e6:,.0f} µs",
            f"{r['scan'] * 1e6:,.0f} µs",
            f"{r['scan'] / r['tree']:.1f}x",
        )
    console.print(table)

    table = Table(title="Eligibility: one person against the whole catalogue")
    for col in ("services", "fit", "check"):
        table.add_column(col, justify="right")
    for n in (700, 100_000):
        with console.status(f"eligibility over {n:,} services..."):
            fit, check = bench_eligibility(n, rng)
        table.add_row(f"{n:,}", f"{fit:.2f} s", f"{check * 1000:.2f} ms")
    console.print(table)


if __name__ == "__main__":
    main()
