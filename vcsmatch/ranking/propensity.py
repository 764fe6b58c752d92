"""Inverse-propensity weights for learning from ratings an old policy chose to collect.

A rating exists only where the old tool showed a service and the practitioner chose to rate
it, so popular services fill the log: a learner fitted on the log as it is learns what got
shown as much as what was good. Weighting each rating by the inverse of the probability that
its service was rated (Schnabel et al., "Recommendations as Treatments", 2016) lets every
service's ratings count as if each service had been rated as often.

Where no exposure log says what was shown, the probability is estimated from the ratings log
itself: proportional to how often each service was rated. Weights are clipped (at most
``cap`` times the typical weight, at least its inverse) to keep the variance bounded, and
``power`` in [0, 1] tempers them (0: no weighting; 1: full inverse propensity).
"""

from __future__ import annotations

import numpy as np


def rated_propensity(service_rows: np.ndarray, n_services: int) -> np.ndarray:
    """Each service's estimated propensity of being rated: its share of the ratings, scaled so
    the most rated service has 1 (services nobody rated get the smallest positive value)."""
    counts = np.bincount(np.asarray(service_rows, dtype=np.int64), minlength=n_services)
    counts = np.maximum(counts.astype(np.float64), 1.0)
    return counts / counts.max()


def inverse_propensity_weights(
    propensity: np.ndarray, *, power: float = 1.0, cap: float = 10.0
) -> np.ndarray:
    """Weights ``propensity ** -power`` of rated rows, clipped to ``[median / cap, median * cap]``
    and scaled to mean 1 (so the regularisation keeps its meaning)."""
    p = np.asarray(propensity, dtype=np.float64)
    if len(p) == 0 or power == 0:
        return np.ones(len(p))
    if (p <= 0).any() or (p > 1).any():
        raise ValueError("every propensity must be in (0, 1]")
    w = p**-power
    mid = float(np.median(w))
    w = np.clip(w, mid / cap, mid * cap)
    return w / w.mean()
