"""The learned blend: one logistic regression over the parts' scores and their evidence.

Trained on out-of-fold part scores (the collaborative part and priors of a training person are
learned without that person's ratings), so the blend sees the part scores it will see for a new
person, including services with no ratings yet. Being linear on standardised features, each
feature's contribution to a score is exact (``coef * (x - mean) / scale``): explanations quote
what actually drove a score.

Evidence: a part that knows nothing of a service (no ratings: a new service) gives NaN, which
the blend replaces by the feature's mean, so the part contributes nothing and the service
ranks on what is known of it, its content. Exposure: ratings exist only for what the old tool
showed. The rows we train on are the rated
pairs plus unrated candidates *the old policy could have shown* (see ``Recommender``), so the
blend does not learn that "never shown" means "not relevant".
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from sklearn.linear_model import LogisticRegression


class Blend:
    """Logistic regressions over named features, kept as plain arrays (nothing to unpickle).

    ``y`` is a graded gain (0, 1, 2, ...: how far a rating is above "not relevant"). One
    logistic regression per level ``k`` learns P(gain >= k); their sum is the expected gain,
    which is what graded NDCG rewards. With binary ``y`` this is one logistic regression.
    """

    def __init__(self, C: float = 1.0, random_state: int | None = 0) -> None:
        self.C = C
        self.random_state = random_state

    def fit(
        self,
        X: np.ndarray,
        y: np.ndarray,
        feature_names: Sequence[str],
        sample_weight: np.ndarray | None = None,
        fallback: dict[str, float] | None = None,
    ) -> Blend:
        """Learn the weights; with one class only in ``y`` (nothing to learn from), use
        ``fallback`` weights (feature -> weight on the raw feature) instead."""
        X = np.asarray(X, dtype=np.float64)
        y = np.asarray(y, dtype=np.int64)
        self.feature_names_ = tuple(feature_names)
        known = ~np.isnan(X)
        counts = known.sum(axis=0)
        sums = np.where(known, X, 0.0).sum(axis=0)
        self.mean_ = np.where(counts > 0, sums / np.maximum(counts, 1), 0.0)
        X = self.impute(X)
        scale = X.std(axis=0) if len(X) else np.ones(X.shape[1])
        self.scale_ = np.where(scale > 1e-9, scale, 1.0)
        Z = (X - self.mean_) / self.scale_
        coefs, intercepts = [], []
        for level in range(1, int(y.max(initial=0)) + 1):
            target = (y >= level).astype(np.int64)
            if len(np.unique(target)) < 2:
                break
            model = LogisticRegression(C=self.C, max_iter=1000, random_state=self.random_state)
            model.fit(Z, target, sample_weight=sample_weight)
            coefs.append(model.coef_.ravel().astype(np.float64))
            intercepts.append(float(model.intercept_[0]))
        self.learned_ = bool(coefs)
        if not coefs:
            fb = fallback or {}
            coefs = [np.array([fb.get(f, 0.0) for f in self.feature_names_]) * self.scale_]
            intercepts = [0.0]
        self.coef_ = np.vstack(coefs)
        self.intercept_ = np.asarray(intercepts, dtype=np.float64)
        self._fold()
        return self

    def _fold(self) -> None:
        """Fold the standardisation into raw weights for matrix products."""
        self.weights_ = self.coef_ / self.scale_  # levels x features
        self.bias_ = self.intercept_ - self.weights_ @ self.mean_

    def impute(self, X: np.ndarray) -> np.ndarray:
        """``X`` with each missing (NaN) value replaced by its feature's training mean, so a
        part with no evidence for a row contributes exactly nothing to its score."""
        X = np.asarray(X, dtype=np.float64)
        missing = np.isnan(X)
        if not missing.any():
            return X
        return np.where(missing, self.mean_, X)

    def predict(self, X: np.ndarray) -> np.ndarray:
        """Expected gain of each row: the sum over levels of P(gain >= level)."""
        z = X @ self.weights_.T + self.bias_
        return (1.0 / (1.0 + np.exp(-z))).sum(axis=1)

    def contributions(self, x: np.ndarray) -> np.ndarray:
        """Each feature's share of one row's log-odds (summed over levels), relative to an
        average training row."""
        return self.weights_.sum(axis=0) * (np.asarray(x, dtype=np.float64) - self.mean_)

    def to_arrays(self) -> dict[str, np.ndarray]:
        """The state as arrays (for ``.npz``)."""
        return {
            "mean": self.mean_,
            "scale": self.scale_,
            "coef": self.coef_,
            "intercept": self.intercept_,
            "learned": np.array([self.learned_]),
        }

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray], feature_names: Sequence[str]) -> Blend:
        """Rebuild a fitted blend from ``to_arrays`` output."""
        out = cls()
        out.feature_names_ = tuple(feature_names)
        out.mean_ = np.asarray(arrays["mean"], dtype=np.float64)
        out.scale_ = np.asarray(arrays["scale"], dtype=np.float64)
        out.coef_ = np.atleast_2d(np.asarray(arrays["coef"], dtype=np.float64))
        out.intercept_ = np.atleast_1d(np.asarray(arrays["intercept"], dtype=np.float64))
        out.learned_ = bool(arrays["learned"][0])
        out._fold()
        return out
