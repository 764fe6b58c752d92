"""Finding many people's candidates at once gives what finding each one gives."""

from __future__ import annotations

import numpy as np

from vcsmatch.features.person import Person
from vcsmatch.features.service import ServiceFeatures
from vcsmatch.ranking.candidates import CandidateFinder
from vcsmatch.synthetic import World


def test_find_many_equals_find_for_each(small_world: World) -> None:
    """One spatial query for many people (some with no location) returns, person by person,
    the same rows and distances as one ``find`` each."""
    cat = small_world.catalogue
    finder = CandidateFinder().fit(cat, ServiceFeatures().fit(cat).modes_)
    people = list(small_world.new_people[:15])
    people.append(Person(age=80, sex="male", needs=["dementia"]))  # no location
    locs = [None if p.latitude is None else (p.latitude, p.longitude) for p in people]
    assert sum(loc is not None for loc in locs) >= 5
    many = finder.find_many(people, locs, 8.0)
    assert len(many) == len(people)
    assert any(len(c.rows) for c in many)
    for person, loc, got in zip(people, locs, many, strict=True):
        one = finder.find(person, loc, 8.0)
        np.testing.assert_array_equal(got.rows, one.rows)
        np.testing.assert_allclose(got.distance_km, one.distance_km)
        np.testing.assert_array_equal(got.eligibility.eligible, one.eligibility.eligible)


def test_count_meeting_counts_what_find_finds(small_world: World) -> None:
    """Per person and need, ``count_meeting`` gives the number of ``find`` candidates meeting
    the need, for people sharing places with different ages, sexes and needs (specialist
    ones too), and for people with no location."""
    cat = small_world.catalogue
    finder = CandidateFinder().fit(cat, ServiceFeatures().fit(cat).modes_)
    services = list(cat)
    codes = sorted({n for s in services for n in s.all_needs})
    meets = {c: np.array([c in s.all_needs for s in services]) for c in codes}
    places = [(p.latitude, p.longitude) for p in small_world.new_people if p.latitude is not None]
    rng = np.random.default_rng(3)
    people, locs = [], []
    for i in range(120):
        needs = list(rng.choice(codes, size=int(rng.integers(1, 4)), replace=False))
        if i % 7 == 0:
            needs.append("domestic-abuse")
        if i % 11 == 0:
            needs.append("substance-misuse")
        people.append(
            Person(
                age=int(rng.choice([16, 25, 50, 64, 65, 80, 95])),
                sex=("female", "male", "not_recorded")[i % 3],
                needs=needs,
            )
        )
        locs.append(None if i % 9 == 0 else places[i % 5])
    got = finder.count_meeting(people, locs, 8.0, meets)
    nonzero = 0
    for person, loc, counts in zip(people, locs, got, strict=True):
        rows = finder.find(person, loc, 8.0).rows
        want = {n: int(meets[n][rows].sum()) for n in person.needs if n in meets}
        assert counts == want
        nonzero += any(counts.values())
    assert nonzero > 30  # the comparison is not between empty answers


def test_a_service_also_reached_remotely_loses_less_with_distance() -> None:
    """Distance decay: full for a service met only in person, ``REMOTE_ALTERNATIVE_DECAY``
    of it when the service also phones or meets online, none when it needs no travel."""
    from vcsmatch.ranking.content import REMOTE_ALTERNATIVE_DECAY, distance_fit

    d = np.array([0.0, 5.0, 10.0, 20.0])
    alone = distance_fit(d, 20.0, np.zeros(4, dtype=bool))
    mixed = distance_fit(d, 20.0, np.zeros(4, dtype=bool), REMOTE_ALTERNATIVE_DECAY)
    no_travel = distance_fit(d, 20.0, np.ones(4, dtype=bool))
    np.testing.assert_allclose(alone, [1.0, 0.8, 0.5, 0.2])
    np.testing.assert_allclose(1.0 - mixed, REMOTE_ALTERNATIVE_DECAY * (1.0 - alone))
    np.testing.assert_allclose(no_travel, 1.0)


def test_max_nearby_keeps_the_nearest_travel_candidates_and_every_remote_one(
    small_world: World,
) -> None:
    """With a cap, the services reached by travel are the nearest ``max_nearby`` of those
    within the radius; remote services are all still there; a cap above the count changes
    nothing."""
    cat = small_world.catalogue
    finder = CandidateFinder().fit(cat, ServiceFeatures().fit(cat).modes_)
    located = [p for p in small_world.new_people if p.latitude is not None]
    checked = 0
    for p in located[:8]:
        loc = (p.latitude, p.longitude)
        full = finder.find(p, loc, 25.0)
        travelled = ~np.isnan(full.distance_km)
        if travelled.sum() < 4:
            continue
        capped = finder.find(p, loc, 25.0, max_nearby=3)
        assert (~np.isnan(capped.distance_km)).sum() <= 3
        kept = capped.rows[~np.isnan(capped.distance_km)]
        # no dropped travel candidate is nearer than the farthest one kept
        dropped = np.setdiff1d(full.rows[travelled], kept)
        far = capped.distance_km[~np.isnan(capped.distance_km)].max(initial=0.0)
        near_dropped = full.distance_km[np.isin(full.rows, dropped)]
        assert (near_dropped >= far - 1e-9).all()
        remote = full.rows[~travelled]
        assert np.isin(remote, capped.rows).all()
        loose = finder.find(p, loc, 25.0, max_nearby=len(cat) + 1)
        np.testing.assert_array_equal(loose.rows, full.rows)
        checked += 1
    assert checked >= 3


def test_a_location_known_only_by_postcode_makes_its_service_a_candidate() -> None:
    """Regression (issue 14, defect 4b): an in-person service whose one location has a postcode
    and no coordinates is found near that postcode, at the distance the service features and
    the pairs' service points give it; before, the candidate search left it out."""
    from vcsmatch.catalogue.model import Catalogue, Location, Service
    from vcsmatch.features.location import get_postcode_directory
    from vcsmatch.ranking.pairs import ServicePoints

    ipswich = get_postcode_directory().lookup("IP1 1AA")
    felixstowe = get_postcode_directory().lookup("IP11 7AA")  # about 17 km away
    cat = Catalogue(
        services=[
            Service(
                id="by-postcode",
                name="Drop-in by postcode",
                delivery_modes=["in_person"],
                locations=[Location(name="Hall", postcode="IP1 1AA")],
            ),
            Service(
                id="by-coordinates",
                name="Drop-in by coordinates",
                delivery_modes=["in_person"],
                locations=[Location(latitude=felixstowe[0], longitude=felixstowe[1])],
            ),
        ]
    )
    features = ServiceFeatures().fit(cat)
    assert np.isfinite(features.lat_[0])
    finder = CandidateFinder().fit(cat, features.modes_)
    near = finder.find(Person(age=40), ipswich, 5.0)
    assert near.rows.tolist() == [0]
    assert near.distance_km[0] < 0.5
    both = finder.find(Person(age=40), ipswich, 25.0)
    assert both.rows.tolist() == [0, 1]
    points = ServicePoints.of(cat)
    km = points.nearest_km(np.array(ipswich[0]), np.array(ipswich[1]), np.array([0, 1]))
    np.testing.assert_allclose(km, both.distance_km)
