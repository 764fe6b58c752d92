"""Service priors: how often practitioners rated a service relevant, shrunk toward the mean.

A service rated relevant 2 times out of 2 is not better than one rated relevant 80 times out
of 100: the rate of a service with few ratings is pulled toward the catalogue-wide rate by a
beta prior whose strength is estimated from the ratings themselves (empirical Bayes, method
of moments on the beta-binomial), so the data decide how much a handful of ratings is worth.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

#: Bounds on the prior's pseudo-count: at least one rating's worth, at most a few hundred.
MIN_STRENGTH = 1.0
MAX_STRENGTH = 200.0


@dataclass(frozen=True)
class ServicePriors:
    """Per-service rating counts and the shrunk relevance rate, in one service order (the
    derived arrays are computed once per instance: serving reads them every request)."""

    n_ratings: np.ndarray  # int, ratings of each service
    n_relevant: np.ndarray  # int, ratings >= RELEVANT_AT
    global_rate: float  # relevant share over all ratings
    strength: float  # the beta prior's pseudo-count (how many ratings the mean is worth)
    #: Per service: sum over its ratings of (relevant - relevance expected from content alone)
    residual: np.ndarray | None = None

    @cached_property
    def rate(self) -> np.ndarray:
        """Posterior mean relevance rate: ``(relevant + m * global) / (ratings + m)``."""
        return (self.n_relevant + self.strength * self.global_rate) / (
            self.n_ratings + self.strength
        )

    @cached_property
    def evidence(self) -> np.ndarray:
        """How much of ``rate`` comes from the service's own ratings, in [0, 1)."""
        return self.n_ratings / (self.n_ratings + self.strength)

    @cached_property
    def lift(self) -> np.ndarray:
        """Log-odds of ``rate`` minus log-odds of the global rate: 0 for an unrated service."""
        return _logit(self.rate) - _logit(np.asarray(self.global_rate))

    @cached_property
    def quality(self) -> np.ndarray:
        """Relevance beyond what content predicts, shrunk like ``rate``: a service shown to
        people whose needs it does not meet is not thereby a poor service."""
        if self.residual is None:
            return np.zeros(len(self.n_ratings))
        return self.residual / (self.n_ratings + self.strength)

    def with_residual(self, residual: np.ndarray) -> ServicePriors:
        """The same priors with per-service content residuals attached."""
        return ServicePriors(
            self.n_ratings,
            self.n_relevant,
            self.global_rate,
            self.strength,
            np.asarray(residual, dtype=np.float64),
        )

    def to_arrays(self) -> tuple[dict[str, np.ndarray], dict[str, float]]:
        """The state as arrays and scalars (for a saved model)."""
        residual = self.residual if self.residual is not None else np.zeros(len(self.n_ratings))
        arrays = {"n_ratings": self.n_ratings, "n_relevant": self.n_relevant, "residual": residual}
        return arrays, {"global_rate": self.global_rate, "strength": self.strength}

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray], scalars: dict[str, float]) -> ServicePriors:
        """Priors rebuilt from ``to_arrays`` output."""
        return cls(
            arrays["n_ratings"],
            arrays["n_relevant"],
            float(scalars["global_rate"]),
            float(scalars["strength"]),
            arrays["residual"],
        )

    def take(self, rows: np.ndarray) -> ServicePriors:
        """The priors re-ordered to ``rows``; ``-1`` gives an unrated (new) service."""
        rows = np.asarray(rows, dtype=np.int64)
        known = rows >= 0
        n = np.zeros(len(rows), dtype=np.int64)
        r = np.zeros(len(rows), dtype=np.int64)
        n[known] = self.n_ratings[rows[known]]
        r[known] = self.n_relevant[rows[known]]
        res = None
        if self.residual is not None:
            res = np.zeros(len(rows))
            res[known] = self.residual[rows[known]]
        return ServicePriors(n, r, self.global_rate, self.strength, res)


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, 1e-6, 1 - 1e-6)
    return np.log(p / (1 - p))


def fit_priors(service_rows: np.ndarray, relevant: np.ndarray, n_services: int) -> ServicePriors:
    """Count ratings per service and estimate the prior strength from their spread.

    ``service_rows`` holds each rating's service row, ``relevant`` whether it was relevant.
    The strength ``m`` solves ``Var(true rate) = g (1 - g) / (m + 1)``, where the variance of
    true rates is the observed between-service variance minus the binomial noise expected
    from the counts; when the spread is all noise, ``m`` is large and every service sits near
    the global rate.
    """
    service_rows = np.asarray(service_rows, dtype=np.int64)
    relevant = np.asarray(relevant, dtype=bool)
    n = np.bincount(service_rows, minlength=n_services).astype(np.int64)
    r = np.bincount(service_rows, weights=relevant, minlength=n_services).astype(np.int64)
    total = int(n.sum())
    g = float(r.sum() / total) if total else 0.5
    g = min(max(g, 1e-3), 1 - 1e-3)
    rated = n > 0
    if rated.sum() < 2:
        return ServicePriors(n, r, g, MAX_STRENGTH)
    rates = r[rated] / n[rated]
    w = n[rated] / n[rated].sum()
    observed_var = float(np.sum(w * (rates - g) ** 2))
    noise = float(np.sum(w * g * (1 - g) / n[rated]))
    true_var = observed_var - noise
    m = MAX_STRENGTH if true_var <= 1e-09 else g * (1 - g) / true_var - 1
    return ServicePriors(n, r, g, float(np.clip(m, MIN_STRENGTH, MAX_STRENGTH)))
