"""Make the top of the list cover each of the person's needs, not ten services for one.

Greedy selection maximising ``sum(relevance) + weight * coverage``, where coverage sums, over
the person's needs, the best need-match among the chosen services.
Coverage is submodular, so the greedy choice's marginal gain never rises from one pick to the
next: the gains are the scores we report, and scores never rise down the list.
"""

from __future__ import annotations

import numpy as np


def rerank(
    relevance: np.ndarray, need_match: np.ndarray, top_k: int, weight: float
) -> tuple[np.ndarray, np.ndarray]:
    """Pick ``top_k`` positions from a pool.

    ``relevance``: pool scores; ``need_match``: pool x person's needs (0..1 how well each
    service meets each need). Returns ``(order, gains)``: positions into the pool and each
    pick's marginal gain (relevance plus the coverage it added).
    """
    n = len(relevance)
    k = min(top_k, n)
    if n == 0 or need_match.shape[1] == 0 or weight <= 0:
        order = np.argsort(-relevance, kind="stable")[:k]
        return order, relevance[order]
    covered = np.zeros(need_match.shape[1])
    scale = weight  # each of the person's needs newly met is worth ``weight``
    free = np.ones(n, dtype=bool)
    order = np.empty(k, dtype=np.int64)
    gains = np.empty(k)
    for step in range(k):
        extra = np.maximum(need_match - covered, 0.0).sum(axis=1) * scale
        gain = np.where(free, relevance + extra, -np.inf)
        pick = int(np.argmax(gain))
        order[step] = pick
        gains[step] = gain[pick]
        free[pick] = False
        covered = np.maximum(covered, need_match[pick])
    return order, gains
