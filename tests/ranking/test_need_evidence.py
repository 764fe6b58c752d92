"""Need evidence finds listings that over-claim or leave a need out, and leaves quality out."""

from __future__ import annotations

import numpy as np

from vcsmatch.ranking.need_evidence import NeedEvidence


def _planted(seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Three needs, 12 services. Service s truly meets need ``s % 3`` only; each person has one
    need; a rating residual (what content did not predict) is +1 when the service meets the
    person's need, -1 when not, plus each service's own quality (the same for everyone) and
    noise. Listings are the truth except service 0, which also claims need 1 (over-claim), and
    service 4, whose listing omits its need (1): content's expectation does not see either."""
    rng = np.random.default_rng(seed)
    n_people, n = 300, 6000
    need = rng.integers(0, 3, size=n_people)
    person_needs = np.eye(3)[need]
    p = rng.integers(0, n_people, size=n)
    s = rng.integers(0, 12, size=n)
    meets = (s % 3) == need[p]
    quality = np.linspace(-1.5, 1.5, 12)
    listed = meets.copy()
    listed[(s == 0) & (need[p] == 1)] = True  # claims need 1
    listed[(s == 4) & (need[p] == 1)] = False  # omits need 1
    expected = np.where(listed, 1.0, -1.0)
    truth = np.where(meets, 1.0, -1.0)
    residual = truth - expected + quality[s] + rng.normal(0.0, 0.5, size=n)
    return person_needs, p, s, residual


def test_over_claimed_need_is_negative_and_omitted_need_positive() -> None:
    """The listing's false claim scores well below zero, the omitted need well above, and
    needs the listings got right sit near zero."""
    person_needs, p, s, residual = _planted()
    ev = NeedEvidence(shrinkage=5.0).fit(person_needs, p, s, residual, n_services=12)
    assert ev.score_[0, 1] < -0.5
    assert ev.score_[4, 1] > 0.5
    right = np.ones((12, 3), dtype=bool)
    right[0, 1] = right[4, 1] = False
    # every need of a service is judged against the service's own ratings, so the two wrong
    # cells move the rest of their service a little; other services stay close to zero
    right[0] = right[4] = False
    assert np.abs(ev.score_[right]).max() < 0.15


def test_quality_is_not_need_evidence() -> None:
    """A service that is rated above content for everyone (its quality) has no need evidence:
    that belongs to the priors."""
    person_needs, p, s, residual = _planted()
    ev = NeedEvidence(shrinkage=5.0).fit(person_needs, p, s, residual, n_services=12)
    best, worst = 11, 9  # quality +1.5 and about +0.95, listings right
    assert abs(ev.score_[best].mean()) < 0.1 and abs(ev.score_[worst].mean()) < 0.1


def test_scores_for_one_person_equal_pair_scores_and_take_maps_unknowns() -> None:
    """One person's scores equal the pair form; ``take`` gives -1 (a new service) zeros."""
    person_needs, p, s, residual = _planted()
    ev = NeedEvidence().fit(person_needs, p, s, residual, n_services=12)
    needs = np.array([1.0, 1.0, 0.0])
    main = np.array([0.0, 1.0, 0.0])
    rows = np.arange(12)
    mean, top = ev.scores(needs, main, rows)
    pm, pt = ev.pair_scores(np.tile(needs, (12, 1)), np.tile(main, (12, 1)), rows)
    np.testing.assert_allclose(mean, pm, rtol=1e-6)
    np.testing.assert_allclose(top, pt, rtol=1e-6)
    np.testing.assert_allclose(top, ev.score_[:, 1], rtol=1e-6)
    moved = ev.take(np.array([4, -1]))
    np.testing.assert_array_equal(moved.score_[0], ev.score_[4])
    assert not moved.score_[1].any() and not moved.n_ratings_[1].any()
    assert ev.count(4, 1) == int(((s == 4) & (person_needs[p, 1] == 1)).sum())
