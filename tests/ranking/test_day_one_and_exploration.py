"""The day-one model (fitted on no ratings) and exploration slots."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from vcsmatch.features.eligibility import EligibilityFilter
from vcsmatch.features.location import locate
from vcsmatch.ranking.baselines import ContentOnly
from vcsmatch.ranking.exploration import Exploration, exploration_pool
from vcsmatch.ranking.recommender import Recommender
from vcsmatch.synthetic import World


@pytest.fixture(scope="module")
def day_one(small_world: World) -> Recommender:
    return Recommender(show_progress=False).fit(small_world.catalogue, small_world.ratings[:0])


@pytest.fixture(scope="module")
def learned(small_world: World) -> Recommender:
    return Recommender(show_progress=False).fit(small_world.catalogue, small_world.ratings)


def test_day_one_model_ranks_on_content_and_says_so(day_one: Recommender, small_world: World):
    """With no ratings, suggestions come from content alone; none claims practitioners' ratings,
    every one says it is not rated yet, and the order agrees with the content score."""
    assert not day_one.learned_from_ratings_ and day_one.n_ratings_ == 0
    content = ContentOnly().fit(small_world.catalogue)
    agree = []
    for person in small_world.new_people:
        suggestions = day_one.recommend(person, top_k=10)
        assert suggestions
        for s in suggestions:
            kinds = {r.kind for r in s.reasons}
            assert "new_service" in kinds
            assert not kinds & {"collaborative", "prior", "need_evidence"}
        ours = {s.service_id for s in suggestions}
        theirs = {s.service_id for s in content.recommend(person, top_k=10)}
        agree.append(len(ours & theirs) / 10)
    assert np.mean(agree) >= 0.6


def test_day_one_model_saves_loads_and_rebinds(
    day_one: Recommender, small_world: World, tmp_path: Path
) -> None:
    """A day-one model round-trips through save/load and over a new catalogue version."""
    day_one.save(tmp_path / "m")
    loaded = Recommender.load(tmp_path / "m")
    person = small_world.new_people[0]
    assert [s.service_id for s in loaded.recommend(person)] == [
        s.service_id for s in day_one.recommend(person)
    ]
    smaller = small_world.catalogue.model_copy(
        update={"services": small_world.catalogue.services[:-5]}
    )
    rebound = loaded.rebind(smaller)
    kept = {s.id for s in smaller.services}
    assert {s.service_id for s in rebound.recommend(person)} <= kept


def test_exploration_slots_are_below_the_top_three_and_logged(
    learned: Recommender, small_world: World
) -> None:
    """Explored slots are never in the top three, hold only eligible little-rated services
    that meet a need, carry their draw probability and say why they are there; scores never
    rise down the list."""
    policy = Exploration(share=0.2, max_ratings=1_000_000)
    rng = np.random.default_rng(0)
    eligibility = EligibilityFilter().fit(small_world.catalogue)
    index = small_world.catalogue.index()
    explored = 0
    for person in small_world.new_people:
        suggestions = learned.recommend(person, top_k=10, exploration=policy, rng=rng)
        scores = [s.score for s in suggestions]
        assert scores == sorted(scores, reverse=True)
        ok = eligibility.check(person, locate(person)).eligible
        for s in suggestions:
            assert ok[index[s.service_id]]
            drawn = s.reasons[0].kind == "exploration"
            if not drawn:
                assert s.propensity == 1.0
            else:
                explored += 1
                assert s.rank > 3
                assert 0 < s.propensity <= 1
                service = small_world.catalogue.services[index[s.service_id]]
                assert set(person.needs) & set(service.needs + service.inferred_needs)
                assert s.reasons[0].text.startswith("new to the list")
    assert explored > 0


def test_exploration_off_is_deterministic(learned: Recommender, small_world: World) -> None:
    """Share 0 (or no policy) gives exactly the plain ranking, with propensity 1."""
    person = small_world.new_people[1]
    plain = learned.recommend(person, top_k=10)
    off = learned.recommend(person, top_k=10, exploration=Exploration(share=0.0))
    assert [s.service_id for s in plain] == [s.service_id for s in off]
    assert all(s.propensity == 1.0 for s in off)


def test_exploration_slot_count_and_pool() -> None:
    """One slot in ten (half up), never above the protected top; the pool needs a need met
    (or, with no needs, a strength) and little evidence."""
    policy = Exploration(share=0.1)
    assert [policy.n_slots(k) for k in (1, 3, 4, 5, 8, 10, 20)] == [0, 0, 0, 1, 1, 1, 2]
    need = np.array([0.5, 0.0, 1.0, 0.5])
    strength = np.array([0.0, 1.0, 0.0, 0.0])
    counts = np.array([0, 0, 9, 2])
    assert exploration_pool(need, strength, counts, 5, has_needs=True).tolist() == [0, 3]
    assert exploration_pool(need, strength, counts, 5, has_needs=False).tolist() == [1]
    drawn, p = policy.draw(np.array([4, 7, 9, 11]), 1, np.random.default_rng(3))
    assert len(drawn) == 1 and p == pytest.approx(0.25)
    with pytest.raises(ValueError, match="'share' parameter of Exploration"):
        Exploration(share=1.5)
