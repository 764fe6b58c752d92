"""The explicit-rating factorisation recovers what a small planted world puts in the ratings."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from vcsmatch.ranking.factorization import RatingFactorization


def _planted(seed: int = 0) -> tuple[sp.csr_matrix, np.ndarray, np.ndarray, np.ndarray]:
    """Two person features (say, women and men), 30 services: each has a quality, and half
    are liked by women and disliked by men (and the other half the reverse)."""
    rng = np.random.default_rng(seed)
    n, n_s = 4000, 30
    group = rng.integers(0, 2, size=n)
    X = sp.csr_matrix((np.ones(n), (np.arange(n), group)), shape=(n, 2))
    s = rng.integers(0, n_s, size=n)
    quality = np.linspace(-1.0, 1.0, n_s)
    side = np.where(np.arange(n_s) % 2 == 0, 1.0, -1.0)  # +1: women's, -1: men's
    taste = np.where(group == 0, 1.0, -1.0) * side[s]
    y = 3.0 + quality[s] + 0.8 * taste + rng.normal(0.0, 0.5, size=n)
    return X, s, y, quality


def test_biases_follow_planted_quality() -> None:
    """Service biases rank the services as their planted quality does."""
    X, s, y, quality = _planted()
    fm = RatingFactorization(n_factors=2, regularization=1.0).fit(X, s, y, n_services=30)
    assert np.corrcoef(fm.bias_, quality)[0, 1] > 0.95


def test_group_tastes_are_recovered_for_new_people() -> None:
    """A new woman's tastes score women's services above men's, and a new man's the reverse,
    scored from features alone."""
    X, s, y, _ = _planted()
    fm = RatingFactorization(n_factors=2, regularization=1.0).fit(X, s, y, n_services=30)
    woman, man = fm.person_factors(np.array([[1.0, 0.0], [0.0, 1.0]]))
    womens, mens = np.arange(30) % 2 == 0, np.arange(30) % 2 == 1
    w_scores, m_scores = fm.item_factors_ @ woman, fm.item_factors_ @ man
    assert w_scores[womens].min() > w_scores[mens].max()
    assert m_scores[mens].min() > m_scores[womens].max()


def test_unrated_service_contributes_nothing() -> None:
    """A service nobody rated has zero bias and zero factors, and ``take`` maps -1 to one."""
    X, s, y, _ = _planted()
    keep = s != 7
    fm = RatingFactorization(n_factors=2).fit(X[keep], s[keep], y[keep], n_services=30)
    assert fm.bias_[7] == 0.0
    assert not fm.item_factors_[7].any()
    moved = fm.take(np.array([3, -1, 7]))
    np.testing.assert_array_equal(moved.bias_, [fm.bias_[3], 0.0, 0.0])
    np.testing.assert_array_equal(moved.item_factors_[0], fm.item_factors_[3])
    assert not moved.item_factors_[1:].any()


def test_offset_is_taken_out_first() -> None:
    """What the offset already explains does not end up in the biases."""
    X, s, y, quality = _planted()
    offset = 2.0 * (s % 3 == 0)
    with_offset = RatingFactorization(n_factors=2).fit(X, s, y + offset, 30, offset=offset)
    plain = RatingFactorization(n_factors=2).fit(X, s, y, 30)
    np.testing.assert_allclose(with_offset.bias_, plain.bias_, atol=1e-4)


def test_no_ratings_gives_an_empty_model() -> None:
    """Fitting on nothing leaves every service neutral instead of failing."""
    fm = RatingFactorization().fit(sp.csr_matrix((0, 3)), np.zeros(0, int), np.zeros(0), 5)
    assert not fm.bias_.any() and not fm.item_factors_.any()
    assert fm.person_factors(np.ones((1, 3))).shape == (1, fm.n_factors)
