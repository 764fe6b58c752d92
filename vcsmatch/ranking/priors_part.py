"""The hybrid's priors part: each service's own ratings, shrunk toward the mean
(``vcsmatch.ranking.priors``), and its rating factorisation's bias."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from sklearn.base import BaseEstimator

from vcsmatch.ranking.pairs import LearnedParts, Pairs, ServiceSide
from vcsmatch.ranking.result import ReasonKind


class PriorsPart(BaseEstimator):
    """The hybrid's priors part (a ``parts.Part``): each service's own ratings, shrunk."""

    @property
    def feature_names(self) -> tuple[str, ...]:
        return ("prior_lift", "quality", "rated_quality")

    @property
    def evidence_features(self) -> frozenset[str]:
        return frozenset(self.feature_names)

    @property
    def reason_kinds(self) -> Mapping[str, ReasonKind]:
        kind: ReasonKind = "prior"
        return dict.fromkeys(self.feature_names, kind)

    def features(self, pairs: Pairs, learned: LearnedParts, services: ServiceSide) -> np.ndarray:
        """Its features of ``pairs`` (columns ``feature_names``; ``rated_quality`` NaN when no
        rating factorisation was learned)."""
        s = pairs.service_rows
        out = np.full((len(pairs), 3), np.nan)
        out[:, 0] = learned.priors.lift[s]
        out[:, 1] = learned.priors.quality[s]
        if learned.ratings_model is not None:
            out[:, 2] = learned.ratings_model.bias_[s]
        return out
