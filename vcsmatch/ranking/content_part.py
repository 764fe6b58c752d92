"""The hybrid's content part: what both sides declare (needs, strengths, distance, delivery
mode), no ratings (``vcsmatch.ranking.content`` scores it)."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from vcsmatch.ranking import content as content_mod
from vcsmatch.ranking.pairs import Evidence, Pairs, ServiceSide, person_vectors
from vcsmatch.ranking.part_base import PartBase
from vcsmatch.ranking.result import ReasonKind


class ContentPart(PartBase):
    """The hybrid's content part (a ``parts.Part``): what both sides declare, no ratings."""

    @property
    def feature_names(self) -> tuple[str, ...]:
        return ("needs", "main_need", "any_need", "strengths", "distance", "mode")

    @property
    def reason_kinds(self) -> Mapping[str, ReasonKind]:
        return {
            "needs": "need",
            "main_need": "need",
            "any_need": "need",
            "strengths": "activity",
            "distance": "distance",
            "mode": "delivery",
        }

    def features(self, pairs: Pairs, evidence: Evidence, services: ServiceSide) -> np.ndarray:
        """Its features of ``pairs`` (columns ``feature_names``); it learns nothing."""
        pv = person_vectors(pairs)
        parts = services.content.parts(pv, pairs.service_rows, pairs.distance_km)
        col = {name: j for j, name in enumerate(content_mod.PARTS)}
        out = np.empty((len(pairs), len(self.feature_names)))
        for j, name in enumerate(self.feature_names):
            out[:, j] = parts[:, col["needs"]] > 0 if name == "any_need" else parts[:, col[name]]
        return out
