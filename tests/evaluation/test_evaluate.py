"""evaluate() compares rankers in one run; the HTML report is written with its plots."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from vcsmatch.evaluation import (
    BASELINE_NAMES,
    evaluate,
    people_from_frame,
    split_by_person,
    write_html_report,
)
from vcsmatch.ranking.baselines import GroupPopularity
from vcsmatch.synthetic import make_world


@pytest.fixture(scope="module")
def world():
    return make_world(n_services=80, n_people=300, n_new_people=60, seed=7)


def test_evaluate_scores_every_baseline_alongside_the_model(world):
    """A run holds the model and all four baselines, with true NDCG and no ineligible picks."""
    result = evaluate(
        {"model": GroupPopularity(shrinkage=5.0)},
        world.catalogue,
        world.ratings,
        people=world.new_people,
        truth=world.new_relevance,
        progress=False,
    )
    assert list(result.models) == ["model", *BASELINE_NAMES]
    assert result.primary == "true_ndcg"
    for scores in result.models.values():
        assert 0.0 <= scores.true_ndcg <= 1.0
        assert scores.ineligible == 0
        assert scores.coverage > 0 and math.isnan(scores.ndcg)
        assert set(scores.ndcg_by_group) == {"sex", "age band"}
    # Rankers that know the person's needs beat the one that knows only distance.
    assert result.score("content-only") > result.score("nearest")
    assert result.ratio("model", "nearest") == pytest.approx(
        result.models["model"].true_ndcg / result.models["nearest"].true_ndcg
    )


def test_true_relevance_oracle_scores_one(world):
    """Ranking by the true relevance itself gives a true NDCG of 1: the metric is wired right."""

    class Oracle:
        def __init__(self) -> None:
            pass

        def get_params(self, deep: bool = False) -> dict:
            return {}

        def fit(self, catalogue, ratings):  # noqa: ANN001, ANN201
            self.ids_ = catalogue.ids()
            return self

        def recommend_batch(self, people, top_k=10):  # noqa: ANN001, ANN201
            from vcsmatch.ranking.result import Suggestion

            out = []
            for p in people:
                rel = world.true_relevance(p)
                order = np.argsort(-rel, kind="stable")[:top_k]
                out.append(
                    [Suggestion(self.ids_[j], float(rel[j]), r + 1) for r, j in enumerate(order)]
                )
            return out

    result = evaluate(
        {"oracle": Oracle()},
        world.catalogue,
        world.ratings,
        people=world.new_people,
        truth=world.true_relevance,
        baselines=False,
        progress=False,
    )
    assert result.models["oracle"].true_ndcg == pytest.approx(1.0)
    assert result.models["oracle"].true_recall == pytest.approx(1.0)


def test_held_out_ratings_are_the_judgement_without_truth(world):
    """With a person split only, NDCG and recall come from the test people's ratings."""
    train, test = split_by_person(world.ratings, test_size=0.25, seed=0)
    result = evaluate({}, world.catalogue, train, test, k=5, split="person", progress=False)
    assert result.primary == "ndcg" and result.n_test_people == test["person_id"].nunique()
    for scores in result.models.values():
        assert 0.0 <= scores.ndcg <= 1.0 and 0.0 <= scores.recall <= 1.0
    assert len(people_from_frame(test)) == result.n_test_people


def test_truth_with_the_wrong_shape_is_refused(world):
    """A relevance matrix that does not match people x services is a clear error."""
    with pytest.raises(ValueError, match="one row per person"):
        evaluate(
            {},
            world.catalogue,
            world.ratings,
            people=world.new_people,
            truth=np.ones((3, 3)),
            progress=False,
        )


def test_html_report_embeds_the_plots(world, tmp_path: Path):
    """The report is one HTML file with the score table and base64 PNG plots."""
    result = evaluate(
        {},
        world.catalogue,
        world.ratings,
        people=world.new_people,
        truth=world.new_relevance,
        progress=False,
        split="new people",
    )
    path = write_html_report(result, tmp_path / "report.html")
    text = path.read_text(encoding="utf-8")
    assert text.startswith("<!doctype html>")
    assert text.count("data:image/png;base64,") >= 4
    assert "group-popularity" in text and "new people" in text


class _ByRating:
    """Ranks every service by the person's own held-out rating (best or worst first)."""

    def __init__(self, test=None, worst_first: bool = False) -> None:  # noqa: ANN001
        self.test = test
        self.worst_first = worst_first

    def get_params(self, deep: bool = False) -> dict:
        return {"test": self.test, "worst_first": self.worst_first}

    def fit(self, catalogue, ratings):  # noqa: ANN001, ANN201
        self.ids_ = catalogue.ids()
        return self

    def recommend_batch(self, people, top_k=10):  # noqa: ANN001, ANN201
        from vcsmatch.ranking.result import Suggestion

        out = []
        for p in people:
            mine = self.test[self.test["person_id"] == p.reference]
            score = dict(zip(mine["service_id"], mine["rating"], strict=True))
            sign = 1 if self.worst_first else -1
            order = sorted(self.ids_, key=lambda s: (sign * score.get(s, 0), s))[:top_k]
            out.append([Suggestion(s, 0.0, r + 1) for r, s in enumerate(order)])
        return out


def test_rated_protocol_scores_the_order_of_rated_services(world):
    """Ordering each person's rated services by their ratings scores 1; the reverse less."""
    train, test = split_by_person(world.ratings, test_size=0.2, seed=1)
    result = evaluate(
        {"best": _ByRating(test), "worst": _ByRating(test, worst_first=True)},
        world.catalogue,
        train,
        test,
        baselines=False,
        progress=False,
    )
    assert result.models["best"].rated_ndcg == pytest.approx(1.0)
    assert result.models["best"].ndcg == pytest.approx(1.0)
    assert result.models["worst"].rated_ndcg < 0.8


class _AlwaysSpecialist:
    """Not a ranker: suggests the catalogue's specialist services to everyone, first."""

    def get_params(self, deep: bool = False) -> dict:
        return {}

    def fit(self, catalogue, ratings):  # noqa: ANN001, ANN201
        from vcsmatch.features.specialist import SpecialistServices

        special = SpecialistServices().fit(catalogue)
        ids = np.asarray(catalogue.ids(), dtype=object)
        self.ids_ = list(ids[special.specialist_]) + list(ids[~special.specialist_])
        return self

    def recommend_batch(self, people, top_k: int = 10):  # noqa: ANN001, ANN201
        from vcsmatch.ranking.result import Suggestion

        return [
            [Suggestion(sid, 1.0 / (r + 1), r + 1) for r, sid in enumerate(self.ids_[:top_k])]
            for _ in people
        ]


def test_specialist_and_off_need_figures_are_reported(world):
    """Every ranker of the run reports no specialist service without its need and its
    off-need share of the top five; a ranker that ignores needs is caught on both."""
    result = evaluate(
        {"careless": _AlwaysSpecialist()},
        world.catalogue,
        world.ratings,
        people=world.new_people,
        truth=world.new_relevance,
        progress=False,
    )
    careless = result.models.pop("careless")
    assert careless.specialist > 0
    # against the rankers that read needs (the mean-rating baseline is need-blind by design)
    assert careless.off_need > max(
        result.models[m].off_need for m in ("content-only", "group-popularity")
    )
    for scores in result.models.values():
        assert scores.specialist == 0
        assert 0.0 <= scores.off_need <= 1.0
    assert "off_need@5" in result.to_frame().columns
