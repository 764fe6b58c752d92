"""Person-service pairs and their blend features: the one path for training and for serving.

Training scores (training person, service) pairs to give the blend its rows; serving scores one
person against their candidates. Both build a ``Pairs`` with ``make_pairs`` and turn it into
blend features with ``parts.pair_features`` (each part's ``features``), so what the blend
learns from is what it is served (a contract test checks it, feature by feature). Distances
are always to a service's nearest location, whatever made the service a candidate (travel,
phone or online).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.sparse as sp

from vcsmatch.catalogue.model import Catalogue
from vcsmatch.features.geo import haversine_km, located_service_points
from vcsmatch.ranking.collaborative import GroupStats
from vcsmatch.ranking.content import ContentScorer, PersonVector
from vcsmatch.ranking.priors import ServicePriors


@dataclass(frozen=True)
class Evidence(Mapping[str, Any]):
    """What one training pass learned (on all people, or on the other folds), bound to one
    service order: per part name, that fitted part (its learned state; iterating gives the
    parts in blend column order), and the ratings' own counts every part and the explainer
    may read: ``priors`` (per-service counts, ``ServicePriors``) and ``groups`` (per group
    and service, ``GroupStats``)."""

    priors: ServicePriors
    groups: GroupStats
    parts: Mapping[str, Any]  # name -> fitted ``parts.Part``

    def __getitem__(self, name: str) -> Any:  # noqa: ANN401 - a fitted part
        return self.parts[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self.parts)

    def __len__(self) -> int:
        return len(self.parts)


@dataclass(frozen=True)
class ServicePoints:
    """Every located point of every service, grouped by service row (CSR-like)."""

    lat: np.ndarray
    lon: np.ndarray
    indptr: np.ndarray  # points of service row s: indptr[s]:indptr[s + 1]

    #: no service has more than one point (the usual catalogue): a pair's nearest point is
    #: its only one
    one_each: bool = field(init=False, repr=False)

    def __post_init__(self) -> None:
        one = len(self.indptr) < 2 or int(np.diff(self.indptr).max()) <= 1
        object.__setattr__(self, "one_each", one)  # derived once (the class is frozen)

    @classmethod
    def of(cls, catalogue: Catalogue) -> ServicePoints:
        lats, lons, owners = located_service_points(catalogue)
        order = np.argsort(owners, kind="stable")
        owners = owners[order]
        indptr = np.searchsorted(owners, np.arange(len(catalogue) + 1)).astype(np.int64)
        return cls(lats[order], lons[order], indptr)

    def nearest_km(self, lat: np.ndarray, lon: np.ndarray, rows: np.ndarray) -> np.ndarray:
        """Per pair, km from (``lat``, ``lon``) to service ``rows``' nearest point; NaN where
        the person or the service has no location."""
        rows = np.asarray(rows, dtype=np.int64)
        lat = np.broadcast_to(np.asarray(lat, dtype=np.float64), rows.shape)
        lon = np.broadcast_to(np.asarray(lon, dtype=np.float64), rows.shape)
        out = np.full(len(rows), np.nan)
        start = self.indptr[rows]
        count = self.indptr[rows + 1] - start
        idx = np.flatnonzero((count > 0) & np.isfinite(lat) & np.isfinite(lon))
        if not len(idx):
            return out
        if self.one_each:  # a point per service: the pairs' own points, nothing to reduce
            d = haversine_km(lat[idx], lon[idx], self.lat[start[idx]], self.lon[start[idx]])
            out[idx] = d
            return out
        c = count[idx]
        first = np.cumsum(c) - c
        pair_of = np.repeat(idx, c)
        points = np.repeat(start[idx], c) + np.arange(int(c.sum())) - np.repeat(first, c)
        d = haversine_km(lat[pair_of], lon[pair_of], self.lat[points], self.lon[points])
        out[idx] = np.minimum.reduceat(np.asarray(d, dtype=np.float64).ravel(), first)
        return out


@dataclass(frozen=True)
class ServiceSide:
    """The catalogue side every pair is scored against (rows = catalogue order)."""

    content: ContentScorer
    matrix: sp.csr_matrix  # service features of the taste models (with a constant column)
    points: ServicePoints


@dataclass(frozen=True)
class PairPeople:
    """The person side of pairs, one row per person: content vectors (2-D arrays, radius per
    person), ``PersonFeatures`` rows, group membership (people x groups, 0/1) and home."""

    vectors: PersonVector
    features: sp.csr_matrix | np.ndarray
    member: sp.csr_matrix
    lat: np.ndarray
    lon: np.ndarray

    def __len__(self) -> int:
        return len(self.lat)


@dataclass(frozen=True)
class Pairs:
    """(person, service) pairs: rows of ``people`` and of the catalogue, and their distance."""

    people: PairPeople
    person_rows: np.ndarray
    service_rows: np.ndarray
    distance_km: np.ndarray

    def __len__(self) -> int:
        return len(self.service_rows)


def make_pairs(
    people: PairPeople, person_rows: np.ndarray, service_rows: np.ndarray, services: ServiceSide
) -> Pairs:
    """Pairs of ``people`` rows and service rows, with each pair's distance."""
    p = np.asarray(person_rows, dtype=np.int64)
    s = np.asarray(service_rows, dtype=np.int64)
    distance = services.points.nearest_km(people.lat[p], people.lon[p], s)
    return Pairs(people, p, s, distance)


def pair_content(pairs: Pairs, services: ServiceSide) -> np.ndarray:
    """The content parts (``content.PARTS`` columns) of ``pairs``: what ``pair_features``
    gives for them, for the training models that learn what content misses."""
    return services.content.parts(person_vectors(pairs), pairs.service_rows, pairs.distance_km)


def person_vectors(pairs: Pairs) -> PersonVector:
    """The content side per pair: the one person's 1-D vectors (one person's pairs, serving),
    or one row per pair."""
    vectors, p, one = pairs.people.vectors, pairs.person_rows, len(pairs.people) == 1
    radius = np.asarray(vectors.radius_km, dtype=np.float64)
    if one:
        return PersonVector(
            vectors.needs[0],
            vectors.main_need[0],
            vectors.strengths[0],
            vectors.mode_fit[0],
            float(radius.ravel()[0]),
        )
    return PersonVector(
        vectors.needs[p], vectors.main_need[p], vectors.strengths[p], vectors.mode_fit[p], radius[p]
    )
