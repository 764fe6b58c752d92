"""The self-selected world: a ratings log missing not at random, and a random slice."""

from __future__ import annotations

import numpy as np
import pytest

from vcsmatch.features.eligibility import EligibilityFilter
from vcsmatch.features.location import locate
from vcsmatch.synthetic import SelfSelectedWorld, make_self_selected, make_world


@pytest.fixture(scope="module")
def ss() -> SelfSelectedWorld:
    world = make_world(n_services=120, n_people=400, n_new_people=40, seed=3, online_only=True)
    return make_self_selected(world, seed=3)


def test_the_log_favours_what_was_liked_and_popular(ss: SelfSelectedWorld) -> None:
    """Self-selected ratings run higher than the random slice's, and crowd onto the services
    the old tool showed most, while the slice spreads over the catalogue."""
    assert ss.ratings["rating"].mean() > ss.slice["rating"].mean() + 0.5
    popular = set(ss.exposures["service_id"].value_counts().index[: len(ss.world.catalogue) // 10])
    log_share = ss.ratings["service_id"].isin(popular).mean()
    slice_share = ss.slice["service_id"].isin(popular).mean()
    assert log_share > 2 * slice_share
    assert slice_share < 0.25


def test_exposures_hold_every_rating_with_a_propensity(ss: SelfSelectedWorld) -> None:
    """Every logged rating was shown first, and each shown service has a probability in (0, 1]."""
    shown = ss.exposures
    assert int(shown["rated"].sum()) == len(ss.ratings)
    rated = shown[shown["rated"]]
    assert set(zip(rated["person_id"], rated["service_id"], strict=True)) == set(
        zip(ss.ratings["person_id"], ss.ratings["service_id"], strict=True)
    )
    assert ((shown["propensity"] > 0) & (shown["propensity"] <= 1)).all()


def test_slice_is_eligible_and_people_carry_demographics_only(ss: SelfSelectedWorld) -> None:
    """The slice rates only services each new person may use; needs are not on record."""
    rules = EligibilityFilter().fit(ss.world.catalogue)
    index = ss.world.catalogue.index()
    people = {p.reference: p for p in ss.new_people}
    for ref, group in ss.slice.groupby("person_id"):
        ok = rules.check(people[ref], locate(people[ref])).eligible
        assert all(ok[index[s]] for s in group["service_id"])
    assert all(not p.needs and not p.strengths for p in ss.new_people)
    assert all(len(n) == 0 for n in ss.ratings["needs"])


def test_same_arguments_same_world(ss: SelfSelectedWorld) -> None:
    """The world is deterministic for a given world and seed, and another seed differs."""
    again = make_self_selected(ss.world, seed=3)
    assert again.ratings.equals(ss.ratings) and again.slice.equals(ss.slice)
    other = make_self_selected(ss.world, seed=4)
    assert not np.array_equal(other.slice["service_id"], ss.slice["service_id"])
