"""Person-service pairs and their blend features: the one path for training and for serving.

Training scores (training person, service) pairs to give the blend its rows; serving scores one
person against their candidates. Both build a ``Pairs`` with ``make_pairs`` and turn it into
blend features with ``pair_features``, so what the blend learns from is what it is served
(a contract test checks it, feature by feature). Distances are always to a service's nearest
location, whatever made the service a candidate (travel, phone or online).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from vcsmatch.catalogue.model import Catalogue
from vcsmatch.features.geo import haversine_km, service_points
from vcsmatch.ranking import content as content_mod
from vcsmatch.ranking.collaborative import FeatureALS, GroupStats, InteractionModel, KindTaste
from vcsmatch.ranking.content import ContentScorer, PersonVector
from vcsmatch.ranking.factorization import RatingFactorization
from vcsmatch.ranking.need_evidence import NeedEvidence
from vcsmatch.ranking.parts import default_parts
from vcsmatch.ranking.priors import ServicePriors

#: Features that only ratings of the service itself inform: missing (NaN) for a service nobody
#: rated, so they contribute nothing to its score (see ``Blend.impute``).
EVIDENCE_FEATURES: frozenset[str] = frozenset().union(
    *(p.evidence_features for _, p in default_parts() if not isinstance(p, str))
)


@dataclass
class LearnedParts:
    """What one training pass learns (on all people, or on the other folds); ``None``: a part
    that is off or learned nothing (day one), whose features are then missing."""

    priors: ServicePriors
    groups: GroupStats
    als: FeatureALS | None
    ratings_model: RatingFactorization | None
    taste: InteractionModel | None
    needs: NeedEvidence | None
    kind: KindTaste | None


@dataclass(frozen=True)
class ServicePoints:
    """Every located point of every service, grouped by service row (CSR-like)."""

    lat: np.ndarray
    lon: np.ndarray
    indptr: np.ndarray  # points of service row s: indptr[s]:indptr[s + 1]

    @classmethod
    def of(cls, catalogue: Catalogue) -> ServicePoints:
        lats, lons, owners = service_points(catalogue)
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


def pair_features(
    pairs: Pairs, learned: LearnedParts, services: ServiceSide, names: Sequence[str]
) -> np.ndarray:
    """Blend features (columns ``names``) of ``pairs``; NaN where the part that gives a
    feature learned nothing, and for evidence features of services nobody rated.

    One person's pairs (serving) take a faster route for some parts: one matrix-vector product
    over the catalogue instead of a product per pair; the values are the same.
    """
    col = {f: j for j, f in enumerate(names)}
    out = np.full((len(pairs), len(names)), np.nan, order="F")
    s = pairs.service_rows
    people = pairs.people
    one = len(people) == 1
    pv = _person_vectors(people.vectors, pairs.person_rows, one)
    if "needs" in col:
        parts = services.content.parts(pv, s, pairs.distance_km)
        for j, part in enumerate(content_mod.PARTS):
            out[:, col[part]] = parts[:, j]
        out[:, col["any_need"]] = parts[:, 0] > 0
    if "group_share" in col:
        _collaborative(out, col, pairs, pv, learned, services, one)
    if "prior_lift" in col:
        out[:, col["prior_lift"]] = learned.priors.lift[s]
        out[:, col["quality"]] = learned.priors.quality[s]
        if learned.ratings_model is not None:
            out[:, col["rated_quality"]] = learned.ratings_model.bias_[s]
    unrated = np.flatnonzero(learned.priors.n_ratings[s] == 0)
    if len(unrated):
        evidence = np.array([j for f, j in col.items() if f in EVIDENCE_FEATURES], dtype=np.intp)
        out[np.ix_(unrated, evidence)] = np.nan
    return out


def pair_content(pairs: Pairs, services: ServiceSide) -> np.ndarray:
    """The content parts (``content.PARTS`` columns) of ``pairs``: what ``pair_features``
    gives for them, for the training models that learn what content misses."""
    pv = _person_vectors(pairs.people.vectors, pairs.person_rows, len(pairs.people) == 1)
    return services.content.parts(pv, pairs.service_rows, pairs.distance_km)


def _person_vectors(vectors: PersonVector, p: np.ndarray, one: bool) -> PersonVector:
    """The content side per pair: the one person's 1-D vectors, or one row per pair."""
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


