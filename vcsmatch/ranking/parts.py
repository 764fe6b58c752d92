"""What a part of the hybrid ranker is (``Part``), and the default parts (``default_parts``).

A part is a scikit-learn estimator holding its own settings: the composite ``Recommender``
takes its parts as a list of ``(name, part)`` pairs, as ``Pipeline`` takes its steps, so
``get_params(deep=True)`` reaches inside (``parts__collaborative__n_factors``) and a part can
be tuned with ``set_params``, swapped for another configuration, or dropped (``"drop"``)
without editing the class. The blend's columns, the evidence features, the explainer's
reason kinds and what a saved model holds are taken from the parts, so a feature is named in
one place: its part, and a part of one's own (a ``part_base.PartBase`` subclass) plugs in
like the default ones.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal, Protocol, Self, TypeAlias, runtime_checkable

import numpy as np

from vcsmatch.ranking.collaborative_part import CollaborativePart
from vcsmatch.ranking.content_part import ContentPart
from vcsmatch.ranking.pairs import Evidence, Pairs, ServiceSide
from vcsmatch.ranking.priors_part import PriorsPart
from vcsmatch.ranking.result import ReasonKind
from vcsmatch.ranking.training import TrainingPass


@runtime_checkable
class Part(Protocol):
    """One part of the hybrid, as the composite sees it (``part_base.PartBase`` gives the
    defaults; subclassing it also registers the class, so a saved model restores it).

    ``feature_names``: its blend features in column order, given its settings;
    ``evidence_features``: those only ratings of the service itself inform (missing for a
    service nobody rated, so they add nothing to its score); ``reason_kinds``: the reason each
    feature's contribution counts toward (``"other"``: worded from the feature's name);
    ``validate``: raise ``ValueError`` for a setting out of range, in scikit-learn's words;
    ``fit``: learn from one ``training.TrainingPass`` (the composite fits a clone per pass);
    ``take``: the fitted part over another service order (``-1``: a service it never saw);
    ``features``: its features of person-service pairs (the one path for training and
    serving), reading the pass's shared counts from ``evidence``; ``arrays`` and
    ``from_arrays``: its learned state as named arrays and back, for a saved model;
    ``get_params``/``set_params``: its settings.
    """

    @property
    def feature_names(self) -> tuple[str, ...]: ...

    @property
    def evidence_features(self) -> frozenset[str]: ...

    @property
    def reason_kinds(self) -> Mapping[str, ReasonKind]: ...

    def validate(self) -> None: ...

    def fit(self, training: TrainingPass) -> Self: ...

    def take(self, rows: np.ndarray) -> Self: ...

    def features(self, pairs: Pairs, evidence: Evidence, services: ServiceSide) -> np.ndarray: ...

    def arrays(self) -> dict[str, np.ndarray]: ...

    @classmethod
    def from_arrays(cls, params: dict[str, Any], arrays: Mapping[str, np.ndarray]) -> Self: ...

    def get_params(self, deep: bool = True) -> dict[str, Any]: ...

    def set_params(self, **params: Any) -> Any: ...  # noqa: ANN401 - the part itself


#: A ``Recommender``'s parts: ``(name, part)`` pairs, a part replaced by ``"drop"`` is off.
PartList: TypeAlias = list[tuple[str, Part | Literal["drop"]]]


def default_parts() -> PartList:
    """The hybrid's parts, fresh (tuning one never changes another model's), in the order of
    the blend's columns."""
    return [
        ("content", ContentPart()),
        ("collaborative", CollaborativePart()),
        ("priors", PriorsPart()),
    ]


def pair_features(
    pairs: Pairs, evidence: Evidence, services: ServiceSide, names: Sequence[str]
) -> np.ndarray:
    """Blend features (columns ``names``) of ``pairs``, each from the fitted part in
    ``evidence`` that gives it; NaN where the part learned nothing, and for evidence features of
    services nobody rated (so they add nothing to its score, see ``Blend.impute``). Training
    and serving both call it, so what the blend learns from is what it is served."""
    col = {f: j for j, f in enumerate(names)}
    out = np.full((len(pairs), len(names)), np.nan, order="F")
    rated_only: set[str] = set()
    for part in evidence.parts.values():
        wanted = [(j, col[f]) for j, f in enumerate(part.feature_names) if f in col]
        if not wanted:
            continue
        values = part.features(pairs, evidence, services)
        out[:, [to for _, to in wanted]] = values[:, [j for j, _ in wanted]]
        rated_only |= part.evidence_features
    unrated = np.flatnonzero(evidence.priors.n_ratings[pairs.service_rows] == 0)
    if len(unrated):
        cols = np.array([j for f, j in col.items() if f in rated_only], dtype=np.intp)
        out[np.ix_(unrated, cols)] = np.nan
    return out


def reason_kinds(parts: Sequence[Part]) -> dict[str, ReasonKind]:
    """Which reason each of the parts' features counts toward (the explainer's map)."""
    return {f: kind for part in parts for f, kind in part.reason_kinds.items()}
