"""Ratings as a service's quality plus person-feature tastes, for people never seen before.

``RatingFactorization`` models each rating (1 to 5, not just relevant or not) as

    rating = offset + bias[service] + (x_person @ map) . factors[service] + noise

where ``offset`` is what the caller already predicts (content), ``bias`` is how a service is
rated beyond that (its quality as practitioners see it), ``x_person`` the person's one-hot
features (age band, sex, their cross, needs, strengths) and ``map`` turns them into a taste
vector. The person side is a function of features from the start, so a new person is scored
exactly as the model was trained, unlike factorising people by id and mapping afterwards.

It is fitted by alternating ridge regressions (each step exact and convex): the biases given
the rest, the feature map given the service factors (one least-squares over the
feature x factor crosses), then each service's factors given the people who rated it.
A service with no ratings has zero bias and zero factors: it contributes nothing, and the
service ranks on its content.
"""

from __future__ import annotations

from typing import Self

import numpy as np
import scipy.sparse as sp

from vcsmatch.ranking.collaborative import InteractionModel, Matrix


class RatingFactorization:
    """Explicit-rating factorisation with feature-mapped person factors (see module doc)."""

    def __init__(
        self,
        n_factors: int = 8,
        regularization: float = 5.0,
        iterations: int = 5,
        random_state: int | None = 0,
    ) -> None:
        self.n_factors = n_factors
        self.regularization = regularization
        self.iterations = iterations
        self.random_state = random_state

    def fit(
        self,
        X: Matrix,
        service_rows: np.ndarray,
        ratings: np.ndarray,
        n_services: int,
        offset: np.ndarray | None = None,
    ) -> RatingFactorization:
        """``X``: person features, one row per rating; ``service_rows``: each rating's
        service; ``ratings``: the values; ``offset``: per-rating prediction to start from."""
        X = sp.csr_matrix(X, dtype=np.float64)
        s = np.asarray(service_rows, dtype=np.int64)
        y = np.asarray(ratings, dtype=np.float64)
        if offset is not None:
            y = y - np.asarray(offset, dtype=np.float64)
        k, lam = int(self.n_factors), float(self.regularization)
        d = X.shape[1]
        rng = np.random.default_rng(self.random_state)
        self.mean_ = float(y.mean()) if len(y) else 0.0
        y = y - self.mean_
        V = rng.normal(0.0, 0.1, size=(n_services, k))
        A = np.zeros((d, k))
        bias = np.zeros(n_services)
        count = np.bincount(s, minlength=n_services).astype(np.float64)
        order = np.argsort(s, kind="stable")
        starts = np.flatnonzero(np.r_[True, np.diff(s[order]) != 0]) if len(s) else np.zeros(0, int)
        rated = s[order][starts] if len(s) else np.zeros(0, dtype=np.int64)
        # pairs of person features per rating, for the map's normal equations (fixed across
        # iterations): column i * d + j is X[:, i] * X[:, j]
        XX_t = InteractionModel.cross(X, X).T.tocsr()
        for _ in range(self.iterations if len(y) else 0):
            U = X @ A
            taste = np.einsum("ij,ij->i", U, V[s])
            bias = np.bincount(s, weights=y - taste, minlength=n_services) / (count + lam)
            target = y - bias[s]
            A = _solve_map(XX_t, X, V[s], target, lam)
            U = X @ A
            # each rated service's factors: ridge on the tastes of the people who rated it
            outer = (U[order][:, :, None] * U[order][:, None, :]).reshape(len(s), k * k)
            G = np.add.reduceat(outer, starts, axis=0).reshape(-1, k, k)
            b = np.add.reduceat(U[order] * target[order][:, None], starts, axis=0)
            V = np.zeros((n_services, k))
            V[rated] = np.linalg.solve(G + lam * np.eye(k), b[:, :, None])[:, :, 0]
        V[count == 0] = 0.0  # never rated: no random start left behind
        self.bias_ = bias.astype(np.float32)
        self.map_ = A.astype(np.float32)
        self.item_factors_ = V.astype(np.float32)
        return self

    def to_arrays(self) -> dict[str, np.ndarray]:
        """The fitted state as arrays (for a saved model)."""
        return {
            "mean": np.asarray([self.mean_]),
            "bias": self.bias_,
            "map": self.map_,
            "item_factors": self.item_factors_,
        }

    def set_arrays(self, arrays: dict[str, np.ndarray]) -> Self:
        """This model fitted with the state ``to_arrays`` gave."""
        self.mean_ = float(arrays["mean"][0])
        self.bias_ = arrays["bias"]
        self.map_ = arrays["map"]
        self.item_factors_ = arrays["item_factors"]
        return self

    def person_factors(self, X: Matrix) -> np.ndarray:
        """Taste vectors of people from their features."""
        return np.asarray(X @ self.map_, dtype=np.float32)

    def take(self, rows: np.ndarray) -> RatingFactorization:
        """The same model over another service order; ``-1`` is a service it never saw."""
        rows = np.asarray(rows, dtype=np.int64)
        known = rows >= 0
        out = RatingFactorization(
            self.n_factors, self.regularization, self.iterations, self.random_state
        )
        out.mean_ = self.mean_
        out.map_ = self.map_
        out.bias_ = np.zeros(len(rows), dtype=np.float32)
        out.bias_[known] = self.bias_[rows[known]]
        out.item_factors_ = np.zeros((len(rows), self.item_factors_.shape[1]), dtype=np.float32)
        out.item_factors_[known] = self.item_factors_[rows[known]]
        return out


def _solve_map(
    XX_t: sp.csr_matrix, X: sp.csr_matrix, V: np.ndarray, target: np.ndarray, lam: float
) -> np.ndarray:
    """The feature map ``A`` (``d x k``) minimising ``|target - rowsum((X @ A) * V)|^2 +
    lam |A|^2``: ridge regression on the crosses ``x (x) v``, whose normal equations are
    summed from the feature pairs (``XX_t``) and each rating's ``v v^T``, never building the
    ``n x d k`` cross matrix."""
    n, k = V.shape
    d = X.shape[1]
    outer = (V[:, :, None] * V[:, None, :]).reshape(n, k * k)
    gram = np.asarray(XX_t @ outer).reshape(d, d, k, k).transpose(2, 0, 3, 1).reshape(k * d, k * d)
    gram[np.diag_indices_from(gram)] += lam
    rhs = np.asarray(X.T @ (V * target[:, None])).T.reshape(k * d)  # (factor, feature) order
    return np.linalg.solve(gram, rhs).reshape(k, d).T
