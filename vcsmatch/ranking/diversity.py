"""Make the top of the list cover each of the person's needs, not ten services for one.

Greedy selection maximising ``sum(relevance) + weight * coverage``, where coverage sums, over
the person's needs, the best need-match among the chosen services.
Coverage is submodular, so the greedy choice's marginal gain never rises from one pick to the
next: the gains are the scores we report, and scores never rise down the list.

The same pass bounds the suggestions that meet none of the person's needs at the head of the
list (``off_need``, ``max_off_in_head``): once the head holds that many, the rest of the head
is filled from services that meet a need, while there are any. A pick held back that way may
come later with a higher gain than the one above it, so reported scores are capped at the
score above (they still never rise).
"""

from __future__ import annotations

import numpy as np

#: How many places count as the head of the list for the off-need bound.
HEAD = 5


def rerank(
    relevance: np.ndarray,
    need_match: np.ndarray,
    top_k: int,
    weight: float,
    *,
    off_need: np.ndarray | None = None,
    max_off_in_head: int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Pick ``top_k`` positions from a pool.

    ``relevance``: pool scores; ``need_match``: pool x person's needs (0..1 how well each
    service meets each need); ``off_need``: pool mask of services meeting none of the
    person's needs, at most ``max_off_in_head`` of which go in the first ``HEAD`` places
    (``None``: no bound). Returns ``(order, gains)``: positions into the pool and each
    pick's score (relevance plus the coverage it added), never rising.
    """
    n = len(relevance)
    k = min(top_k, n)
    order = np.empty(k, dtype=np.int64)
    gains = np.empty(k)
    if n == 0:
        return order, gains
    diverse = need_match.shape[1] > 0 and weight > 0
    bounded = off_need is not None and max_off_in_head is not None
    off = off_need if off_need is not None else np.zeros(n, dtype=bool)
    max_off = max_off_in_head if max_off_in_head is not None else k
    if not diverse and not bounded:
        order = np.argsort(-relevance, kind="stable")[:k]
        return order, relevance[order]
    covered = np.zeros(need_match.shape[1])
    free = np.ones(n, dtype=bool)
    # relevance with -inf at the picks so far: adding a pool's finite coverage leaves a pick
    # at -inf and every other gain as relevance + coverage
    base = relevance.copy()
    gain = np.empty_like(base)
    new_cover = np.empty(need_match.shape)
    n_off = 0
    for step in range(k):
        if diverse:  # each of the person's needs newly met is worth ``weight``
            np.subtract(need_match, covered, out=new_cover)
            np.maximum(new_cover, 0.0, out=new_cover)
            np.add(base, new_cover.sum(axis=1) * weight, out=gain)
        else:
            gain = base.copy()
        if bounded and step < HEAD and n_off >= max_off:
            on_need = free & ~off
            if on_need.any():
                gain[~on_need] = -np.inf
        pick = int(np.argmax(gain))
        order[step] = pick
        gains[step] = gain[pick]
        free[pick] = False
        base[pick] = -np.inf
        np.maximum(covered, need_match[pick], out=covered)
        if bounded and off[pick]:
            n_off += 1
    return order, np.minimum.accumulate(gains)
