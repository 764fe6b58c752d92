"""People known only by their groups (age band and sex: no needs, strengths or location, as
in public rating data): with ``Recommender(cold_start="group_gain")`` ranked by their groups'
mean normalised gain (``GroupStats.gain_scores``, ``cold_blend_``), issue 14's new people of
public film ratings."""

from __future__ import annotations

import copy
import datetime as dt

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from vcsmatch.catalogue.model import Catalogue, Service
from vcsmatch.evaluation.metrics import ndcg_at_k
from vcsmatch.features.person import Person
from vcsmatch.ranking.baselines import GroupPopularity
from vcsmatch.ranking.collaborative import GroupStats, normalised_gains
from vcsmatch.ranking.recommender import Recommender
from vcsmatch.ratings import TRAINING_COLUMNS

CELLS = ((30, "female"), (30, "male"), (70, "female"), (70, "male"))


def _world(seed: int) -> tuple[Catalogue, pd.DataFrame, list[Person], dict[str, dict[str, float]]]:
    """60 online services; people known by age and sex only. Each age-sex group's light
    raters (three in four people) rate 4 of their group's own 8 services, all 4s and 5s; heavy
    raters (one in four, every group alike) give 5s to the same 12 blockbusters and 2s or 3s
    to 20 other services. Group taste is the only signal; per rating, heavy raters are most
    of the log, per person they are a quarter of the people a new person may be."""
    rng = np.random.default_rng(seed)
    n_services = 60
    services = [
        Service(id=f"s{j:02d}", name=f"Service {j}", delivery_modes=["online"])
        for j in range(n_services)
    ]
    blockbusters, rest = np.arange(12), np.arange(12, n_services)
    own = [rng.choice(rest, size=8, replace=False) for _ in CELLS]
    t0 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    rows: list[dict[str, object]] = []
    new: list[Person] = []
    truth: dict[str, dict[str, float]] = {}
    for i in range(550):
        c = int(rng.integers(len(CELLS)))
        age, sex = CELLS[c]
        if rng.random() < 0.25:
            chosen = np.concatenate([blockbusters, rng.choice(rest, size=20, replace=False)])
            ratings = np.r_[np.full(len(blockbusters), 5), rng.choice([2, 3], size=20)]
        else:
            chosen = rng.choice(own[c], size=4, replace=False)
            ratings = rng.choice([4, 5], size=4)
        pid = f"p{i}"
        if i >= 400:  # the last 150 are new: none of their ratings is seen
            new.append(Person(age=age, sex=sex, reference=pid))
            gains = np.maximum(0, ratings - 3)
            truth[pid] = {f"s{j:02d}": float(g) for j, g in zip(chosen, gains, strict=True)}
            continue
        for j, r in zip(chosen, ratings, strict=True):
            rows.append(
                {
                    "person_id": pid,
                    "service_id": f"s{j:02d}",
                    "rating": int(r),
                    "practitioner_id": "prac-1",
                    "rated_at": pd.Timestamp(t0 + dt.timedelta(minutes=len(rows))),
                    "age": float(age),
                    "sex": sex,
                    "needs": (),
                    "strengths": (),
                    "latitude": float("nan"),
                    "longitude": float("nan"),
                }
            )
    frame = pd.DataFrame(rows, columns=list(TRAINING_COLUMNS))
    return Catalogue(services=services), frame, new, truth


def _mean_ndcg(model: object, people: list[Person], truth: dict, n: int) -> float:
    lists = model.recommend_batch(people, top_k=n, explain=False)  # type: ignore[attr-defined]
    values = [
        ndcg_at_k([s.service_id for s in ranked], truth[p.reference], 10)
        for p, ranked in zip(people, lists, strict=True)
    ]
    return float(np.mean([v for v in values if v is not None]))


@pytest.fixture(scope="module")
def fitted() -> tuple[Recommender, GroupPopularity, list[Person], dict, int]:
    catalogue, frame, people, truth = _world(seed=1)
    model = Recommender(random_state=0, show_progress=False, cold_start="group_gain")
    model.fit(catalogue, frame)
    baseline = GroupPopularity().fit(catalogue, frame)
    return model, baseline, people, truth, len(catalogue)


def test_new_people_known_by_groups_get_at_least_group_popularity(fitted) -> None:  # noqa: ANN001
    """New people known only by age and sex: the model ranks at least as well as per-group
    popularity (on this world the full blend, fitted row by row where heavy raters are most
    rows, ranks the blockbusters first and scores about half of it)."""
    model, baseline, people, truth, n = fitted
    ours = _mean_ndcg(model, people, truth, n)
    theirs = _mean_ndcg(baseline, people, truth, n)
    assert ours >= theirs
    blend_only = copy.copy(model)
    blend_only.cold_blend_ = None  # what cold_start="blend" does
    assert _mean_ndcg(blend_only, people, truth, n) < theirs


