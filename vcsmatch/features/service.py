"""Service features: needs met, activities offered, delivery modes, place and age range.

Columns follow the taxonomy's file order, so they line up with ``PersonFeatures`` and with
every other array built from the same taxonomy. Published codes weigh 1.0; codes inferred
from the description text (``inferred_needs``/``inferred_activities``) weigh less
(``inferred_weight``), because nobody at the service said so.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin

from vcsmatch.catalogue.model import DELIVERY_MODES, Catalogue, Service
from vcsmatch.errors import CatalogueError, NotFittedError, PostcodeError
from vcsmatch.taxonomy import Taxonomy, load_taxonomy


def _services(catalogue: Catalogue | Sequence[Service]) -> list[Service]:
    if isinstance(catalogue, Catalogue):
        return list(catalogue.services)
    if isinstance(catalogue, str | bytes) or not isinstance(catalogue, Iterable):
        raise TypeError(
            f"ServiceFeatures expects a Catalogue or a list of Service. Got {type(catalogue)!r}."
        )
    services = list(catalogue)
    for s in services:
        if not isinstance(s, Service):
            raise TypeError(
                f"ServiceFeatures expects a Catalogue or a list of Service. Got {type(s)!r}."
            )
    return services


class ServiceFeatures(TransformerMixin, BaseEstimator):
    """Per-service arrays learned from a catalogue (rows = catalogue order).

    After ``fit``: ``need_matrix_`` and ``activity_matrix_`` (n_services x n codes; 1.0
    published, ``inferred_weight`` inferred), ``modes_`` (n_services x 4, ``DELIVERY_MODES``
    order), ``lat_``/``lon_`` (first location with coordinates or a known postcode, NaN if
    none), ``min_age_``/``max_age_`` (NaN when unrestricted), ``service_ids_``, ``active_``.
    ``transform(catalogue)`` stacks needs, activities and modes for any catalogue.
    """

    def __init__(
        self,
        taxonomy: Taxonomy | None = None,
        inferred_weight: float = 0.6,
        resolve_postcodes: bool = True,
    ) -> None:
        self.taxonomy = taxonomy
        self.inferred_weight = inferred_weight
        self.resolve_postcodes = resolve_postcodes

    def fit(self, catalogue: Catalogue | Sequence[Service], y: Any = None) -> ServiceFeatures:
        if not (
            isinstance(self.inferred_weight, int | float) and 0.0 <= self.inferred_weight <= 1.0
        ):
            raise ValueError(
                "The 'inferred_weight' parameter of ServiceFeatures must be a number in [0, 1]. "
                f"Got {self.inferred_weight!r} instead."
            )
        services = _services(catalogue)
        tax = self.taxonomy or load_taxonomy()
        self.need_codes_ = tuple(tax.need_codes)
        self.activity_codes_ = tuple(tax.activity_codes)
        self.need_matrix_, self.activity_matrix_, self.modes_ = self._code_arrays(services)
        self.service_ids_ = np.asarray([s.id for s in services], dtype=object)
        self.active_ = np.fromiter((s.is_active for s in services), bool, count=len(services))
        self.min_age_ = np.array(
            [np.nan if s.eligibility.min_age is None else s.eligibility.min_age for s in services],
            dtype=float,
        )
        self.max_age_ = np.array(
            [np.nan if s.eligibility.max_age is None else s.eligibility.max_age for s in services],
            dtype=float,
        )
        self.lat_, self.lon_ = self._first_locations(services)
        self.n_features_out_ = (
            len(self.need_codes_) + len(self.activity_codes_) + len(DELIVERY_MODES)
        )
        return self

    def _code_arrays(self, services: list[Service]) -> tuple[np.ndarray, ...]:
        need_col = {c: j for j, c in enumerate(self.need_codes_)}
        act_col = {c: j for j, c in enumerate(self.activity_codes_)}
        mode_col = {m: j for j, m in enumerate(DELIVERY_MODES)}
        n = len(services)
        needs = np.zeros((n, len(need_col)))
        acts = np.zeros((n, len(act_col)))
        modes = np.zeros((n, len(mode_col)))
        w = float(self.inferred_weight)
        for i, s in enumerate(services):
            self._fill(needs, i, s.inferred_needs, need_col, w, s.id, "inferred_needs")
            self._fill(needs, i, s.needs, need_col, 1.0, s.id, "needs")
            self._fill(acts, i, s.inferred_activities, act_col, w, s.id, "inferred_activities")
            self._fill(acts, i, s.activities, act_col, 1.0, s.id, "activities")
            for m in s.delivery_modes:
                modes[i, mode_col[m]] = 1.0
        return needs, acts, modes

    @staticmethod
    def _fill(
        out: np.ndarray,
        row: int,
        codes: list[str],
        cols: dict[str, int],
        weight: float,
        service_id: str,
        field: str,
    ) -> None:
        for code in codes:
            j = cols.get(code)
            if j is None:
                raise CatalogueError(service_id, field, f"unknown code {code!r} (not in taxonomy)")
            out[row, j] = max(out[row, j], weight) if field.startswith("inferred") else weight

    def _first_locations(self, services: list[Service]) -> tuple[np.ndarray, np.ndarray]:
        lat = np.full(len(services), np.nan)
        lon = np.full(len(services), np.nan)
        directory = None
        for i, s in enumerate(services):
            for loc in s.locations:
                if loc.latitude is not None and loc.longitude is not None:
                    lat[i], lon[i] = loc.latitude, loc.longitude
                    break
                if self.resolve_postcodes and loc.postcode:
                    if directory is None:
                        from vcsmatch.features.location import get_postcode_directory

                        directory = get_postcode_directory()
                    try:
                        lat[i], lon[i] = directory.lookup(loc.postcode)
                        break
                    except PostcodeError:
                        continue
        return lat, lon

    def _check_fitted(self) -> None:
        if not hasattr(self, "need_matrix_"):
            raise NotFittedError("ServiceFeatures is not fitted yet; call fit(catalogue) first.")

    def transform(self, catalogue: Catalogue | Sequence[Service]) -> np.ndarray:
        """``[needs | activities | modes]`` for each service of ``catalogue``, in its order."""
        self._check_fitted()
        needs, acts, modes = self._code_arrays(_services(catalogue))
        return np.hstack([needs, acts, modes])

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        self._check_fitted()
        return np.asarray(
            [f"need={c}" for c in self.need_codes_]
            + [f"activity={c}" for c in self.activity_codes_]
            + [f"mode={m}" for m in DELIVERY_MODES],
            dtype=object,
        )
