"""evaluate's off-policy figure (SNIPS): logged ratings weighted by the inverse of the chance
the old tool showed them, judged on what each ranker's top k holds."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from vcsmatch.evaluation import evaluate, split_by_person
from vcsmatch.evaluation.evaluate import check_exposures
from vcsmatch.evaluation.metrics import gain
from vcsmatch.ranking.result import Suggestion
from vcsmatch.synthetic import make_world


@pytest.fixture(scope="module")
def split():
    world = make_world(n_services=60, n_people=200, n_new_people=0, seed=11)
    train, test = split_by_person(world.ratings, test_size=0.3, seed=0)
    return world, train, test


class _Lists:
    """Not a ranker: shows each person the test services ``pick`` chooses from their ratings."""

    def __init__(self, test: pd.DataFrame, pick: str) -> None:
        self.test = test
        self.pick = pick

    def get_params(self, deep: bool = False) -> dict:
        return {"test": self.test, "pick": self.pick}

    def fit(self, catalogue, ratings):  # noqa: ANN001, ANN201
        return self

    def recommend_batch(self, people, top_k: int = 10):  # noqa: ANN001, ANN201
        out = []
        for person in people:
            rows = self.test[self.test["person_id"] == person.reference]
            good = rows["rating"] >= 4
            chosen = {"good": rows[good], "poor": rows[~good], "all": rows, "none": rows[:0]}
            ids = list(dict.fromkeys(chosen[self.pick]["service_id"]))[:top_k]
            out.append([Suggestion(s, 1.0 / (r + 1), r + 1) for r, s in enumerate(ids)])
        return out


def _exposures(test: pd.DataFrame) -> pd.DataFrame:
    """The old tool showed its poor picks surely and the good ones by exploration (p 0.25)."""
    return pd.DataFrame(
        {
            "person_id": test["person_id"],
            "service_id": test["service_id"],
            "propensity": np.where(test["rating"] >= 4, 0.25, 1.0),
        }
    )


def test_snips_weights_by_inverse_propensity_and_judges_the_top_k(split):
    """With an exposure log, SNIPS of a ranker showing every rated service is the
    inverse-propensity-weighted mean gain; showing the good ones beats showing the poor ones;
    showing none of the logged services leaves the figure undefined."""
    world, train, test = split
    test = test[test["person_id"].isin(test["person_id"].unique()[:20])]
    models = {p: _Lists(test, p) for p in ("all", "good", "poor", "none")}
    result = evaluate(
        models,
        world.catalogue,
        train,
        test,
        k=100,
        baselines=False,
        rated_protocol=False,
        progress=False,
        exposures=_exposures(test),
    )
    assert result.propensity_source == "exposure log"
    latest = test.sort_values("rated_at").drop_duplicates(["person_id", "service_id"], keep="last")
    g = gain(latest["rating"].to_numpy(dtype=float))
    w = 1.0 / np.where(latest["rating"] >= 4, 0.25, 1.0)
    assert result.models["all"].snips == pytest.approx(float((w * g).sum() / w.sum()))
    assert result.models["good"].snips > result.models["all"].snips > result.models["poor"].snips
    assert result.models["poor"].snips == 0.0
    assert math.isnan(result.models["none"].snips)
    assert "snips@100" in result.to_frame().columns


def test_without_an_exposure_log_propensities_come_from_the_ratings(split):
    """No exposure log: the chance of being shown is estimated from how often each service was
    rated, and every ranker of the run gets a figure with its standard error."""
    world, train, test = split
    result = evaluate({}, world.catalogue, train, test, rated_protocol=False, progress=False)
    assert result.propensity_source == "estimated from the ratings"
    for scores in result.models.values():
        assert 0.0 <= scores.snips <= 2.0 and scores.snips_se >= 0.0


def test_a_propensity_outside_zero_one_is_refused_naming_the_row():
    """A bad propensity names its row and the field, as every input error does."""
    frame = pd.DataFrame(
        {"person_id": ["a", "b"], "service_id": ["s1", "s2"], "propensity": [0.5, 0.0]}
    )
    with pytest.raises(ValueError, match=r"Exposure row 2: 'propensity' must be .*\(0, 1\]"):
        check_exposures(frame)
    with pytest.raises(ValueError, match="lack the columns.*propensity"):
        check_exposures(frame.drop(columns=["propensity"]))