def test_people_with_needs_or_a_location_keep_the_full_blend(fitted) -> None:  # noqa: ANN001
    """Only a person known by nothing but their groups is scored by the cold blend: a need,
    a strength, coordinates or a delivery preference bring the full blend back."""
    model = fitted[0]
    cold = Person(age=30, sex="female")
    ids = [s.id for s in model.catalogue_.services]
    cold_scores = model.score_services(cold, ids)
    rows = np.arange(len(ids))
    x = model._bound.groups.gain_scores(model._person_group_rows(cold), rows)
    np.testing.assert_allclose(cold_scores, model.cold_blend_.predict(x[:, None]))
    for warm in (
        Person(age=30, sex="female", latitude=52.05, longitude=1.15),
        Person(age=30, sex="female", delivery_modes=["online"]),
        Person(age=30, sex="female", needs=["social-isolation"]),
    ):
        location = (warm.latitude, warm.longitude) if warm.latitude is not None else None
        pv, blend, feats = model._scored(warm, location, 25.0, rows)
        assert blend is model.blend_
        np.testing.assert_allclose(model.score_services(warm, ids), blend.predict(feats))


def test_saved_model_keeps_the_cold_blend(fitted, tmp_path) -> None:  # noqa: ANN001
    model = fitted[0]
    model.save(tmp_path / "m")
    loaded = Recommender.load(tmp_path / "m")
    person = Person(age=70, sex="male")
    ids = [s.id for s in model.catalogue_.services]
    np.testing.assert_allclose(
        loaded.score_services(person, ids), model.score_services(person, ids)
    )
    assert [s.service_id for s in loaded.recommend(person, top_k=5)] == [
        s.service_id for s in model.recommend(person, top_k=5)
    ]


def test_the_default_is_the_group_gain_and_blend_scores_everyone_with_the_full_blend() -> None:
    """The default (what ``vcsmatch train`` fits) ranks people known only by their groups by
    the group gain; ``cold_start="blend"`` keeps the full blend for them too."""
    catalogue, frame, _, _ = _world(seed=2)
    model = Recommender(random_state=0, show_progress=False).fit(catalogue, frame)
    assert model.cold_start == "group_gain" and model.cold_blend_ is not None
    blend = Recommender(random_state=0, show_progress=False, cold_start="blend")
    assert blend.fit(catalogue, frame).cold_blend_ is None
    with pytest.raises(ValueError, match="'cold_start' parameter of Recommender"):
        Recommender(cold_start="groups", show_progress=False).fit(catalogue, frame)


def test_normalised_gains_divide_by_each_persons_ideal_dcg() -> None:
    """Person 0 rated a 5 and a 4 (ideal DCG 2 + 1/log2(3)); person 1 a single 4 (ideal 1)
    and a 2 (gain 0); person 2 only a 3 (no gain: 0, not a division by zero)."""
    people = np.array([0, 0, 1, 1, 2])
    ratings = np.array([5, 4, 2, 4, 3])
    ideal0 = 2 + 1 / np.log2(3)
    np.testing.assert_allclose(
        normalised_gains(people, ratings, 3), [2 / ideal0, 1 / ideal0, 0.0, 1.0, 0.0]
    )


def test_gain_scores_count_each_person_once_whatever_they_rated() -> None:
    """Group 0: one person rated services 0 to 9 all 5s, two people rated service 10 a 4
    each. Per rating the heavy rater is most of the group's log; per person service 10 is
    liked by two of three, so it comes first (popularity, which counts people, agrees; a
    fixed order by it is what the expected NDCG of a new member rewards)."""
    people = np.r_[np.zeros(10, dtype=int), 1, 2]
    services = np.r_[np.arange(10), 10, 10]
    ratings = np.r_[np.full(10, 5), 4, 4]
    member = sp.csr_matrix(np.ones((3, 1)))
    stats = GroupStats(shrinkage=1.0).fit(
        member, people, services, ratings >= 4, 11, np.full(11, 0.5), rating=ratings
    )
    scores = stats.gain_scores([0], np.arange(11))
    assert scores is not None
    assert int(np.argmax(scores)) == 10
    # without rating sums (``fit`` given no ratings) there is nothing to score
    plain = GroupStats(shrinkage=1.0).fit(member, people, services, ratings >= 4, 11, np.ones(11))
    assert plain.gain_scores([0], np.arange(11)) is None
