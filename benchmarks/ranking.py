"""How fast one recommendation is, in process, at 700 and at 100,000 services.

Beside each figure, in the same run, the floor: one vectorised score of every candidate (a
matrix-vector product over their feature rows) plus a numpy top-k. The ratio says how much the
whole hybrid (candidates, five parts, blend, diversity, reasons) costs over that floor.

Targets (docs, issue 4): p99 < 5 ms at 700 services and < 25 ms at 100,000. BLAS is limited to
one thread, as a server scoring one request per thread should be (OPENBLAS_NUM_THREADS=1).
The 100,000-service catalogue is the 700 copied and jittered over the same county, so a person
has tens of thousands of candidates (the worst case, not a national directory's typical one).

    .venv/bin/python benchmarks/ranking.py [--people 200] [--big 100000]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from threadpoolctl import threadpool_limits

from vcsmatch.catalogue.model import Catalogue, Location
from vcsmatch.features.location import locate
from vcsmatch.ranking.recommender import Recommender
from vcsmatch.synthetic import make_world


def grow(catalogue: Catalogue, n: int, seed: int = 0) -> Catalogue:
    """``n`` services: copies of ``catalogue``'s, with new ids, spread over a wider county."""
    rng = np.random.default_rng(seed)
    base = catalogue.services
    out = []
    for i in range(n):
        s = base[i % len(base)]
        if i < len(base):
            out.append(s)
            continue
        dlat, dlon = rng.normal(0, 0.15, size=2)
        locs = [
            Location(latitude=loc.latitude + dlat, longitude=loc.longitude + dlon)
            for loc in s.locations
            if loc.latitude is not None and loc.longitude is not None
        ]
        out.append(s.model_copy(update={"id": f"{s.id}-x{i}", "locations": locs}))
    return Catalogue(services=out)


def timings(model: Recommender, people: list, top_k: int = 10) -> tuple[np.ndarray, np.ndarray]:
    """Per person: seconds for ``recommend``, and seconds for the floor on its candidates.

    The floor scores each candidate's dense row of needs, activities and delivery modes (one
    float32 matrix-vector product) and selects the top k with numpy."""
    sf = model.service_features_
    dense = np.hstack(
        [sf.need_matrix_, sf.activity_matrix_, sf.modes_, np.ones((model.n_services_, 1))]
    ).astype(np.float32)
    full, floor = [], []
    for p in people:
        model.recommend(p, top_k)  # warm caches the first time only matters once
    for p in people:
        t = time.perf_counter()
        model.recommend(p, top_k)
        full.append(time.perf_counter() - t)
        loc = locate(p)
        rows = model.candidates_.find(p, loc, model.default_radius_km, model.max_nearby).rows
        w = np.ones(dense.shape[1], dtype=np.float32)
        t = time.perf_counter()
        scores = dense[rows] @ w
        k = min(top_k, len(scores))
        if k:
            top = np.argpartition(-scores, k - 1)[:k]
            top[np.argsort(-scores[top])]
        floor.append(time.perf_counter() - t)
    return np.asarray(full), np.asarray(floor)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=200)
    parser.add_argument("--big", type=int, default=100_000)
    args = parser.parse_args()
    # one request is scored on one thread (a server parallelises across requests); threaded
    # BLAS on tiny mat-vecs only adds contention
    threadpool_limits(1)

    world = make_world(n_services=700, n_people=3000, n_new_people=args.people, seed=0)
    t = time.perf_counter()
    model = Recommender().fit(world.catalogue, world.ratings)
    print(f"fit on {len(world.ratings)} ratings: {time.perf_counter() - t:.1f} s")
    t = time.perf_counter()
    big = model.rebind(grow(world.catalogue, args.big))
    print(f"rebind to {args.big} services: {time.perf_counter() - t:.1f} s")

    print(
        f"{'services':>9} {'median ms':>10} {'p99 ms':>8} {'floor med':>10} {'floor p99':>10}"
        f" {'ratio med':>10} {'ratio p99':>10}"
    )
    for label, m in (("700", model), (str(args.big), big)):
        full, floor = timings(m, world.new_people)
        fm, fp = np.median(full) * 1e3, np.percentile(full, 99) * 1e3
        lm, lp = np.median(floor) * 1e3, np.percentile(floor, 99) * 1e3
        print(
            f"{label:>9} {fm:10.2f} {fp:8.2f} {lm:10.3f} {lp:10.3f} {fm / lm:10.0f} {fp / lp:10.0f}"
        )


if __name__ == "__main__":
    main()
