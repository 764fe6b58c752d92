"""The parts of the hybrid ranker, each described once: the blend features it gives, which of
them only ratings of the service itself inform, and which reason each feature counts toward.

``Recommender`` takes its blend columns, its evidence features and the explainer its reason
kinds from here (``default_parts()``), so a feature is named in one place.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from vcsmatch.ranking.result import ReasonKind


@dataclass(frozen=True)
class Part:
    """One part of the hybrid: its ``name`` (``use_<name>`` switches it off), its blend
    ``features`` in column order, the ``evidence`` features among them (missing for a
    service nobody rated, so they add nothing to its score) and the reason kind of each."""

    name: str
    features: tuple[str, ...]
    reasons: Mapping[str, ReasonKind]
    evidence: frozenset[str] = field(default_factory=frozenset)

    def __post_init__(self) -> None:
        if set(self.reasons) != set(self.features) or not self.evidence <= set(self.features):
            raise ValueError(
                f"Part {self.name!r} must give a reason kind for each of its features and "
                f"only evidence features among them. Got features {self.features!r}, reasons "
                f"for {sorted(self.reasons)!r}, evidence {sorted(self.evidence)!r}."
            )


def default_parts() -> tuple[Part, ...]:
    """The hybrid's parts, in the order of the blend's columns."""
    return (
        Part(
            "content",
            ("needs", "main_need", "any_need", "strengths", "distance", "mode"),
            {
                "needs": "need",
                "main_need": "need",
                "any_need": "need",
                "strengths": "activity",
                "distance": "distance",
                "mode": "delivery",
            },
        ),
        Part(
            "collaborative",
            (
                "group_share",
                "group_lift",
                "taste",
                "als",
                "rated_taste",
                "kind_taste",
                "need_fit",
                "main_need_fit",
            ),
            {
                "group_share": "collaborative",
                "group_lift": "collaborative",
                "taste": "collaborative",
                "als": "collaborative",
                "rated_taste": "collaborative",
                "kind_taste": "collaborative",
                "need_fit": "need_evidence",
                "main_need_fit": "need_evidence",
            },
            frozenset(
                {"group_share", "group_lift", "als", "rated_taste", "need_fit", "main_need_fit"}
            ),
        ),
        Part(
            "priors",
            ("prior_lift", "quality", "rated_quality"),
            {"prior_lift": "prior", "quality": "prior", "rated_quality": "prior"},
            frozenset({"prior_lift", "quality", "rated_quality"}),
        ),
    )
