"""The hybrid ranker and the baselines it must beat, with what they return.

``Recommender`` is the hybrid (candidates, content, collaborative, priors, blend, diversity,
reasons); ``default_parts()`` describes its parts; the baselines share its interface and its
hard rules. Everything else under ``vcsmatch.ranking`` is implementation.
"""

from vcsmatch.ranking.baselines import (
    ContentOnly,
    GlobalPopularity,
    GroupMeanRating,
    GroupPopularity,
    NearestServices,
)
from vcsmatch.ranking.parts import Part, default_parts
from vcsmatch.ranking.recommender import Recommender
from vcsmatch.ranking.result import Reason, Suggestion

__all__ = [
    "ContentOnly",
    "GlobalPopularity",
    "GroupMeanRating",
    "GroupPopularity",
    "NearestServices",
    "Part",
    "Reason",
    "Recommender",
    "Suggestion",
    "default_parts",
]
