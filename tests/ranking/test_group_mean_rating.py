"""The per-group mean-rating baseline: a service's mean rating among the person's group,
shrunk to the overall mean, blind to how often the service was rated."""

from __future__ import annotations

import pandas as pd
import pytest

from vcsmatch.features.person import Person
from vcsmatch.ranking.baselines import GroupMeanRating
from vcsmatch.synthetic import World


def _ratings(world: World, rows: list[tuple[str, int, str, int, str]]) -> pd.DataFrame:
    """A training frame of (person, age, sex, rating) rows, each of service ``a`` or ``b``."""
    base = world.ratings.iloc[0]
    records = []
    for pid, age, sex, rating, service in rows:
        rec = base.to_dict()
        rec.update(person_id=pid, age=float(age), sex=sex, rating=rating, service_id=service)
        records.append(rec)
    return pd.DataFrame(records)


WOMAN = Person(age=70, sex="female", needs=[])
MAN = Person(age=70, sex="male", needs=[])


def _common_pair(world: World) -> tuple[str, str]:
    """Two services that are candidates for both the woman and the man."""
    model = GroupMeanRating().fit(world.catalogue, world.ratings)
    for_man = {s.service_id for s in model.recommend(MAN, top_k=500)}
    both = [s.service_id for s in model.recommend(WOMAN, top_k=500) if s.service_id in for_man]
    return both[0], both[1]


def test_ranks_by_the_groups_mean_rating_not_by_count(small_world: World) -> None:
    """A service women rate 5 beats one women rated 3 many times, and men see the reverse
    order when their own ratings say so."""
    a, b = _common_pair(small_world)
    rows = [(f"w{i}", 70, "female", 5, a) for i in range(3)]
    rows += [(f"x{i}", 70, "female", 3, b) for i in range(30)]
    rows += [(f"m{i}", 70, "male", 1, a) for i in range(3)]
    rows += [(f"n{i}", 70, "male", 4, b) for i in range(3)]
    model = GroupMeanRating(shrinkage=2.0).fit(small_world.catalogue, _ratings(small_world, rows))
    woman, man = WOMAN, MAN
    order_w = [s.service_id for s in model.recommend(woman, top_k=500) if s.service_id in (a, b)]
    order_m = [s.service_id for s in model.recommend(man, top_k=500) if s.service_id in (a, b)]
    assert order_w == [a, b]
    assert order_m == [b, a]
    mean = (3 * 5 + 30 * 3 + 3 + 12) / 39
    top = model.recommend(woman, top_k=500)
    score_a = next(s.score for s in top if s.service_id == a)
    assert score_a == pytest.approx((15 + 2 * mean) / 5)


def test_rejects_an_unknown_group(small_world: World) -> None:
    """A misspelt group is refused, naming the parameter and the value."""
    with pytest.raises(ValueError, match="'group' parameter of GroupMeanRating.*'sexx'"):
        GroupMeanRating(group="sexx").fit(small_world.catalogue, small_world.ratings)
