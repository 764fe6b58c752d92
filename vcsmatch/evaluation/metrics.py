"""Ranking metrics, each small enough to check by hand.

Gains are graded: a rating ``r`` is worth ``max(0, r - (RELEVANT_AT - 1))``, so with the
default ``RELEVANT_AT = 4`` a 4 is worth 1 and a 5 is worth 2, and anything below 4 nothing.
The synthetic world's true relevance (an expected rating) is graded the same way.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import numpy as np

from vcsmatch.ratings import RELEVANT_AT


def gain(rating: float | np.ndarray) -> float | np.ndarray:
    """The graded gain of a rating (or expected rating): 0 below ``RELEVANT_AT``."""
    return np.maximum(0.0, np.asarray(rating, dtype=float) - (RELEVANT_AT - 1))


def _discounts(k: int) -> np.ndarray:
    return 1.0 / np.log2(np.arange(2, k + 2))


def dcg_at_k(gains_in_rank_order: Sequence[float] | np.ndarray, k: int) -> float:
    """Discounted cumulative gain of the first ``k`` gains (log2 discount, rank 1 undiscounted)."""
    g = np.asarray(gains_in_rank_order, dtype=float)[:k]
    return float((g * _discounts(len(g))).sum())


def ndcg_at_k(ranked: Sequence[str], gains: Mapping[str, float], k: int = 10) -> float | None:
    """NDCG@k of a ranked list of ids against the gains of the ids that have any.

    Ids not in ``gains`` are worth 0. Returns ``None`` when no id has a positive gain (the
    person cannot be scored, rather than scored 0 or 1).
    """
    _check_k(k)
    ideal = dcg_at_k(sorted((g for g in gains.values() if g > 0), reverse=True), k)
    if ideal <= 0:
        return None
    return dcg_at_k([gains.get(i, 0.0) for i in ranked[:k]], k) / ideal


def recall_at_k(ranked: Sequence[str], relevant: Iterable[str], k: int = 10) -> float | None:
    """Share of the relevant ids found in the top ``k``, out of at most ``k``.

    The denominator is ``min(k, len(relevant))`` so that a perfect list scores 1 even when a
    person has more relevant services than slots. ``None`` when nothing is relevant.
    """
    _check_k(k)
    relevant = set(relevant)
    if not relevant:
        return None
    hits = len(relevant.intersection(ranked[:k]))
    return hits / min(k, len(relevant))


def catalogue_coverage(lists: Iterable[Sequence[str]], n_services: int) -> tuple[int, float]:
    """Distinct services suggested across all lists: ``(count, share of n_services)``."""
    distinct = set()
    for ranked in lists:
        distinct.update(ranked)
    return len(distinct), (len(distinct) / n_services if n_services else 0.0)


def new_service_share(lists: Iterable[Sequence[str]], rated_in_training: set[str]) -> float:
    """Share of all suggestion slots taken by services nobody rated in the training data."""
    total = new = 0
    for ranked in lists:
        total += len(ranked)
        new += sum(1 for s in ranked if s not in rated_in_training)
    return new / total if total else 0.0


def mean_defined(values: Iterable[float | None]) -> float:
    """Mean over the values that are not ``None`` (NaN when there are none)."""
    kept = [v for v in values if v is not None]
    return float(np.mean(kept)) if kept else float("nan")


def largest_gap(by_group: Mapping[str, float]) -> tuple[str, str, float] | None:
    """``(best group, worst group, difference)`` among groups with a defined score."""
    defined = {g: v for g, v in by_group.items() if v == v}  # drop NaN
    if len(defined) < 2:
        return None
    best = max(defined, key=defined.__getitem__)
    worst = min(defined, key=defined.__getitem__)
    return best, worst, defined[best] - defined[worst]


def _check_k(k: int) -> None:
    if not isinstance(k, int | np.integer) or isinstance(k, bool) or k < 1:
        raise ValueError(f"The 'k' parameter must be a positive int. Got {k!r} instead.")
