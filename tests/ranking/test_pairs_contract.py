"""Training features equal serving features: the blend learns from what it is served.

Regression test for the train/serve skew of issue 14: training built its pairs' features in one
method and serving in another, and they drifted (an in-person service that also phones got a
NaN distance when serving and its real distance when training; training took a service's first
location, serving its nearest).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from own_parts import DistanceSquared, LikedShare

from vcsmatch.catalogue.model import Catalogue, Location
from vcsmatch.features.location import locate
from vcsmatch.ranking.pairs import make_pairs
from vcsmatch.ranking.parts import default_parts, pair_features
from vcsmatch.ranking.recommender import Recommender
from vcsmatch.synthetic import World, make_world

#: Training people whose candidates are compared (all their candidates, every feature).
N_PEOPLE = 60


def _reshaped(world: World) -> Catalogue:
    """The world's catalogue with a second location 12 km east of every second in-person
    service, and a phone line for every third one: services reached both by travel and by
    phone, and services whose first location is not their nearest."""
    services = []
    in_person = 0
    for s in world.catalogue:
        if "in_person" in s.delivery_modes and s.locations:
            first = s.locations[0]
            update: dict[str, object] = {}
            if in_person % 2 == 0:
                second = Location(latitude=first.latitude, longitude=first.longitude + 0.18)
                update["locations"] = [first, second]
            if in_person % 3 == 0:
                update["delivery_modes"] = [*s.delivery_modes, "phone"]
            in_person += 1
            s = s.model_copy(update=update)
        services.append(s)
    return Catalogue(services=services)


#: The whole hybrid, each of its parts alone, and the hybrid with parts of one's own: the
#: contract holds for every part.
VARIANTS: dict[str, dict[str, Any]] = {
    "all": {},
    "content": {"parts__collaborative": "drop", "parts__priors": "drop"},
    "collaborative": {"parts__content": "drop", "parts__priors": "drop"},
    "priors": {"parts__content": "drop", "parts__collaborative": "drop"},
    "own": {"parts": [*default_parts(), ("liked", LikedShare()), ("far", DistanceSquared())]},
}

#: Features of each variant's blend that must be compared (a sample of each part's).
EXPECTED: dict[str, set[str]] = {
    "all": {"distance", "group_share", "als", "need_fit", "rated_quality"},
    "content": {"needs", "distance", "mode"},
    "collaborative": {"group_share", "taste", "als", "rated_taste", "kind_taste", "need_fit"},
    "priors": {"prior_lift", "quality", "rated_quality"},
    "own": {"distance", "group_share", "rated_quality", "liked_share", "distance_squared"},
}


#: A fitted variant: the model, its world, the reshaped catalogue and the variant's name.
Fitted = tuple[Recommender, World, Catalogue, str]


@pytest.fixture(scope="module")
def world() -> tuple[World, Catalogue]:
    world = make_world(n_services=80, n_people=300, n_new_people=0, seed=11)
    return world, _reshaped(world)


@pytest.fixture(scope="module", params=list(VARIANTS))
def fitted(request: pytest.FixtureRequest, world: tuple[World, Catalogue]) -> Fitted:
    w, catalogue = world
    model = Recommender(show_progress=False, n_folds=2).set_params(**VARIANTS[request.param])
    model.fit(catalogue, w.ratings)
    return model, w, catalogue, request.param


def test_training_features_equal_serving_features(
    fitted: Fitted,
) -> None:
    """For the same (person, service) pairs, the features training builds for the blend equal,
    feature by feature, those serving builds for the person's candidates."""
    model, world, catalogue, variant = fitted
    frame = model._ratings(world.ratings, catalogue)[0]
    X = model.person_features_.transform(frame)
    block = model._training_people(frame, X, model._membership(frame))
    served, p_rows, s_rows, cand_km = [], [], [], []
    for i, rec in enumerate(frame.iloc[:N_PEOPLE].itertuples(index=False)):
        person = model._training_person(rec)
        location = locate(person)
        radius = model.default_radius_km
        cands = model.candidates_.find(person, location, radius, model.max_nearby)
        pv = model.content_.person_vector(person, radius)
        served.append(model._candidate_features(person, pv, location, cands.rows))
        p_rows.append(np.full(len(cands.rows), i))
        s_rows.append(cands.rows)
        cand_km.append(cands.distance_km)
    serving = np.vstack(served)
    pairs = make_pairs(block, np.concatenate(p_rows), np.concatenate(s_rows), model._services)
    names = model.blend_.feature_names_
    training = model.blend_.impute(pair_features(pairs, model._bound, model._services, names))

    # the world exercises both drifts: phone-reachable services beyond the radius, and
    # services with a second location
    reachable_by_phone_only = np.isnan(np.concatenate(cand_km)) & np.isfinite(pairs.distance_km)
    assert reachable_by_phone_only.sum() >= 20
    two_places = np.diff(model._services.points.indptr) > 1
    assert two_places[pairs.service_rows].sum() >= 100

    assert set(names) >= EXPECTED[variant]
    for j, name in enumerate(names):
        np.testing.assert_allclose(
            serving[:, j], training[:, j], rtol=1e-5, atol=1e-6, err_msg=f"feature {name!r}"
        )


def test_distance_is_to_the_nearest_location(
    fitted: Fitted,
) -> None:
    """A pair's distance is to the service's nearest location, not its first."""
    model, _, catalogue, _ = fitted
    row = next(
        i for i, s in enumerate(catalogue) if len(s.locations) == 2 and s.locations[1].longitude
    )
    second = catalogue.services[row].locations[1]
    assert second.latitude is not None and second.longitude is not None
    lat, lon = second.latitude, second.longitude + 0.01  # beside the second location
    km = model._services.points.nearest_km(np.array([lat]), np.array([lon]), np.array([row]))
    assert km[0] < 1.0
