"""Hand-built services, people and ratings for ranking tests whose right answer is known."""

from __future__ import annotations

import datetime as dt

import pandas as pd

from vcsmatch.catalogue.model import Catalogue, Eligibility, Location, Service
from vcsmatch.features.person import Person
from vcsmatch.ratings import TRAINING_COLUMNS

#: Ipswich town centre; hand-built services sit around it.
CENTRE = (52.0567, 1.1482)


def service(
    sid: str,
    *,
    needs: tuple[str, ...] = (),
    activities: tuple[str, ...] = (),
    modes: tuple[str, ...] = ("in_person",),
    km_north: float = 0.5,
    min_age: int | None = None,
    sex: str | None = None,
) -> Service:
    """A service ``km_north`` km north of the centre (or nowhere, when not in person)."""
    locations = []
    if "in_person" in modes or "home_visit" in modes:
        locations = [Location(latitude=CENTRE[0] + km_north / 111.2, longitude=CENTRE[1])]
    return Service(
        id=sid,
        name=sid.replace("-", " "),
        needs=list(needs),
        activities=list(activities),
        delivery_modes=list(modes),
        locations=locations,
        eligibility=Eligibility(min_age=min_age, sex=sex),
    )


def person(**kw: object) -> Person:
    """A person at the centre (override anything)."""
    base: dict[str, object] = {
        "latitude": CENTRE[0],
        "longitude": CENTRE[1],
        "age": 70,
        "sex": "female",
        "needs": ["social-isolation"],
    }
    base.update(kw)
    return Person(**base)  # type: ignore[arg-type]


def ratings_frame(rows: list[tuple[str, str, int, Person]]) -> pd.DataFrame:
    """A training frame from ``(person_id, service_id, rating, person)`` rows."""
    t0 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    records = []
    for i, (pid, sid, rating, p) in enumerate(rows):
        records.append(
            {
                "person_id": pid,
                "service_id": sid,
                "rating": rating,
                "practitioner_id": "prac-1",
                "rated_at": pd.Timestamp(t0 + dt.timedelta(minutes=i)),
                "age": float(p.age) if p.age is not None else float("nan"),
                "sex": p.sex,
                "needs": tuple(p.needs),
                "strengths": tuple(p.strengths),
                "latitude": p.latitude if p.latitude is not None else float("nan"),
                "longitude": p.longitude if p.longitude is not None else float("nan"),
            }
        )
    return pd.DataFrame(records, columns=list(TRAINING_COLUMNS))


def catalogue(*services: Service) -> Catalogue:
    return Catalogue(services=list(services))
