"""The hybrid ranker and the baselines it must beat, with what they return.

``Recommender`` is the hybrid (candidates, content, collaborative, priors, blend, diversity,
reasons); ``default_parts()`` gives its parts (``ContentPart``, ``CollaborativePart``,
``PriorsPart``, each a ``Part``), to tune, swap or drop through its parameters, and
``PartBase`` is the base of a part of one's own; the baselines share its interface and its
hard rules. Everything else under ``vcsmatch.ranking`` is implementation.
"""

from vcsmatch.ranking.baselines import (
    ContentOnly,
    GlobalPopularity,
    GroupMeanRating,
    GroupPopularity,
    NearestServices,
)
from vcsmatch.ranking.collaborative_part import CollaborativePart
from vcsmatch.ranking.content_part import ContentPart
from vcsmatch.ranking.part_base import PartBase
from vcsmatch.ranking.parts import Part, default_parts
from vcsmatch.ranking.priors_part import PriorsPart
from vcsmatch.ranking.recommender import Recommender
from vcsmatch.ranking.result import Reason, Suggestion

__all__ = [
    "CollaborativePart",
    "ContentOnly",
    "ContentPart",
    "GlobalPopularity",
    "GroupMeanRating",
    "GroupPopularity",
    "NearestServices",
    "Part",
    "PartBase",
    "PriorsPart",
    "Reason",
    "Recommender",
    "Suggestion",
    "default_parts",
]
