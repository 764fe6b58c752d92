"""Inverse-propensity weights: a rating of a rarely rated service counts for more, within a
clip, and the hybrid's blend can learn with them."""

from __future__ import annotations

import numpy as np
import pytest

from vcsmatch.ranking.propensity import inverse_propensity_weights, rated_propensity
from vcsmatch.ranking.recommender import Recommender
from vcsmatch.synthetic import World


def test_rarely_rated_services_weigh_more_within_the_clip() -> None:
    """Weights fall as the propensity rises, average 1, and stay within ``cap`` of the median."""
    rows = np.array([0] * 50 + [1] * 10 + [2])
    p = rated_propensity(rows, n_services=4)
    assert p[0] == 1.0 and p[1] == pytest.approx(0.2) and p[3] == p[2] > 0
    w = inverse_propensity_weights(p[rows], power=1.0, cap=100.0)
    assert w.mean() == pytest.approx(1.0)
    assert w[rows == 2][0] > w[rows == 1][0] > w[rows == 0][0]
    clipped = inverse_propensity_weights(p[rows], power=1.0, cap=3.0)
    assert clipped.max() / np.median(clipped) == pytest.approx(3.0)
    assert np.all(inverse_propensity_weights(p[rows], power=0.0) == 1.0)
    with pytest.raises(ValueError, match=r"propensity must be in \(0, 1\]"):
        inverse_propensity_weights(np.array([0.5, 0.0]))


def test_the_blend_learns_with_the_weights(small_world: World) -> None:
    """``propensity_power`` changes what the blend learns; 0 is the unweighted blend."""
    kw = {"parts__collaborative__n_factors": 8, "parts__collaborative__iterations": 5}
    plain = Recommender(show_progress=False).set_params(**kw)
    plain.fit(small_world.catalogue, small_world.ratings)
    weighted = (
        Recommender(propensity_power=1.0, show_progress=False)
        .set_params(**kw)
        .fit(small_world.catalogue, small_world.ratings)
    )
    assert not np.allclose(plain.blend_.coef_, weighted.blend_.coef_)
    person = small_world.new_people[0]
    assert [s.service_id for s in weighted.recommend(person, top_k=5)]


@pytest.mark.parametrize("bad", [-0.1, 1.5, True, "1"])
def test_propensity_power_must_be_in_zero_one(bad: object, small_world: World) -> None:
    """A bad ``propensity_power`` is refused naming the parameter and the value."""
    with pytest.raises(ValueError, match=r"'propensity_power' parameter .* \[0, 1\]\. Got"):
        Recommender(propensity_power=bad, show_progress=False).fit(  # type: ignore[arg-type]
            small_world.catalogue, small_world.ratings
        )
