"""The promotion gate and the off-policy estimate it uses."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from vcsmatch.evaluation.off_policy import snips
from vcsmatch.learner.gate import decide, split_newest
from vcsmatch.ranking.recommender import Recommender
from vcsmatch.synthetic import World, make_world


@pytest.fixture(scope="module")
def gate_world() -> tuple[World, pd.DataFrame]:
    world = make_world(n_services=80, n_people=500, n_new_people=10, seed=21)
    frame = world.ratings.sort_values("rated_at", kind="stable").reset_index(drop=True)
    frame["rating_id"] = np.arange(1, len(frame) + 1)
    frame["request_id"] = None
    return world, frame


def _fit(world: World, frame: pd.DataFrame) -> Recommender:
    cols = [c for c in frame.columns if c not in ("rating_id", "request_id")]
    return Recommender(show_progress=False).fit(world.catalogue, frame[cols])


def test_snips_by_hand() -> None:
    """Weights are 1/propensity where the target shows the item; the value self-normalises."""
    est = snips(np.array([2.0, 0.0, 1.0]), np.array([1.0, 1.0, 0.5]), np.array([1, 0, 1]))
    assert est.value == pytest.approx((2 * 1 + 1 * 2) / 3)
    assert est.n == 2 and est.se > 0
    none = snips(np.array([1.0]), np.array([1.0]), np.array([0]))
    assert none.n == 0 and np.isnan(none.value)
    with pytest.raises(ValueError, match="propensity"):
        snips(np.array([1.0]), np.array([0.0]), np.array([1]))


def test_split_holds_out_whole_new_people_the_serving_model_never_saw(gate_world) -> None:
    """Held out: newest people only, all of their ratings newer than the serving model's."""
    _, frame = gate_world
    train, held = split_newest(frame, new_after_id=len(frame) // 2, share=0.3)
    assert len(train) + len(held) == len(frame)
    assert not set(train["person_id"]) & set(held["person_id"])
    assert held["rating_id"].min() > len(frame) // 2
    assert len(held) <= 0.3 * len(frame)
    assert len(held) <= 0.5 * (frame["rating_id"] > len(frame) // 2).sum()


def test_a_model_learned_from_scrambled_ratings_is_kept_out(gate_world) -> None:
    """A candidate trained on ratings whose services were shuffled is worse than the serving
    model beyond noise: the gate keeps the serving model and says why."""
    world, frame = gate_world
    train, held = split_newest(frame, new_after_id=0, share=0.3)
    serving = _fit(world, train)
    rng = np.random.default_rng(0)
    scrambled = train.assign(service_id=rng.permutation(train["service_id"].to_numpy()))
    decision = decide(_fit(world, scrambled), serving, held, pd.DataFrame())
    assert not decision.promote
    assert decision.reason.startswith("worse than the serving model beyond noise")
    assert decision.comparisons["rated_ndcg"]["difference"] < 0


def test_a_model_that_learned_more_replaces_the_day_one_model(gate_world) -> None:
    """A model trained on ratings beats the day-one model on the held-out people: promoted."""
    world, frame = gate_world
    train, held = split_newest(frame, new_after_id=0, share=0.3)
    day_one = _fit(world, train.iloc[:0])
    decision = decide(_fit(world, train), day_one, held, pd.DataFrame())
    assert decision.promote, decision.reason
    assert decision.candidate.rated_ndcg > decision.serving.rated_ndcg
    assert decision.to_dict()["serving"]["held_out_people"] >= 10
