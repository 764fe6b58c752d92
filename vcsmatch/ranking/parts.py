"""What a part of the hybrid ranker is (``Part``), and the default parts (``default_parts``).

A part is a scikit-learn estimator holding its own settings: the composite ``Recommender``
takes its parts as a list of ``(name, part)`` pairs, as ``Pipeline`` takes its steps, so
``get_params(deep=True)`` reaches inside (``parts__collaborative__n_factors``) and a part can
be tuned with ``set_params``, swapped for another configuration, or dropped (``"drop"``)
without editing the class. The blend's columns, the evidence features and the explainer's
reason kinds are taken from the parts, so a feature is named in one place: its part.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal, Protocol, TypeAlias, runtime_checkable

from vcsmatch.ranking.collaborative import CollaborativePart
from vcsmatch.ranking.content import ContentPart
from vcsmatch.ranking.priors import PriorsPart
from vcsmatch.ranking.result import ReasonKind


@runtime_checkable
class Part(Protocol):
    """One part of the hybrid, as the composite sees it.

    ``feature_names``: its blend features in column order, given its settings;
    ``evidence_features``: those only ratings of the service itself inform (missing for a
    service nobody rated, so they add nothing to its score); ``reason_kinds``: the reason each
    feature's contribution counts toward; ``get_params``/``set_params``: its settings.
    """

    @property
    def feature_names(self) -> tuple[str, ...]: ...

    @property
    def evidence_features(self) -> frozenset[str]: ...

    @property
    def reason_kinds(self) -> Mapping[str, ReasonKind]: ...

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
