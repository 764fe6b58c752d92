"""The collaborative part's building blocks compute what their docstrings define."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from vcsmatch.ranking.collaborative import InteractionModel


def test_cross_is_the_row_wise_outer_product() -> None:
    """Column ``j * n_person + i`` of the cross matrix is person feature i times service
    feature j, row by row, including rows with no nonzero on either side."""
    rng = np.random.default_rng(0)
    Xp = sp.random(60, 7, density=0.3, random_state=1, format="csr")
    S = (rng.random((60, 4)) < 0.4) * rng.random((60, 4))
    S[5] = 0.0  # a row with no service feature
    Z = InteractionModel.cross(Xp, S).toarray()
    dense = Xp.toarray()
    expected = np.einsum("ni,nj->nji", dense, S).reshape(60, -1)
    np.testing.assert_allclose(Z, expected)


def test_values_in_rows_equals_dense_slicing() -> None:
    """``values_in_rows`` gives exactly the dense ``m[rows][:, cols]``, unsorted indices,
    empty rows, repeated and absent columns included."""
    from vcsmatch.ranking.collaborative import values_in_rows

    m = sp.random(12, 500, density=0.05, random_state=3, format="csr")
    m = sp.csr_matrix((m.data, m.indices, m.indptr), shape=m.shape)
    m.indices[m.indptr[2] : m.indptr[3]] = m.indices[m.indptr[2] : m.indptr[3]][::-1].copy()
    m.has_sorted_indices = False
    m_dense = m.toarray()
    rows = [0, 2, 5, 11]
    cols = np.r_[np.flatnonzero(m_dense[2]), [0, 499, 17, 17]]
    np.testing.assert_array_equal(values_in_rows(m, rows, cols), m_dense[rows][:, cols])


def test_kind_taste_learns_group_tastes_within_services_not_quality() -> None:
    """Kind tastes recover a planted (group x kind of service) effect, and do not take a
    service's quality (the same for every rater) for a taste, even when one group was shown
    mostly the good services."""
    from vcsmatch.ranking.collaborative import KindTaste

    rng = np.random.default_rng(0)
    n, n_s = 8000, 40
    men = rng.random(n) < 0.5
    Xp = sp.csr_matrix(np.column_stack([~men, men]).astype(float))
    kind = np.arange(n_s) % 2  # 1: a shed, 0: a tea dance
    S_all = np.column_stack([kind == 0, kind == 1, np.ones(n_s)]).astype(float)
    quality = np.where(np.arange(n_s) < 20, 1.0, -1.0)  # the first 20 are good
    # men were mostly shown the good services: exposure that a naive model reads as taste
    s = np.where(men, rng.integers(0, 20, size=n), rng.integers(0, n_s, size=n))
    taste = np.where(men, 1.0, -1.0) * np.where(kind[s] == 1, 0.8, -0.8)
    residual = quality[s] + taste + rng.normal(0.0, 0.5, size=n)
    model = KindTaste(alpha=10.0).fit(Xp, S_all, residual, s)
    man, woman = (
        model.person_vector(np.array([0.0, 1.0])),
        model.person_vector(np.array([1.0, 0.0])),
    )
    shed, dance = S_all[1], S_all[0]
    assert shed @ man - dance @ man > 1.2  # planted gap 1.6
    assert dance @ woman - shed @ woman > 1.2
    # no quality leaks in: men's overall level (they saw the good services) is not a taste
    assert abs((shed + dance) @ man / 2 - (shed + dance) @ woman / 2) < 0.2


def test_kind_taste_operator_equals_the_explicit_cross_matrix() -> None:
    """The cross operator's products equal the explicit cross matrix's, both ways."""
    from vcsmatch.ranking.collaborative import _CrossOperator

    rng = np.random.default_rng(2)
    X = sp.random(50, 6, density=0.4, random_state=4, format="csr")
    F = sp.random(9, 5, density=0.5, random_state=5, format="csr")
    s = rng.integers(0, 9, size=50)
    Z = InteractionModel.cross(X, F[s]).toarray()
    op = _CrossOperator(X, F, s)
    w, r = rng.normal(size=Z.shape[1]), rng.normal(size=50)
    np.testing.assert_allclose(op.matvec(w), Z @ w)
    np.testing.assert_allclose(op.rmatvec(r), Z.T @ r)


def test_row_sum_equals_the_dense_sum_of_the_rows() -> None:
    """``row_sum`` is the dense sum of the chosen rows, repeated and empty rows included."""
    from vcsmatch.ranking.collaborative import row_sum

    m = sp.random(15, 300, density=0.04, random_state=6, format="csr")
    m = sp.csr_matrix(m.toarray() * (np.arange(15) != 4)[:, None])  # row 4 empty
    rows = [3, 4, 9, 3, 14]
    np.testing.assert_allclose(row_sum(m, rows, 300), m.toarray()[rows].sum(axis=0))
    np.testing.assert_array_equal(row_sum(m, [4], 300), np.zeros(300))


def test_taste_person_vector_follows_new_weights() -> None:
    """A taste model given new weights (a refit, a load) scores with them, not with the
    float64 copy it kept of the old ones; float32 person rows keep their own product."""
    rng = np.random.default_rng(7)
    model = InteractionModel()
    x = rng.random(6)
    for _ in range(2):
        weights = rng.normal(size=(4, 6)).astype(np.float32)
        model.set_arrays({"weights": weights})
        expected = np.asarray(weights @ x, dtype=np.float32)
        np.testing.assert_array_equal(model.person_vector(x), expected)
        np.testing.assert_array_equal(model.person_vector(sp.csr_matrix(x)), expected)
    x32 = x.astype(np.float32)
    np.testing.assert_array_equal(model.person_vector(x32), model.weights_ @ x32)
