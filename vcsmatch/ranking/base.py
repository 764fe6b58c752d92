"""What every ranker is: fit on a catalogue and ratings, recommend for one person or a batch,
save and load (as implicit's ``RecommenderBase`` is for its models).

A subclass implements ``fit``, ``_recommend`` (one checked person, a checked ``top_k``), and
``_state``/``_restore`` (its fields for the JSON header and its learned arrays, and back);
checking arguments, batching and the files are done here once.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar, Self

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator

from vcsmatch.catalogue.model import Catalogue
from vcsmatch.errors import ModelLoadError
from vcsmatch.features.person import Person
from vcsmatch.ranking.persistence import read_model, write_model
from vcsmatch.ranking.result import Suggestion
from vcsmatch.ranking.validation import check_fitted, check_person, check_top_k


class Ranker(BaseEstimator):
    """The base of every ranker (see the module docstring)."""

    #: Every concrete ranker by class name: ``load`` builds the class a header names.
    registry: ClassVar[dict[str, type[Ranker]]] = {}

    #: The catalogue a fitted ranker is bound to (saved beside its arrays).
    catalogue_: Catalogue

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if not cls.__name__.startswith("_"):
            Ranker.registry[cls.__name__] = cls

    @abstractmethod
    def fit(self, catalogue: Catalogue, ratings: pd.DataFrame) -> Self:
        """Learn from ``ratings`` (a training frame) over ``catalogue``; returns ``self``."""

    @abstractmethod
    def _recommend(self, person: Person, top_k: int) -> list[Suggestion]:
        """The ``top_k`` best services for an already checked ``person``."""

    @abstractmethod
    def _state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        """The fitted state: fields for the JSON header, and named arrays."""

    @abstractmethod
    def _restore(
        self, header: dict[str, Any], arrays: dict[str, np.ndarray], catalogue: Catalogue
    ) -> None:
        """Rebuild the fitted state ``_state`` gave, bound to ``catalogue``."""

    def recommend(self, person: Person, top_k: int = 10) -> list[Suggestion]:
        """The ``top_k`` best services for ``person``, best first, with reasons."""
        check_fitted(self)
        check_person(person, "recommend")
        return self._recommend(person, check_top_k(top_k, "recommend"))

    def recommend_batch(
        self, people: Sequence[Person], top_k: int = 10, *, explain: bool = True
    ) -> list[list[Suggestion]]:
        """``recommend`` for each person (identical results to single calls); ``explain=False``
        may leave the reasons out (an evaluation reads only the order, and reasons can cost
        more than ranking)."""
        check_fitted(self)
        top_k = check_top_k(top_k, "recommend_batch")
        for person in people:
            check_person(person, "recommend_batch")
        rank = self._recommend if explain else self._rank
        return [rank(p, top_k) for p in people]

    def _rank(self, person: Person, top_k: int) -> list[Suggestion]:
        """``_recommend`` where reasons are not wanted; a ranker whose reasons are costly
        overrides it to skip them."""
        return self._recommend(person, top_k)

    def _header_params(self) -> dict[str, Any]:
        """The parameters as saved in the JSON header (a ranker with parts overrides it)."""
        return self.get_params(deep=False)

    @classmethod
    def _from_header_params(cls, params: dict[str, Any]) -> Self:
        """The unfitted ranker whose parameters ``_header_params`` gave."""
        return cls(**params)

    def save(self, directory: str | Path) -> Path:
        """Write the fitted ranker to ``directory`` (``vcsmatch.ranking.persistence``)."""
        check_fitted(self)
        fields, arrays = self._state()
        header = {"ranker": type(self).__name__, "params": self._header_params(), **fields}
        return write_model(Path(directory), header, arrays, self.catalogue_)

    @classmethod
    def load(cls, directory: str | Path) -> Self:
        """Read a ranker written by ``save``; raises ``ModelLoadError`` when it cannot be
        trusted (missing, truncated or tampered-with files, a newer or older format, or a
        ranker of another class than ``cls``)."""
        saved = read_model(Path(directory))
        name = saved.header.get("ranker", "Recommender")  # format 3 before the base class
        target = Ranker.registry.get(str(name))
        if target is None or not issubclass(target, cls):
            raise ModelLoadError(f"header.json: a {name} model, not a {cls.__name__}")
        try:
            model = target._from_header_params(saved.header["params"])
            model._restore(saved.header, saved.arrays, saved.catalogue)
        except (KeyError, TypeError, ValueError) as error:
            raise ModelLoadError(
                f"header.json or arrays.npz: inconsistent model ({error})"
            ) from None
        return model