def _collaborative(
    out: np.ndarray,
    col: dict[str, int],
    pairs: Pairs,
    pv: PersonVector,
    learned: LearnedParts,
    services: ServiceSide,
    one: bool,
) -> None:
    """The collaborative part's columns of ``out`` (left NaN where a model is missing)."""
    p, s = pairs.person_rows, pairs.service_rows
    X = pairs.people.features
    member = pairs.people.member
    if one:
        share, lift = learned.groups.scores(list(member.indices), s)
    else:
        share, lift = _pair_group_scores(learned.groups, member, p, s)
    out[:, col["group_share"]] = share
    out[:, col["group_lift"]] = lift
    taste, kind = learned.taste, learned.kind
    if one and taste is not None and kind is not None:
        # both feature-keyed tastes in one pass over the service matrix
        tastes = np.column_stack([taste.person_vector(X), kind.person_vector(X)])
        by_service = np.asarray(services.matrix @ tastes)[s]
        out[:, col["taste"]] = by_service[:, 0]
        out[:, col["kind_taste"]] = by_service[:, 1]
    else:
        for name, model in (("taste", taste), ("kind_taste", kind)):
            if model is not None:
                out[:, col[name]] = model.pair_scores(X[p], services.matrix, s)
    if "als" in col and learned.als is not None:
        U = learned.als.person_factors(X).astype(np.float32)
        out[:, col["als"]] = _pair_dot(U, learned.als.item_factors_, p, s, one)
    fm = learned.ratings_model
    if fm is not None:
        out[:, col["rated_taste"]] = _pair_dot(fm.person_factors(X), fm.item_factors_, p, s, one)
    if learned.needs is not None:
        if one:
            fit, main = learned.needs.scores(pv.needs, pv.main_need, s)
        else:
            fit, main = learned.needs.pair_scores(pv.needs, pv.main_need, s)
        out[:, col["need_fit"]] = fit
        out[:, col["main_need_fit"]] = main


def _pair_dot(U: np.ndarray, V: np.ndarray, p: np.ndarray, s: np.ndarray, one: bool) -> np.ndarray:
    """``U[p[i]] . V[s[i]]`` per pair (one person: one matrix-vector product)."""
    if one:
        return (V @ U[0])[s]
    return np.einsum("ij,ij->i", U[p], V[s])


def _pair_group_scores(
    groups: GroupStats, member: sp.csr_matrix, p_rows: np.ndarray, s_rows: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """``GroupStats.scores`` for many (person, service) pairs at once."""
    k = np.asarray(member.sum(axis=1)).ravel()
    k_safe = np.where(k > 0, k, 1.0)
    norm = sp.diags(1.0 / k_safe) @ member  # mean over each person's groups
    share = np.zeros(len(p_rows))
    rate = np.zeros(len(p_rows))
    for start in range(0, len(p_rows), 20000):
        sl = slice(start, start + 20000)
        pr, sr = p_rows[sl], s_rows[sl]
        a = norm[pr]
        share[sl] = np.asarray(a.multiply(groups.share_dev_[:, sr].T).sum(axis=1)).ravel()
        share[sl] += groups.global_share_[sr] * (a @ groups.share_base_)
        rate[sl] = np.asarray(a.multiply(groups.rate_dev_[:, sr].T).sum(axis=1)).ravel()
    no_group = k[p_rows] == 0
    share[no_group] = groups.global_share_[s_rows[no_group]]
    return share, rate
