"""The hybrid's collaborative part: what people like a person rated (group statistics, the
taste models, ALS, the rating factorisation and need evidence; ``vcsmatch.ranking.collaborative``
and its neighbours learn them)."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator

from vcsmatch.ranking.collaborative import GroupStats
from vcsmatch.ranking.content import PersonVector
from vcsmatch.ranking.pairs import LearnedParts, Pairs, ServiceSide, person_vectors
from vcsmatch.ranking.result import ReasonKind


class CollaborativePart(BaseEstimator):
    """The hybrid's collaborative part (a ``parts.Part``): what people like a person rated.

    Parameters: ``als`` includes the ALS factorisation (``FeatureALS``) whose settings are
    ``n_factors``, ``regularization`` and ``iterations``; ``taste_C`` is the inverse
    regularisation of the taste model (``InteractionModel``); ``kind_alpha`` the ridge penalty
    of the kind tastes (``KindTaste``); ``rating_factors`` the rank of the explicit-rating
    factorisation (``RatingFactorization``); ``need_shrinkage`` the pseudo-count of need
    evidence (``NeedEvidence``). The kind tastes and the rating factorisation also inform the
    priors part (``rated_quality``); with this part dropped they keep these defaults.
    """

    def __init__(
        self,
        *,
        als: bool = True,
        n_factors: int = 32,
        regularization: float = 0.05,
        iterations: int = 15,
        taste_C: float = 0.1,
        kind_alpha: float = 300.0,
        rating_factors: int = 8,
        need_shrinkage: float = 5.0,
    ) -> None:
        self.als = als
        self.n_factors = n_factors
        self.regularization = regularization
        self.iterations = iterations
        self.taste_C = taste_C
        self.kind_alpha = kind_alpha
        self.rating_factors = rating_factors
        self.need_shrinkage = need_shrinkage

    #: Every feature the part can give (``feature_names`` leaves out ``als`` when it is off).
    ALL_FEATURES: tuple[str, ...] = (
        "group_share",
        "group_lift",
        "group_rating",
        "taste",
        "als",
        "rated_taste",
        "kind_taste",
        "need_fit",
        "main_need_fit",
    )

    @property
    def feature_names(self) -> tuple[str, ...]:
        return tuple(f for f in self.ALL_FEATURES if f != "als" or self.als)

    @property
    def evidence_features(self) -> frozenset[str]:
        evidence = {"group_share", "group_lift", "group_rating", "als", "rated_taste"}
        evidence |= {"need_fit", "main_need_fit"}
        return frozenset(evidence & set(self.feature_names))

    @property
    def reason_kinds(self) -> Mapping[str, ReasonKind]:
        kinds: dict[str, ReasonKind] = dict.fromkeys(self.feature_names, "collaborative")
        kinds.update(need_fit="need_evidence", main_need_fit="need_evidence")
        return kinds

    def validate(self) -> None:
        """Raise ``ValueError`` naming the first setting out of its range."""
        if not isinstance(self.als, bool):
            raise ValueError(
                f"The 'als' parameter of CollaborativePart must be a bool. Got {self.als!r} "
                "instead."
            )
        for name, value in (
            ("taste_C", self.taste_C),
            ("kind_alpha", self.kind_alpha),
            ("need_shrinkage", self.need_shrinkage),
        ):
            if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
                raise ValueError(
                    f"The '{name}' parameter of CollaborativePart must be a positive number. "
                    f"Got {value!r} instead."
                )
        for name, value in (
            ("n_factors", self.n_factors),
            ("iterations", self.iterations),
            ("rating_factors", self.rating_factors),
        ):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(
                    f"The '{name}' parameter of CollaborativePart must be an int >= 1. "
                    f"Got {value!r} instead."
                )
        reg = self.regularization
        if isinstance(reg, bool) or not isinstance(reg, int | float) or reg < 0:
            raise ValueError(
                "The 'regularization' parameter of CollaborativePart must be a non-negative "
                f"number. Got {reg!r} instead."
            )

    def features(self, pairs: Pairs, learned: LearnedParts, services: ServiceSide) -> np.ndarray:
        """Its features of ``pairs`` (columns ``feature_names``; NaN where a model is missing).

        One person's pairs (serving) take a faster route: one matrix-vector product over the
        catalogue instead of a product per pair; the values are the same."""
        names = self.feature_names
        out = np.full((len(pairs), len(names)), np.nan)
        col = {f: j for j, f in enumerate(names)}
        _collaborative(out, col, pairs, person_vectors(pairs), learned, services)
        return out


def _collaborative(
    out: np.ndarray,
    col: dict[str, int],
    pairs: Pairs,
    pv: PersonVector,
    learned: LearnedParts,
    services: ServiceSide,
) -> None:
    """The collaborative part's columns of ``out`` (left NaN where a model is missing)."""
    one = len(pairs.people) == 1
    p, s = pairs.person_rows, pairs.service_rows
    X = pairs.people.features
    member = pairs.people.member
    if one:
        share, lift = learned.groups.scores(list(member.indices), s)
        rated = learned.groups.rating_lift(list(member.indices), s)
    else:
        share, lift = _pair_group_scores(learned.groups, member, p, s)
        rated = _pair_rating_lift(learned.groups, member, p, s)
    out[:, col["group_share"]] = share
    out[:, col["group_lift"]] = lift
    if rated is not None:
        out[:, col["group_rating"]] = rated
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


def _pair_rating_lift(
    groups: GroupStats, member: sp.csr_matrix, p_rows: np.ndarray, s_rows: np.ndarray
) -> np.ndarray | None:
    """``GroupStats.rating_lift`` for many (person, service) pairs at once."""
    dev = groups.rating_dev_
    if dev is None:
        return None
    k = np.asarray(member.sum(axis=1)).ravel()
    norm = sp.diags(1.0 / np.where(k > 0, k, 1.0)) @ member
    out = np.zeros(len(p_rows))
    for start in range(0, len(p_rows), 20000):
        sl = slice(start, start + 20000)
        a = norm[p_rows[sl]]
        out[sl] = np.asarray(a.multiply(dev[:, s_rows[sl]].T).sum(axis=1)).ravel()
    return out


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
