"""The gaps insight on a large request log, before and after counting candidates for all
requests at once: ``python benchmarks/gaps.py [--requests 20000] [--places 2000]``.

Builds a synthetic county (700 services), fits the recommender, writes ``--requests``
synthetic requests (ages, sexes and one to three needs drawn at random, homes drawn from
``--places`` points, as postcode centroids repeat in a real log) to a scratch SQLite store,
then times, side by side in one run,

- before: the candidate finder run once per distinct request (``CandidateFinder.find``, the
  gaps insight's first version, kept here as the reference);
- after: ``vcsmatch.store.insights.gaps`` (``CandidateFinder.count_meeting``);

checks that both give the same rows, and prints the times and their ratio.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import tempfile
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
from _common import machine
from sqlalchemy import create_engine
from sqlalchemy.orm import Session

from vcsmatch.ranking.recommender import Recommender
from vcsmatch.store import insights
from vcsmatch.store.tables import Base, RatingRow, RecommendationRequestRow
from vcsmatch.synthetic import make_world


def write_log(session: Session, world: Any, n_requests: int, n_places: int, seed: int) -> None:
    """``n_requests`` synthetic requests from ``n_places`` homes jittered around the county's
    people; every twentieth request rated relevant."""
    rng = np.random.default_rng(seed)
    homes = [(p.latitude, p.longitude) for p in world.new_people if p.latitude is not None]
    base = np.array(homes)[rng.integers(0, len(homes), n_places)]
    places = base + rng.normal(0.0, 0.01, base.shape)
    needs = sorted({n for s in world.catalogue for n in s.all_needs})
    when = dt.datetime(2026, 6, 1, tzinfo=dt.UTC)
    for i in range(n_requests):
        lat, lon = places[rng.integers(0, n_places)] if i % 25 else (None, None)
        asked = list(rng.choice(needs, size=int(rng.integers(1, 4)), replace=False))
        request_id = uuid.uuid4().hex
        session.add(
            RecommendationRequestRow(
                request_id=request_id,
                created_at=when,
                age=int(rng.integers(18, 100)),
                sex=("female", "male", "not_recorded")[i % 3],
                needs=json.dumps(asked),
                latitude=None if lat is None else float(lat),
                longitude=None if lon is None else float(lon),
                district=f"IP{int(rng.integers(1, 15))}",
            )
        )
        if i % 20 == 0:
            session.add(
                RatingRow(
                    body_sha256="0" * 64,
                    person_key="p",
                    request_id=request_id,
                    service_id="x",
                    rating=5,
                    rated_at=when,
                )
            )
    session.commit()


def per_request_gaps(session: Session, recommender: Any) -> list[insights.GapRow]:
    """The first version: ``CandidateFinder.find`` once per distinct request (same features,
    same candidates), then the same rows."""
    requests, relevant = insights.logged_requests(session)
    finder = recommender.candidates_
    needs_of = [set(s.all_needs) for s in recommender.catalogue_]
    radius = float(recommender.default_radius_km)
    seen: dict[tuple[Any, ...], dict[str, int]] = {}
    reach = []
    for r in requests:
        p = r.person
        features = (p.age, p.sex, tuple(p.needs), r.location)
        if features not in seen:
            found = finder.find(p, r.location, radius)
            seen[features] = dict(
                Counter(n for row in found.rows.tolist() for n in needs_of[row] if n in p.needs)
            )
        reach.append({n: seen[features].get(n, 0) for n in p.needs})
    return insights.gap_rows(
        requests,
        relevant,
        reach,
        high_demand_at=insights.HIGH_DEMAND_AT,
        thin_at_most=insights.THIN_AT_MOST,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=20_000)
    parser.add_argument("--places", type=int, default=2_000)
    args = parser.parse_args()
    print(machine())
    world = make_world(n_services=700, n_people=3000, n_new_people=300, seed=0)
    model = Recommender().fit(world.catalogue, world.ratings)
    with tempfile.TemporaryDirectory() as scratch:
        engine = create_engine(f"sqlite:///{Path(scratch) / 'log.db'}")
        Base.metadata.create_all(engine)
        with Session(engine) as session:
            write_log(session, world, args.requests, args.places, seed=1)
            t = time.perf_counter()
            before = per_request_gaps(session, model)
            before_s = time.perf_counter() - t
            t = time.perf_counter()
            after = insights.gaps(session, model)
            after_s = time.perf_counter() - t
        engine.dispose()
    assert after == before, "the two ways disagree"
    print(
        f"{args.requests} requests from {args.places} places, 700 services, "
        f"{len(after)} (need, district) rows, the same both ways"
    )
    print(f"{'':>28} {'seconds':>8}")
    print(f"{'before: find per request':>28} {before_s:8.2f}")
    print(f"{'after: count_meeting':>28} {after_s:8.2f}")
    print(f"{'ratio before / after':>28} {before_s / after_s:8.1f}x")


if __name__ == "__main__":
    main()
