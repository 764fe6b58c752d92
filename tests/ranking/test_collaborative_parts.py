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
