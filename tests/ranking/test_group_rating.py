"""The collaborative part's ``group_rating``: a group's shrunk mean rating of a service over
the service's own, blind to how often the service was shown (issue 14, real biased ratings)."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from vcsmatch.ranking.collaborative import GroupStats
from vcsmatch.ranking.persistence import prefixed, unprefixed


def _stats(with_ratings: bool = True) -> GroupStats:
    """Four women (group 0) and four men (group 1) each rate services 0 and 1; women give
    service 0 a 5 and service 1 a 3, men the reverse; service 2 is rated by nobody."""
    member = sp.csr_matrix(np.repeat(np.eye(2), 4, axis=0))
    people = np.repeat(np.arange(8), 2)
    services = np.tile([0, 1], 8)
    r = np.where(people < 4, np.where(services == 0, 5, 3), np.where(services == 0, 3, 5))
    relevant = r >= 4
    return GroupStats(shrinkage=2.0).fit(
        member,
        people,
        services,
        relevant,
        3,
        np.full(3, 0.5),
        rating=r if with_ratings else None,
    )


def test_group_rating_follows_each_groups_mean_rating() -> None:
    """Each group's lift is up for the service it rated higher and down for the other, by the
    shrunk gap (4 ratings of 5 and a service mean of 4, shrinkage 2: +2/3); 0 where nobody
    rated, and nothing at all when ``fit`` had no ratings."""
    stats = _stats()
    cols = np.array([0, 1, 2])
    women, men = stats.rating_lift([0], cols), stats.rating_lift([1], cols)
    np.testing.assert_allclose(women, [2 / 3, -2 / 3, 0.0])
    np.testing.assert_allclose(men, [-2 / 3, 2 / 3, 0.0])
    np.testing.assert_allclose(stats.rating_lift([0, 1], cols), 0.0, atol=1e-12)
    assert _stats(with_ratings=False).rating_lift([0], cols) is None


def test_group_rating_survives_save_and_a_new_service_order() -> None:
    """``to_arrays``/``from_arrays`` and ``take`` (a rebind) keep the same lifts; a model saved
    before rating sums were kept loads with none."""
    stats = _stats()
    cols = np.array([0, 1, 2])
    arrays = unprefixed("groups", prefixed("groups", stats.to_arrays()))
    back = GroupStats.from_arrays(arrays, 2.0, stats.n_people_)
    np.testing.assert_allclose(back.rating_lift([0], cols), stats.rating_lift([0], cols))
    moved = stats.take(np.array([1, -1, 0]), np.full(3, 0.5))
    np.testing.assert_allclose(moved.rating_lift([0], cols), [-2 / 3, 0.0, 2 / 3])
    old = {k: v for k, v in arrays.items() if not k.startswith(("n_scored", "rating_sum"))}
    assert GroupStats.from_arrays(old, 2.0, stats.n_people_).rating_lift([0], cols) is None
