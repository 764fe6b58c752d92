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
