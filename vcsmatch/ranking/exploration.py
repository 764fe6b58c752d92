"""Exploration: a few slots of a ranking for services that have little rating evidence yet.

A ranker that only shows what it already believes leaves new and rarely shown services unrated
for ever (the exposure bias the case study's "nearby" tool created): nobody rates what nobody
is shown. ``Exploration`` reserves a small share of slots below the top ones for eligible
services that content says may fit (they meet one of the person's needs, or, for a person who
gave none, match a strength) but that few practitioners have rated, drawn at random. Each
drawn suggestion carries the probability it was drawn with (``Suggestion.propensity``), which
off-policy learning and evaluation need, and says in its reasons why it is there.

It never adds a candidate the ranker would not consider: the pool is the ranker's own
candidates, which are eligible and reachable by construction.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from vcsmatch.ranking.result import Reason

EXPLORATION_REASON = Reason(
    "exploration", "new to the list: few practitioners have rated it yet", 0.0
)


@dataclass(frozen=True)
class Exploration:
    """How many slots to explore and what may fill them.

    ``share`` of the ``top_k`` slots (rounded half up; 0 switches exploration off) go to
    services rated fewer than ``max_ratings`` times; the first ``protected`` slots are never
    explored. ``seed`` fixes the draws (tests); ``None`` draws fresh for every request.
    """

    share: float = 0.1
    max_ratings: int = 5
    protected: int = 3
    seed: int | None = None

    def __post_init__(self) -> None:
        if not 0.0 <= self.share <= 1.0:
            raise ValueError(
                f"The 'share' parameter of Exploration must be in [0, 1]. Got {self.share!r}."
            )
        if self.max_ratings < 1 or self.protected < 0:
            raise ValueError(
                "The 'max_ratings' parameter of Exploration must be >= 1 and 'protected' >= 0. "
                f"Got {self.max_ratings!r} and {self.protected!r}."
            )

    def n_slots(self, top_k: int) -> int:
        """Explored slots in a list of ``top_k``: never one of the first ``protected``."""
        wanted = math.floor(top_k * self.share + 0.5) if self.share > 0 else 0
        return max(0, min(wanted, top_k - self.protected))

    def draw(
        self, pool: np.ndarray, n_slots: int, rng: np.random.Generator | None = None
    ) -> tuple[np.ndarray, float]:
        """Up to ``n_slots`` entries of ``pool`` drawn uniformly without replacement, and the
        probability each entry of the pool had of being drawn (``n / len(pool)``)."""
        pool = np.asarray(pool)
        n = min(n_slots, len(pool))
        if n == 0:
            return pool[:0], 0.0
        rng = rng or np.random.default_rng(self.seed)
        return rng.choice(pool, size=n, replace=False), n / len(pool)


def exploration_pool(
    need_fit: np.ndarray,
    strength_fit: np.ndarray,
    n_ratings: np.ndarray,
    max_ratings: int,
    *,
    has_needs: bool,
) -> np.ndarray:
    """Indices of candidates that may fit but have little evidence.

    ``need_fit`` and ``strength_fit`` are each candidate's content parts (share of the
    person's needs met; share of their strengths matched) and ``n_ratings`` how often it was
    rated. A person who gave needs: a candidate must meet one; otherwise it must match a
    strength. A person who gave neither has no pool (content cannot say what may fit).
    """
    fits = need_fit > 0 if has_needs else strength_fit > 0
    return np.flatnonzero(fits & (n_ratings < max_ratings))
