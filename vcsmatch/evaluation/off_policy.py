"""Off-policy estimates: how a policy that did *not* choose what was shown would have done.

The exposure log says what the serving policy showed and with what probability
(``propensity``: 1 for its own ranked slots, the draw's probability for an exploration slot);
ratings say how each shown service turned out. The self-normalised inverse-propensity estimate
(SNIPS) of a target policy's mean gain is

    V = sum_i w_i g_i / sum_i w_i,   w_i = [target shows item i for its request] / p_i

over the logged items with an outcome. Self-normalising trades a little bias for far less
variance than plain IPS, which matters with deterministic logging (p = 1 almost everywhere).
Its standard error comes from the delta method. It only speaks of items the log showed: a
target policy that shows things the log never did is not judged on them (its support is
missing), which is why exploration slots matter.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class Estimate:
    """A policy value with its standard error and how many logged items supported it."""

    value: float
    se: float
    n: int

    def to_dict(self) -> dict[str, float]:
        return {"value": self.value, "se": self.se, "n": float(self.n)}


def snips(gains: np.ndarray, propensity: np.ndarray, shown_by_target: np.ndarray) -> Estimate:
    """SNIPS estimate of the target policy's mean gain per shown item.

    ``gains``: each logged item's graded gain; ``propensity``: the logging policy's
    probability of having shown it; ``shown_by_target``: whether the target policy shows it
    for the same request. NaN value (and ``n`` 0) when the target shows none of them.
    """
    g = np.asarray(gains, dtype=np.float64)
    p = np.asarray(propensity, dtype=np.float64)
    hit = np.asarray(shown_by_target, dtype=bool)
    if len(g) != len(p) or len(g) != len(hit):
        raise ValueError("gains, propensity and shown_by_target must have the same length")
    if (p <= 0).any() or (p > 1).any():
        raise ValueError("every propensity must be in (0, 1]")
    w = np.where(hit, 1.0 / p, 0.0)
    total = w.sum()
    if total <= 0:
        return Estimate(math.nan, math.nan, 0)
    value = float((w * g).sum() / total)
    se = float(math.sqrt(((w * (g - value)) ** 2).sum()) / total)
    return Estimate(value, se, int(hit.sum()))


def snips_of_policy(
    logged: pd.DataFrame,
    top_services: Callable[[str], Iterable[str]],
) -> Estimate:
    """SNIPS over a log of rated exposures: ``logged`` has ``request_id``, ``service_id``,
    ``propensity`` and ``gain``; ``top_services(request_id)`` is what the target policy shows
    for that request (for example a model's top k for the request's person)."""
    shown: dict[str, set[str]] = {}
    hit = np.zeros(len(logged), dtype=bool)
    for i, (rid, sid) in enumerate(
        zip(logged["request_id"].astype(str), logged["service_id"].astype(str), strict=True)
    ):
        if rid not in shown:
            shown[rid] = set(top_services(rid))
        hit[i] = sid in shown[rid]
    return snips(
        logged["gain"].to_numpy(dtype=float), logged["propensity"].to_numpy(dtype=float), hit
    )
