"""How well a service fits a person on what both sides declare, with no ratings at all.

Four parts, each in [0, 1], computed for all candidates of one person at once:

- ``needs``: the share of the person's needs the service meets (a published need counts 1, one
  inferred from the description counts less, ``ServiceFeatures.inferred_weight``);
- ``main_need``: how well it meets the need recorded first (the presenting need);
- ``strengths``: the share of the person's strengths among the service's activities;
- ``distance``: a smooth decay of the distance against how far this person can travel
  (``1 / (1 + (d / h)^2)`` with ``h`` half their radius); services that need no travel
  (online, phone, home visit) score 1, and one that can also be reached by phone or online
  loses only ``REMOTE_ALTERNATIVE_DECAY`` of the decay;
- ``mode``: the delivery mode against the person's stated preference, or, when they stated
  none, against what suits their age band (online suits older people less).

``ContentScorer.combine`` weighs them into one score for the content-only ranker; the hybrid
learns its own weights.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from vcsmatch.catalogue.model import DELIVERY_MODES
from vcsmatch.features.person import Person

PARTS: tuple[str, ...] = ("needs", "main_need", "strengths", "distance", "mode")

#: Weights of the content-only score (needs dominate: they are why the person came).
DEFAULT_WEIGHTS: dict[str, float] = {
    "needs": 0.45,
    "main_need": 0.15,
    "strengths": 0.15,
    "distance": 0.15,
    "mode": 0.1,
}

#: How well each delivery mode suits people of an age band when they state no preference,
#: in ``DELIVERY_MODES`` order (in person, online, phone, home visit).
MODE_FIT_BY_BAND: dict[str | None, tuple[float, float, float, float]] = {
    "under-18": (1.0, 0.9, 0.6, 0.7),
    "18-24": (1.0, 0.9, 0.7, 0.7),
    "25-49": (1.0, 0.9, 0.8, 0.7),
    "50-64": (1.0, 0.8, 0.8, 0.8),
    "65-79": (1.0, 0.6, 0.8, 0.9),
    "80+": (0.9, 0.4, 0.8, 1.0),
    None: (1.0, 0.8, 0.8, 0.8),
}
#: Fit of a mode the person did not ask for, when they stated preferences.
UNPREFERRED_FIT = 0.3

#: How much of the distance decay a service keeps when it can also be reached by phone or
#: online (a far service that also phones is not lost to the person).
REMOTE_ALTERNATIVE_DECAY = 0.5

#: The 16 sets of delivery modes as rows of 0/1 (``ContentScorer.mode_pattern_`` indexes them).
_MODE_BITS = (np.arange(16)[:, None] >> np.arange(4)) & 1


@dataclass(frozen=True)
class PersonVector:
    """A person's side of the content score, as arrays over the taxonomy."""

    needs: np.ndarray  # 0/1 over need codes
    main_need: np.ndarray  # 0/1 over need codes: the need recorded first
    strengths: np.ndarray  # 0/1 over strength codes
    mode_fit: np.ndarray  # over DELIVERY_MODES
    radius_km: float | np.ndarray  # one per row when the arrays hold one person per row


