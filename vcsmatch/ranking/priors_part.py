"""The hybrid's priors part: each service's own ratings, shrunk toward the mean
(``vcsmatch.ranking.priors``), beyond what content predicts, and its rating factorisation's
bias."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Self

import numpy as np

from vcsmatch.ranking.pairs import Evidence, Pairs, ServiceSide
from vcsmatch.ranking.part_base import PartBase
from vcsmatch.ranking.result import ReasonKind
from vcsmatch.ranking.training import TrainingPass


class PriorsPart(PartBase):
    """The hybrid's priors part (a ``parts.Part``): each service's own ratings, shrunk.

    Parameters: ``kind_alpha`` and ``rating_factors`` configure the rating factorisation
    whose per-service bias is ``rated_quality`` (as ``CollaborativePart``'s: with the same
    settings, the default, a training pass fits it once for both). Fitted: ``residual_``, per
    service the sum over its ratings of relevance minus what content alone predicts, and
    ``rated_bias_``, the factorisation's bias (None: nothing rated).
    """

    def __init__(self, *, kind_alpha: float = 300.0, rating_factors: int = 8) -> None:
        self.kind_alpha = kind_alpha
        self.rating_factors = rating_factors

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

    def validate(self) -> None:
        """Raise ``ValueError`` naming the first setting out of its range."""
        alpha, k = self.kind_alpha, self.rating_factors
        if isinstance(alpha, bool) or not isinstance(alpha, int | float) or alpha <= 0:
            raise ValueError(
                "The 'kind_alpha' parameter of PriorsPart must be a positive number. "
                f"Got {alpha!r} instead."
            )
        if isinstance(k, bool) or not isinstance(k, int) or k < 1:
            raise ValueError(
                f"The 'rating_factors' parameter of PriorsPart must be an int >= 1. Got {k!r} "
                "instead."
            )

    def fit(self, training: TrainingPass) -> Self:
        """Learn each service's residual relevance and rated bias from one training pass."""
        self.residual_: np.ndarray | None = None
        self.rated_bias_: np.ndarray | None = None
        if not training.n_ratings:
            return self
        from sklearn.linear_model import LogisticRegression

        rel, content = training.relevant, training.content
        # what content alone predicts of each kept rating; the rest is the service's own
        if len(np.unique(rel)) == 2:
            fit_on = training.sample_rows(rel, 2)
            lr = LogisticRegression(max_iter=500).fit(content[fit_on], rel[fit_on])
            expected = lr.predict_proba(content)[:, 1]
        else:
            expected = np.full(len(rel), float(rel.mean()))
        self.residual_ = np.bincount(
            training.service_rows, weights=rel - expected, minlength=training.n_services
        ).astype(np.float64)
        fm, _ = training.rating_models(self.kind_alpha, self.rating_factors)
        self.rated_bias_ = fm.bias_
        return self

    def take(self, rows: np.ndarray) -> Self:
        """The fitted part over another service order (``-1``: a service never rated)."""
        rows = np.asarray(rows, dtype=np.int64)
        known = rows >= 0
        out = type(self)(**self.get_params())
        out.residual_ = out.rated_bias_ = None
        if self.residual_ is not None:
            out.residual_ = np.zeros(len(rows))
            out.residual_[known] = self.residual_[rows[known]]
        if self.rated_bias_ is not None:
            out.rated_bias_ = np.zeros(len(rows), dtype=self.rated_bias_.dtype)
            out.rated_bias_[known] = self.rated_bias_[rows[known]]
        return out

    def arrays(self) -> dict[str, np.ndarray]:
        out = {}
        if self.residual_ is not None:
            out["residual"] = self.residual_
        if self.rated_bias_ is not None:
            out["rated_bias"] = self.rated_bias_
        return out

    @classmethod
    def from_arrays(cls, params: dict[str, Any], arrays: Mapping[str, np.ndarray]) -> Self:
        part = cls(**params)
        part.residual_ = arrays.get("residual")
        part.rated_bias_ = arrays.get("rated_bias")
        return part

    def features(self, pairs: Pairs, evidence: Evidence, services: ServiceSide) -> np.ndarray:
        """Its features of ``pairs`` (columns ``feature_names``; ``rated_quality`` NaN when no
        rating factorisation was learned). ``quality`` is the residual shrunk like the
        service's rate (a service shown to people whose needs it does not meet is not thereby
        a poor service)."""
        s = pairs.service_rows
        priors = evidence.priors
        out = np.full((len(pairs), 3), np.nan)
        out[:, 0] = priors.lift[s]
        if self.residual_ is not None:
            out[:, 1] = self.residual_[s] / (priors.n_ratings[s] + priors.strength)
        else:
            out[:, 1] = 0.0
        if self.rated_bias_ is not None:
            out[:, 2] = self.rated_bias_[s]
        return out
