"""What a ranker returns: a suggestion with its score, distance and the reasons behind it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

ReasonKind = Literal[
    "need",
    "activity",
    "distance",
    "delivery",
    "collaborative",
    "need_evidence",
    "prior",
    "new_service",
    "exploration",
    "stale",
    "off_need",
    "other",
]


@dataclass(frozen=True)
class Reason:
    """One thing that drove a score, in words a practitioner can check.

    ``weight`` is the reason's contribution to the final score, so reasons can be sorted
    by what mattered most.
    """

    kind: ReasonKind
    text: str
    weight: float = 0.0


@dataclass(frozen=True)
class Suggestion:
    """One ranked service for one person."""

    service_id: str
    score: float
    rank: int
    distance_km: float | None = None
    reasons: tuple[Reason, ...] = ()
    #: Eligibility facts that were checked and passed, e.g. ``"age 18+ met"``.
    eligibility: tuple[str, ...] = ()
    #: Score of each hybrid part before blending, for evaluation and debugging.
    components: dict[str, float] = field(default_factory=dict)
    #: Probability that the ranking policy put this service in this list: 1 for the model's
    #: own order, the drawn probability for an exploration slot (``vcsmatch.ranking.exploration``).
    #: Off-policy learning and evaluation weigh logged outcomes by its inverse.
    propensity: float = 1.0