class ContentScorer:
    """Holds the service side (need, activity and mode matrices) of the content score."""

    def fit(
        self,
        need_matrix: np.ndarray,
        activity_matrix: np.ndarray,
        modes: np.ndarray,
        need_codes: Sequence[str],
        strength_codes: Sequence[str],
    ) -> ContentScorer:
        """Keep float32 copies of the service matrices (rows = catalogue order)."""
        self.need_matrix_ = np.ascontiguousarray(need_matrix, dtype=np.float32)
        self.activity_matrix_ = np.ascontiguousarray(activity_matrix, dtype=np.float32)
        self.modes_ = np.ascontiguousarray(modes, dtype=np.float32)
        self.no_travel_ = (self.modes_[:, 0] == 0) & (self.modes_.sum(axis=1) > 0)
        # how much distance counts: less where the service can also be reached remotely
        remote = (self.modes_[:, 1] > 0) | (self.modes_[:, 2] > 0)
        self.decay_ = np.where(
            (self.modes_[:, 0] > 0) & remote, REMOTE_ALTERNATIVE_DECAY, 1.0
        ).astype(np.float32)
        # each service's set of modes as a 4-bit pattern: a person's mode fit is then one
        # lookup in a 16-entry table instead of a max over a gathered matrix
        self.mode_pattern_ = (self.modes_ > 0).astype(np.int64) @ (1 << np.arange(4))
        self.need_col_ = {c: j for j, c in enumerate(need_codes)}
        self.strength_col_ = {c: j for j, c in enumerate(strength_codes)}
        return self

    def person_vector(self, person: Person, radius_km: float) -> PersonVector:
        """The person's needs, strengths and mode preferences as arrays."""
        needs = np.zeros(len(self.need_col_), dtype=np.float32)
        main = np.zeros(len(self.need_col_), dtype=np.float32)
        strengths = np.zeros(len(self.strength_col_), dtype=np.float32)
        for code in person.needs:
            if code in self.need_col_:
                needs[self.need_col_[code]] = 1.0
        for code in person.needs[:1]:
            if code in self.need_col_:
                main[self.need_col_[code]] = 1.0
        for code in person.strengths:
            if code in self.strength_col_:
                strengths[self.strength_col_[code]] = 1.0
        if person.delivery_modes:
            fit = np.array(
                [1.0 if m in person.delivery_modes else UNPREFERRED_FIT for m in DELIVERY_MODES],
                dtype=np.float32,
            )
        else:
            fit = np.asarray(MODE_FIT_BY_BAND.get(person.band, MODE_FIT_BY_BAND[None]), np.float32)
        return PersonVector(needs, main, strengths, fit, float(radius_km))

    def parts(self, pv: PersonVector, rows: np.ndarray, distance_km: np.ndarray) -> np.ndarray:
        """``len(rows) x 4`` array of the parts (``PARTS`` order) for the services in ``rows``.

        ``pv`` is one person (1-D arrays), or one person per row of ``rows`` (2-D arrays).
        """
        out = np.empty((len(rows), len(PARTS)), dtype=np.float64, order="F")
        if pv.needs.ndim == 1:  # one person against many services: two small mat-vecs
            n_needs = pv.needs.sum()
            n_str = pv.strengths.sum()
            # score the whole catalogue then take the rows: a mat-vec over contiguous rows is
            # cheaper than gathering a copy of every candidate's row first
            out[:, 0] = (self.need_matrix_ @ pv.needs)[rows] / n_needs if n_needs else 0.0
            out[:, 1] = (self.need_matrix_ @ pv.main_need)[rows]
            out[:, 2] = (self.activity_matrix_ @ pv.strengths)[rows] / n_str if n_str else 0.0
        else:  # (person, service) pairs, one person per row
            need_rows = self.need_matrix_[rows]
            met = np.einsum("ij,ij->i", need_rows, pv.needs)
            liked = np.einsum("ij,ij->i", self.activity_matrix_[rows], pv.strengths)
            out[:, 0] = met / np.maximum(pv.needs.sum(axis=1), 1.0)
            out[:, 1] = np.einsum("ij,ij->i", need_rows, pv.main_need)
            out[:, 2] = liked / np.maximum(pv.strengths.sum(axis=1), 1.0)
        out[:, 3] = distance_fit(
            distance_km, pv.radius_km, self.no_travel_[rows], self.decay_[rows]
        )
        if pv.mode_fit.ndim == 1:
            table = (_MODE_BITS * pv.mode_fit).max(axis=1)
            out[:, 4] = table[self.mode_pattern_[rows]]
        else:
            out[:, 4] = (self.modes_[rows] * pv.mode_fit).max(axis=1)
        return out

    def needs_met(self, pv: PersonVector, row: int) -> list[tuple[str, float]]:
        """The person's needs this service meets, with their weight (1 published, <1 inferred)."""
        codes = list(self.need_col_)
        return [
            (codes[j], float(self.need_matrix_[row, j]))
            for j in np.flatnonzero(pv.needs)
            if self.need_matrix_[row, j] > 0
        ]

    def strengths_matched(self, pv: PersonVector, row: int) -> list[tuple[str, float]]:
        """The person's strengths among the service's activities."""
        codes = list(self.strength_col_)
        return [
            (codes[j], float(self.activity_matrix_[row, j]))
            for j in np.flatnonzero(pv.strengths)
            if self.activity_matrix_[row, j] > 0
        ]


def distance_fit(
    distance_km: np.ndarray,
    radius_km: float | np.ndarray,
    no_travel: np.ndarray,
    decay: np.ndarray | float = 1.0,
) -> np.ndarray:
    """1 at the door, 0.5 at half the radius, 0.2 at the radius; 1 for services that come to
    the person; 0.5 where a located service's distance is unknown. ``decay`` (per service)
    scales how much of that loss applies."""
    d = np.asarray(distance_km, dtype=np.float64)
    h = np.maximum(radius_km, 1e-6) / 2.0
    fit = 1.0 - np.asarray(decay) * (1.0 - 1.0 / (1.0 + (d / h) ** 2))
    fit = np.where(np.isnan(d), 0.5, fit)
    return np.where(no_travel, 1.0, fit)


def combine(parts: np.ndarray, weights: dict[str, float] | None = None) -> np.ndarray:
    """The content-only score: a weighted sum of the parts."""
    w = weights or DEFAULT_WEIGHTS
    return parts @ np.array([w[p] for p in PARTS])
