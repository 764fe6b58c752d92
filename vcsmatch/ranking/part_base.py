"""The base of the hybrid's parts (``PartBase``), and the registry saved models name them by.

A part subclasses ``PartBase`` (a scikit-learn ``BaseEstimator``) and so registers itself
under its module and class name; a saved ``Recommender`` names each part by that key, and
loading builds the class it names from the registry, so persistence needs no list of the
parts there are. Only classes already imported are known: loading never imports a module a
file names (a user's own part is registered by importing the module that defines it).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar, Self

import numpy as np
from sklearn.base import BaseEstimator

from vcsmatch.errors import ModelLoadError
from vcsmatch.ranking.result import ReasonKind

if TYPE_CHECKING:
    from vcsmatch.ranking.pairs import Evidence, Pairs, ServiceSide
    from vcsmatch.ranking.training import TrainingPass


class PartBase(BaseEstimator):
    """Defaults of a ``parts.Part``: settings valid, no evidence features, nothing learned
    (a part that learns overrides ``fit``, ``take``, ``arrays`` and ``from_arrays``)."""

    #: Every part class by ``part_key``: what ``part_class`` builds a saved part from.
    registry: ClassVar[dict[str, type[PartBase]]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        PartBase.registry[part_key(cls)] = cls

    @property
    def feature_names(self) -> tuple[str, ...]:
        raise NotImplementedError

    @property
    def evidence_features(self) -> frozenset[str]:
        return frozenset()

    @property
    def reason_kinds(self) -> Mapping[str, ReasonKind]:
        return dict.fromkeys(self.feature_names, "other")

    def validate(self) -> None:
        """Raise ``ValueError`` naming the first setting out of its range (none here)."""

    def fit(self, training: TrainingPass) -> Self:
        """Learn from one training pass; returns ``self`` (this default learns nothing)."""
        return self

    def take(self, rows: np.ndarray) -> Self:
        """The fitted part over another service order (``-1``: a service it never saw)."""
        return self

    def features(self, pairs: Pairs, evidence: Evidence, services: ServiceSide) -> np.ndarray:
        raise NotImplementedError

    def arrays(self) -> dict[str, np.ndarray]:
        """Its learned state as named arrays (for a saved model)."""
        return {}

    @classmethod
    def from_arrays(cls, params: dict[str, Any], arrays: Mapping[str, np.ndarray]) -> Self:
        """The fitted part with settings ``params`` and the state ``arrays`` gave."""
        return cls(**params)


def part_key(cls: type) -> str:
    """The name a saved model gives a part class: ``module:qualified name``."""
    return f"{cls.__module__}:{cls.__qualname__}"


def part_class(key: str) -> type[PartBase]:
    """The registered part class saved as ``key``; ``ModelLoadError`` when none is."""
    cls = PartBase.registry.get(key)
    if cls is None:
        raise ModelLoadError(
            f"header.json: part class {key!r} is not registered; import the module that "
            "defines it before loading the model"
        )
    return cls
