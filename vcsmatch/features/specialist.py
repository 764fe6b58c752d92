"""Specialist services: for people with their need only.

A service is *specialist* when its main need is one the taxonomy marks ``specialist``
(``catalogue/taxonomy/needs.csv``: domestic abuse, alcohol and drugs). Its main need is its
first published need or, when it published none, its first inferred one (inferred codes come
best guess first). A general service that also lists a specialist need among others (a lunch
club that says "domestic abuse" too) is not specialist.

A specialist service is a candidate only for a person who has its main need. Learned scores
follow ratings, and ratings follow what an old tool showed; no score may put a women's-aid
outreach or a drugs service in front of someone who never said they need it: at best it is
noise, at worst it is read by the wrong person. The rule sits in the candidates step
(``vcsmatch.ranking.candidates``), so every ranker and baseline obeys it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

from vcsmatch.catalogue.model import Catalogue, Service
from vcsmatch.errors import NotFittedError
from vcsmatch.taxonomy import Taxonomy, load_taxonomy


def main_need(service: Service) -> str | None:
    """The service's main need code: its first published need, else its first inferred one."""
    needs = service.all_needs
    return needs[0] if needs else None


class SpecialistServices:
    """Fit on a catalogue; ``allowed(needs)`` masks the services a person with ``needs`` may
    be offered (every service that is not specialist, and the specialist ones for their need).

    After ``fit``: ``need_`` (per service, its specialist need code or ``""``) and
    ``specialist_`` (per service, whether it is specialist).
    """

    def __init__(self, taxonomy: Taxonomy | None = None) -> None:
        self.taxonomy = taxonomy

    def fit(self, catalogue: Catalogue | Sequence[Service]) -> SpecialistServices:
        codes = (self.taxonomy or load_taxonomy()).specialist_codes
        mains = [main_need(s) for s in catalogue]
        self.need_ = np.asarray([m if m in codes else "" for m in mains], dtype=object)
        self.specialist_ = self.need_ != ""
        self._by_need = {c: self.need_ == c for c in sorted(set(self.need_[self.specialist_]))}
        return self

    def allowed(self, needs: Iterable[str]) -> np.ndarray:
        """Per service: True unless it is specialist for a need not in ``needs``."""
        if not hasattr(self, "specialist_"):
            raise NotFittedError("SpecialistServices is not fitted yet; call fit(catalogue).")
        out = ~self.specialist_
        for code in needs:
            mask = self._by_need.get(code)
            if mask is not None:
                out = out | mask
        return out
