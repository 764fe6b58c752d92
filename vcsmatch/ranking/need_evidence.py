"""Whether a service meets a need, as practitioners' ratings show it, beyond its listing.

Directories are not quite the truth: some services claim needs they hardly meet, others leave
secondary needs unpublished. The content score can only read the listing. ``NeedEvidence``
keeps, per (service, need), how practitioners rated the service for people with that need
compared with what the content score expected of each rating (its residual) and with how the
service was rated overall (its quality belongs to the priors), shrunk toward zero by a
pseudo-count: a handful of ratings move it a little, dozens move it a lot.

A person is scored through their needs: the mean evidence over all their needs, and the
evidence for their main need (the need recorded first, why they came). A service nobody with
those needs rated scores 0 (no evidence either way).
"""

from __future__ import annotations

from typing import Self

import numpy as np


class NeedEvidence:
    """Per (service, need) shrunk rating residuals (see the module docstring)."""

    def __init__(self, shrinkage: float = 5.0) -> None:
        self.shrinkage = shrinkage

    def fit(
        self,
        person_needs: np.ndarray,
        person_rows: np.ndarray,
        service_rows: np.ndarray,
        residual: np.ndarray,
        n_services: int,
    ) -> NeedEvidence:
        """``person_needs``: people x need codes (0/1); per rating, the person's row, the
        service's row and the residual (the rating minus what content predicted of it)."""
        person_needs = np.asarray(person_needs) > 0
        person_rows = np.asarray(person_rows, dtype=np.int64)
        service_rows = np.asarray(service_rows, dtype=np.int64)
        residual = np.asarray(residual, dtype=np.float64)
        # relative to the service's own ratings: a good service is not thereby good for each
        # need it lists (its quality belongs to the priors)
        own = np.bincount(service_rows, weights=residual, minlength=n_services) / (
            np.bincount(service_rows, minlength=n_services) + float(self.shrinkage)
        )
        residual = residual - own[service_rows]
        n_needs = person_needs.shape[1]
        counts = np.zeros((n_services, n_needs))
        sums = np.zeros((n_services, n_needs))
        for j in range(n_needs):  # one need at a time: no ratings x needs copy
            has = person_needs[person_rows, j]
            counts[:, j] = np.bincount(service_rows[has], minlength=n_services)
            sums[:, j] = np.bincount(service_rows[has], weights=residual[has], minlength=n_services)
        self.n_ratings_ = counts.astype(np.int32)
        self.score_ = (sums / (counts + float(self.shrinkage))).astype(np.float32)
        return self

    def scores(
        self, needs: np.ndarray, main_need: np.ndarray, rows: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """One person (0/1 need vectors) against the services in ``rows``: (mean evidence
        over their needs, evidence for their main need)."""
        k = max(float(needs.sum()), 1.0)
        both = np.column_stack([needs / k, main_need]).astype(np.float32)
        scored = (self.score_ @ both)[rows].astype(np.float64)
        return scored[:, 0], scored[:, 1]

    def pair_scores(
        self, needs: np.ndarray, main_need: np.ndarray, rows: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """``scores`` for (person, service) pairs: one person's need vectors per row."""
        s = self.score_[rows].astype(np.float64)
        k = np.maximum(needs.sum(axis=1), 1.0)
        return np.einsum("ij,ij->i", s, needs) / k, np.einsum("ij,ij->i", s, main_need)

    def to_arrays(self) -> dict[str, np.ndarray]:
        """The fitted state as arrays (for a saved model)."""
        return {"score": self.score_, "n_ratings": self.n_ratings_}

    def set_arrays(self, arrays: dict[str, np.ndarray]) -> Self:
        """This model fitted with the state ``to_arrays`` gave."""
        self.score_ = arrays["score"]
        self.n_ratings_ = arrays["n_ratings"]
        return self

    def count(self, row: int, need_col: int) -> int:
        """Ratings of one service by people with one need (for explanations)."""
        return int(self.n_ratings_[row, need_col])

    def take(self, rows: np.ndarray) -> NeedEvidence:
        """The same evidence over another service order; ``-1`` is a service never rated."""
        rows = np.asarray(rows, dtype=np.int64)
        known = rows >= 0
        out = NeedEvidence(self.shrinkage)
        out.score_ = np.zeros((len(rows), self.score_.shape[1]), dtype=np.float32)
        out.score_[known] = self.score_[rows[known]]
        out.n_ratings_ = np.zeros((len(rows), self.n_ratings_.shape[1]), dtype=np.int32)
        out.n_ratings_[known] = self.n_ratings_[rows[known]]
        return out
