"""Catalogue search latency at front-door scale: ``python benchmarks/search.py [n_services]``.

Builds a synthetic catalogue (default 100,000 services, by repeating and jittering a
``make_world`` county so text and places stay realistic), fits ``CatalogueSearch`` and times
mixed front-door queries: text only, text + postcode, needs + postcode, postcode only,
filters only. Prints p50/p95/p99 per kind and the target (text + postcode p99 < 50 ms), with
the fit time, side by side in one run.
"""

from __future__ import annotations

import sys
import time

import numpy as np
from rich.console import Console
from rich.progress import track
from rich.table import Table

from vcsmatch.catalogue.model import Catalogue
from vcsmatch.search import CatalogueSearch, SearchQuery
from vcsmatch.synthetic import make_world

TEXTS = (
    "demntia cafe",
    "lonely",
    "lunch club",
    "carers support",
    "gardening group",
    "falls prevention exercise",
    "help with benefits",
    "befriending phone",
    "memory loss",
    "digital skills tablet",
)


def build(n_services: int, seed: int = 0) -> Catalogue:
    base = make_world(n_services=min(n_services, 2000), n_people=5, n_new_people=0, seed=seed)
    rng = np.random.default_rng(seed)
    services = []
    copies = -(-n_services // len(base.catalogue))
    for c in track(range(copies), description="building catalogue"):
        for s in base.catalogue.services:
            if len(services) == n_services:
                break
            locs = [
                loc.model_copy(
                    update={
                        "latitude": loc.latitude + rng.normal(0, 0.02),
                        "longitude": loc.longitude + rng.normal(0, 0.03),
                    }
                )
                if loc.latitude is not None
                else loc
                for loc in s.locations
            ]
            services.append(s.model_copy(update={"id": f"{s.id}-{c}", "locations": locs}))
    return Catalogue(services=services)


def main(n_services: int = 100_000, n_queries: int = 300) -> None:
    console = Console()
    catalogue = build(n_services)
    t0 = time.perf_counter()
    index = CatalogueSearch().fit(catalogue)
    fit_s = time.perf_counter() - t0
    rng = np.random.default_rng(1)
    lats = np.array([loc.latitude for s in catalogue.services[:2000] for loc in s.locations])
    lons = np.array([loc.longitude for s in catalogue.services[:2000] for loc in s.locations])

    def where() -> dict:
        i = int(rng.integers(len(lats)))
        return {"latitude": float(lats[i]), "longitude": float(lons[i]), "radius_km": 10.0}

    kinds = {
        "text only": lambda: SearchQuery(text=str(rng.choice(TEXTS))),
        "text + postcode": lambda: SearchQuery(text=str(rng.choice(TEXTS)), **where()),
        "text + postcode + age": lambda: SearchQuery(
            text=str(rng.choice(TEXTS)), age=int(rng.integers(18, 95)), **where()
        ),
        "need + postcode": lambda: SearchQuery(needs=("social-isolation",), **where()),
        "postcode only": lambda: SearchQuery(**where()),
        "filters only": lambda: SearchQuery(free_only=True, open_on="TU", age=70),
    }
    table = Table(title=f"CatalogueSearch on {n_services:,} services (fit {fit_s:.1f} s)")
    for col in ("query", "p50 ms", "p95 ms", "p99 ms", "mean hits"):
        table.add_column(col, justify="right" if col != "query" else "left")
    results = {}
    for name, make in kinds.items():
        for _ in range(10):  # warm up
            index.search(make())
        times, hits = [], []
        for _ in range(n_queries):
            q = make()
            t = time.perf_counter()
            page = index.search(q)
            times.append((time.perf_counter() - t) * 1000)
            hits.append(page.total_items)
        p50, p95, p99 = np.percentile(times, [50, 95, 99])
        results[name] = p99
        table.add_row(name, f"{p50:.1f}", f"{p95:.1f}", f"{p99:.1f}", f"{np.mean(hits):,.0f}")
    console.print(table)
    p99 = results["text + postcode"]
    verdict = "meets" if p99 < 50 else "MISSES"
    console.print(f"text + postcode p99 = {p99:.1f} ms: {verdict} the 50 ms target")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 100_000)
