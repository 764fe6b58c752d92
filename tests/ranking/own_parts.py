"""Parts of one's own, as a data scientist at a notebook would write them (a ``PartBase``
subclass of a few lines each): ``tests/ranking/test_own_part.py`` plugs them into the hybrid,
and the pairs contract runs over them too."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Self

import numpy as np

from vcsmatch.ranking import PartBase
from vcsmatch.ranking.pairs import Evidence, Pairs, ServiceSide
from vcsmatch.ranking.training import TrainingPass


class LikedShare(PartBase):
    """Each service's share of relevant ratings in the training pass: a part that learns
    (one array), written as a data scientist at a notebook would."""

    def __init__(self, *, pseudo_count: float = 1.0) -> None:
        self.pseudo_count = pseudo_count

    @property
    def feature_names(self) -> tuple[str, ...]:
        return ("liked_share",)

    def validate(self) -> None:
        if not self.pseudo_count > 0:
            raise ValueError(
                "The 'pseudo_count' parameter of LikedShare must be a positive number. "
                f"Got {self.pseudo_count!r} instead."
            )

    def fit(self, training: TrainingPass) -> Self:
        n = np.bincount(training.service_rows, minlength=training.n_services)
        liked = np.bincount(
            training.service_rows, weights=training.relevant, minlength=training.n_services
        )
        self.share_ = liked / (n + self.pseudo_count)
        return self

    def take(self, rows: np.ndarray) -> Self:
        out = type(self)(**self.get_params())
        out.share_ = np.where(rows >= 0, self.share_[np.maximum(rows, 0)], 0.0)
        return out

    def features(self, pairs: Pairs, evidence: Evidence, services: ServiceSide) -> np.ndarray:
        return self.share_[pairs.service_rows][:, None]

    def arrays(self) -> dict[str, np.ndarray]:
        return {"share": self.share_}

    @classmethod
    def from_arrays(cls, params: dict[str, Any], arrays: Mapping[str, np.ndarray]) -> Self:
        part = cls(**params)
        part.share_ = arrays["share"]
        return part


class DistanceSquared(PartBase):
    """A part that learns nothing: the square of each pair's distance."""

    @property
    def feature_names(self) -> tuple[str, ...]:
        return ("distance_squared",)

    def features(self, pairs: Pairs, evidence: Evidence, services: ServiceSide) -> np.ndarray:
        return (pairs.distance_km**2)[:, None]
