"""What a training pass hands the hybrid's parts: the rated pairs (``RatedPairs``) and the
ratings one pass learns from (``TrainingPass``).

``Recommender.fit`` makes ``n_folds + 1`` passes over the same rated pairs (each fold's
complement, then everyone); every part fits on a ``TrainingPass`` (``Part.fit``). What
several parts read (the ratings' counts and group statistics, what content alone predicts of
each rating, the rating factorisation) is computed once per pass, when first asked for, so a
part only pays for what it uses and two parts never learn the same model twice.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import pandas as pd
import scipy.sparse as sp

from vcsmatch.ranking.collaborative import GroupStats, KindTaste
from vcsmatch.ranking.factorization import RatingFactorization
from vcsmatch.ranking.pairs import PairPeople, ServiceSide, make_pairs, pair_content
from vcsmatch.ranking.priors import ServicePriors, fit_priors
from vcsmatch.ratings import RELEVANT_AT


@dataclass(frozen=True)
class RatedPairs:
    """Training people (one row each, features as at their latest rating: ``frame`` and their
    side of pairs, ``people``) and every rating, as arrays over those rows and the catalogue's."""

    frame: pd.DataFrame
    people: PairPeople
    person_rows: np.ndarray  # per rating
    service_rows: np.ndarray  # per rating
    rating: np.ndarray  # per rating, 1 to 5
    services: ServiceSide

    @cached_property
    def relevant(self) -> np.ndarray:
        return self.rating >= RELEVANT_AT

    @property
    def n_services(self) -> int:
        return int(self.services.matrix.shape[0])

    @cached_property
    def content(self) -> np.ndarray:
        """The content parts (``content.PARTS`` columns) of every rated pair, as serving
        gives them (``pairs.pair_content``)."""
        rated = make_pairs(self.people, self.person_rows, self.service_rows, self.services)
        return pair_content(rated, self.services)


@dataclass(frozen=True)
class TrainingPass:
    """The ratings ``keep`` selects of ``rated`` (every one, or the other folds'), with what
    several parts learn from them, computed once. ``cap`` bounds the rows each capped model
    fits on (``sample_rows``); ``random_state`` seeds every learned model."""

    rated: RatedPairs
    keep: np.ndarray  # bool per rating
    cap: int | None
    random_state: int | None
    shrinkage: float  # pseudo-count of the group statistics
    _rating_models: dict[tuple[float, int], tuple[RatingFactorization, KindTaste]] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    @property
    def n_ratings(self) -> int:
        return int(self.keep.sum())

    @property
    def n_services(self) -> int:
        return self.rated.n_services

    @cached_property
    def person_rows(self) -> np.ndarray:
        return self.rated.person_rows[self.keep]

    @cached_property
    def service_rows(self) -> np.ndarray:
        return self.rated.service_rows[self.keep]

    @cached_property
    def rating(self) -> np.ndarray:
        return self.rated.rating[self.keep]

    @cached_property
    def relevant(self) -> np.ndarray:
        return self.rated.relevant[self.keep]

    @cached_property
    def features(self) -> sp.csr_matrix:
        """The training people's ``PersonFeatures`` rows (rows = people)."""
        return sp.csr_matrix(self.rated.people.features)

    @cached_property
    def active(self) -> np.ndarray:
        """Per training person: whether they have a kept rating."""
        out = np.zeros(len(self.rated.people), dtype=bool)
        out[self.person_rows] = True
        return out

    @cached_property
    def content(self) -> np.ndarray:
        """The content parts of each kept rating's pair."""
        return self.rated.content[self.keep]

    @cached_property
    def priors(self) -> ServicePriors:
        """Each service's kept ratings counted, its relevance rate shrunk (no residual)."""
        return fit_priors(self.service_rows, self.relevant, self.n_services)

    @cached_property
    def groups(self) -> GroupStats:
        """Per group and service, the kept ratings' statistics; people with no kept rating do
        not count toward group sizes (no ratings at all: no rating sums, as on day one)."""
        m = sp.diags(self.active.astype(float)) @ self.rated.people.member
        return GroupStats(self.shrinkage).fit(
            m.tocsr(),
            self.person_rows,
            self.service_rows,
            self.relevant,
            self.n_services,
            self.priors.rate,
            rating=self.rating if self.n_ratings else None,
        )

    def sample_rows(self, labels: np.ndarray, salt: int) -> np.ndarray:
        """``sample_rows`` of ``labels`` (per kept rating) at this pass's cap and seed."""
        return sample_rows(labels, salt, self.cap, self.random_state)

    @cached_property
    def rating_sample(self) -> np.ndarray:
        """The kept ratings the rating models fit on (the capped sample)."""
        return self.sample_rows(self.rating, 4)

    @cached_property
    def content_rating(self) -> np.ndarray:
        """What content alone predicts of each kept rating (a ridge regression on the content
        parts and whether any need is met, fitted on ``rating_sample``)."""
        from sklearn.linear_model import Ridge

        rating, content = self.rating, self.content
        if not len(rating):
            return np.zeros(0)
        sample = content[self.rating_sample]
        ridge = Ridge(alpha=1.0).fit(
            np.column_stack([sample, sample[:, 0] > 0]),
            rating[self.rating_sample].astype(np.float64),
        )
        # predicted in place of a second copy of every row's parts
        coef = ridge.coef_
        return content @ coef[:-1] + (content[:, 0] > 0) * coef[-1] + ridge.intercept_

    def rating_models(
        self, kind_alpha: float, rating_factors: int
    ) -> tuple[RatingFactorization, KindTaste]:
        """The explicit-rating factorisation and the kind tastes with these settings, fitted
        once per pass whichever parts ask.

        Kind tastes, then the factorisation, both start from what content predicts of each
        rating (``content_rating``), so they learn what content misses; the factorisation also
        starts from the kind tastes, so its per-service factors hold what is particular to each
        service. Both fit on ``rating_sample``."""
        key = (float(kind_alpha), int(rating_factors))
        if key not in self._rating_models:
            fit_on = self.rating_sample
            y = self.rating[fit_on].astype(np.float64)
            offset = self.content_rating[fit_on]
            Xp, sr = self.features[self.person_rows[fit_on]], self.service_rows[fit_on]
            matrix = self.rated.services.matrix
            kind = KindTaste(alpha=kind_alpha).fit(Xp, matrix, y - offset, sr)
            offset = offset + kind.pair_scores(Xp, matrix, sr)
            fm = RatingFactorization(n_factors=rating_factors, random_state=self.random_state)
            self._rating_models[key] = (fm.fit(Xp, sr, y, self.n_services, offset=offset), kind)
        return self._rating_models[key]


def sample_rows(
    labels: np.ndarray, salt: int, cap: int | None, random_state: int | None
) -> np.ndarray:
    """Indices (ascending) of at most ``cap`` of the rows, drawn at random within each label
    so the labels keep their shares (seeded by ``random_state + salt``); all rows when under
    the cap."""
    n = len(labels)
    if cap is None or n <= cap:
        return np.arange(n)
    rng = np.random.default_rng(None if random_state is None else random_state + salt)
    picked = []
    for value in np.unique(labels):
        idx = np.flatnonzero(labels == value)
        take = max(1, round(cap * len(idx) / n))
        picked.append(rng.choice(idx, size=min(take, len(idx)), replace=False))
    return np.sort(np.concatenate(picked))
