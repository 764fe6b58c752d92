"""The held-out evaluation builds no reasons it throws away: rankers are asked for the order
only, and the order of the rated services comes from their scores."""

from __future__ import annotations

import numpy as np
import pytest

from vcsmatch.evaluation import evaluate, split_by_person
from vcsmatch.ranking.baselines import GroupPopularity
from vcsmatch.ranking.result import Suggestion
from vcsmatch.synthetic import make_world


@pytest.fixture(scope="module")
def world():
    return make_world(n_services=60, n_people=200, n_new_people=10, seed=2)


class _Recording:
    """Not a ranker: catalogue order for everyone, recording how it was asked."""

    calls: list[tuple[str, object]] = []

    def get_params(self, deep: bool = False) -> dict:
        return {}

    def fit(self, catalogue, ratings):  # noqa: ANN001, ANN201
        self.ids_ = catalogue.ids()
        return self

    def recommend_batch(self, people, top_k: int = 10, *, explain: bool = True):  # noqa: ANN001, ANN201
        self.calls.append(("recommend_batch", (top_k, explain)))
        ranked = [Suggestion(s, 1.0 / (r + 1), r + 1) for r, s in enumerate(self.ids_[:top_k])]
        return [ranked for _ in people]

    def score_services(self, person, service_ids):  # noqa: ANN001, ANN201
        self.calls.append(("score_services", len(service_ids)))
        return -np.array([self.ids_.index(s) for s in service_ids], dtype=float)


def test_evaluate_asks_for_the_order_only(world) -> None:
    """evaluate asks for top-k lists without reasons and orders rated services by score,
    never asking for a list as long as the catalogue."""
    train, test = split_by_person(world.ratings, test_size=0.3, seed=0)
    _Recording.calls = []
    result = evaluate(
        {"rec": _Recording()}, world.catalogue, train, test, baselines=False, progress=False
    )
    asked = [args for name, args in _Recording.calls if name == "recommend_batch"]
    assert asked and all(a == (10, False) for a in asked)
    assert any(name == "score_services" for name, _ in _Recording.calls)
    assert 0.0 <= result.models["rec"].rated_ndcg <= 1.0


def test_a_baseline_without_reasons_ranks_the_same(world) -> None:
    """``explain=False`` changes nothing but the reasons."""
    model = GroupPopularity().fit(world.catalogue, world.ratings)
    people = world.new_people
    with_reasons = model.recommend_batch(people, top_k=10)
    without = model.recommend_batch(people, top_k=10, explain=False)
    assert [[(s.service_id, s.score) for s in r] for r in with_reasons] == [
        [(s.service_id, s.score) for s in r] for r in without
    ]
    assert all(s.reasons for r in with_reasons for s in r)
    assert not any(s.reasons for r in without for s in r)
