"""The hybrid's collaborative part: what people like a person rated (group statistics, the
taste models, ALS, the rating factorisation and need evidence; ``vcsmatch.ranking.collaborative``
and its neighbours learn them)."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any, Self

import numpy as np
import scipy.sparse as sp

from vcsmatch.ranking.collaborative import (
    FeatureALS,
    GroupStats,
    InteractionModel,
    KindTaste,
    pair_group_means,
)
from vcsmatch.ranking.content import PersonVector
from vcsmatch.ranking.factorization import RatingFactorization
from vcsmatch.ranking.need_evidence import NeedEvidence
from vcsmatch.ranking.pairs import Evidence, Pairs, ServiceSide, person_vectors
from vcsmatch.ranking.part_base import PartBase
from vcsmatch.ranking.persistence import prefixed, unprefixed
from vcsmatch.ranking.result import ReasonKind
from vcsmatch.ranking.training import TrainingPass
from vcsmatch.ratings import RELEVANT_AT


class CollaborativePart(PartBase):
    """The hybrid's collaborative part (a ``parts.Part``): what people like a person rated.

    Parameters: ``als`` includes the ALS factorisation (``FeatureALS``) whose settings are
    ``n_factors``, ``regularization`` and ``iterations``; ``taste_C`` is the inverse
    regularisation of the taste model (``InteractionModel``); ``kind_alpha`` the ridge penalty
    of the kind tastes (``KindTaste``); ``rating_factors`` the rank of the explicit-rating
    factorisation (``RatingFactorization``); ``need_shrinkage`` the pseudo-count of need
    evidence (``NeedEvidence``). Fitted: ``als_``, ``taste_``, ``ratings_model_``,
    ``kind_taste_``, ``need_evidence_`` (None: off, or nothing rated).
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

    def fit(self, training: TrainingPass) -> Self:
        """Learn its models from one training pass (none from a pass without ratings)."""
        self.als_: FeatureALS | None = None
        self.taste_: InteractionModel | None = None
        self.ratings_model_: RatingFactorization | None = None
        self.kind_taste_: KindTaste | None = None
        self.need_evidence_: NeedEvidence | None = None
        if not training.n_ratings:
            return self
        p, s, rel, rating = (
            training.person_rows,
            training.service_rows,
            training.relevant,
            training.rating,
        )
        n, X, seed = training.n_services, training.features, training.random_state
        self.need_evidence_ = NeedEvidence(self.need_shrinkage).fit(
            training.rated.people.vectors.needs, p, s, rating - training.content_rating, n
        )
        if self.als:
            active = training.active
            conf = np.where(rel, 1.0 + (rating - RELEVANT_AT), 0.0)
            C = sp.csr_matrix((conf, (p, s)), shape=(len(active), n))
            C.eliminate_zeros()
            Xa = sp.diags(active.astype(float)) @ X
            self.als_ = FeatureALS(
                n_factors=self.n_factors,
                regularization=self.regularization,
                iterations=self.iterations,
                random_state=seed,
            ).fit(Xa[active], C[active])
        fit_on = training.sample_rows(rel, 3)
        self.taste_ = InteractionModel(C=self.taste_C, random_state=seed).fit(
            X[p[fit_on]], training.rated.services.matrix[s[fit_on]], rel[fit_on]
        )
        self.ratings_model_, self.kind_taste_ = training.rating_models(
            self.kind_alpha, self.rating_factors
        )
        return self

    def take(self, rows: np.ndarray) -> Self:
        """The fitted part over another service order (``-1``: a service it never saw)."""
        out = copy.copy(self)
        if self.als_ is not None:
            out.als_ = self.als_.take(rows)
        if self.ratings_model_ is not None:
            out.ratings_model_ = self.ratings_model_.take(rows)
        if self.need_evidence_ is not None:
            out.need_evidence_ = self.need_evidence_.take(rows)
        return out

    def _models(self) -> dict[str, Any]:
        """Its learned models by the prefix their arrays are saved under (None: not learned)."""
        return {
            "als": self.als_,
            "taste": self.taste_,
            "ratings_model": self.ratings_model_,
            "kind_taste": self.kind_taste_,
            "need_evidence": self.need_evidence_,
        }

    def arrays(self) -> dict[str, np.ndarray]:
        out: dict[str, np.ndarray] = {}
        for prefix, model in self._models().items():
            if model is not None:
                out.update(prefixed(prefix, model.to_arrays()))
        return out

    @classmethod
    def from_arrays(cls, params: dict[str, Any], arrays: Mapping[str, np.ndarray]) -> Self:
        part = cls(**params)
        blank: dict[str, Any] = {  # each model, unfitted, to take its saved arrays
            "als": FeatureALS(part.n_factors, part.regularization, part.iterations),
            "taste": InteractionModel(part.taste_C),
            "ratings_model": RatingFactorization(part.rating_factors),
            "kind_taste": KindTaste(part.kind_alpha),
            "need_evidence": NeedEvidence(part.need_shrinkage),
        }
        saved = {name.split(".")[0] for name in arrays}
        got = {k: m.set_arrays(unprefixed(k, dict(arrays))) for k, m in blank.items() if k in saved}
        part.als_, part.taste_ = got.get("als"), got.get("taste")
        part.ratings_model_, part.kind_taste_ = got.get("ratings_model"), got.get("kind_taste")
        part.need_evidence_ = got.get("need_evidence")
        return part

    def features(self, pairs: Pairs, evidence: Evidence, services: ServiceSide) -> np.ndarray:
        """Its features of ``pairs`` (columns ``feature_names``; NaN where a model is missing).

        One person's pairs (serving) take a faster route: one matrix-vector product over the
        catalogue instead of a product per pair; the values are the same."""
        names = self.feature_names
        out = np.full((len(pairs), len(names)), np.nan)
        col = {f: j for j, f in enumerate(names)}
        self._fill(out, col, pairs, person_vectors(pairs), evidence.groups, services)
        return out

    def _fill(
        self,
        out: np.ndarray,
        col: dict[str, int],
        pairs: Pairs,
        pv: PersonVector,
        groups: GroupStats,
        services: ServiceSide,
    ) -> None:
        """Its columns of ``out`` (left NaN where a model is missing)."""
        one = len(pairs.people) == 1
        p, s = pairs.person_rows, pairs.service_rows
        X = pairs.people.features
        member = pairs.people.member
        if one:
            share, lift, rated = groups.person_scores(list(member.indices), s)
        else:
            share, lift = _pair_group_scores(groups, member, p, s)
            rated = _pair_rating_lift(groups, member, p, s)
        out[:, col["group_share"]] = share
        out[:, col["group_lift"]] = lift
        if rated is not None:
            out[:, col["group_rating"]] = rated
        taste, kind = self.taste_, self.kind_taste_
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
        if "als" in col and self.als_ is not None:
            U = self.als_.person_factors(X).astype(np.float32)
            out[:, col["als"]] = _pair_dot(U, self.als_.item_factors_, p, s, one)
        fm = self.ratings_model_
        if fm is not None:
            out[:, col["rated_taste"]] = _pair_dot(
                fm.person_factors(X), fm.item_factors_, p, s, one
            )
        needs = self.need_evidence_
        if needs is not None:
            if one:
                fit, main = needs.scores(pv.needs, pv.main_need, s)
            else:
                fit, main = needs.pair_scores(pv.needs, pv.main_need, s)
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
    return pair_group_means(member, p_rows, s_rows, dev)


def _pair_group_scores(
    groups: GroupStats, member: sp.csr_matrix, p_rows: np.ndarray, s_rows: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """``GroupStats.scores`` for many (person, service) pairs at once."""
    share = pair_group_means(
        member, p_rows, s_rows, groups.share_dev_, groups.global_share_, groups.share_base_
    )
    return share, pair_group_means(member, p_rows, s_rows, groups.rate_dev_)
