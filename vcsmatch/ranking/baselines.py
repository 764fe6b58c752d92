"""The rankers the hybrid must beat, with the same interface and the same hard rules.

- ``NearestServices``: the case study's first tool: the nearest eligible services (services
  that need no travel come after every located one, in catalogue order).
- ``ContentOnly``: the content score alone (``vcsmatch.ranking.content``), no ratings used.
- ``GlobalPopularity``: services most often rated relevant, whoever the person is.
- ``GroupPopularity``: per-group popularity shrunk toward global popularity, over the
  person's groups (age band x sex, each need, age band x need, each strength).
- ``GroupMeanRating``: each service's mean rating among people of the person's group (sex,
  or sex x age band), shrunk to the overall mean rating: what self-selected ratings say of
  quality once being rated (popularity) is set aside.

All draw candidates from ``CandidateFinder`` (eligible services that reach the person) and
return ``Suggestion``s with reasons.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Self

import numpy as np
import pandas as pd

from vcsmatch.catalogue.model import Catalogue
from vcsmatch.features.location import locate
from vcsmatch.features.person import Person
from vcsmatch.features.service import ServiceFeatures
from vcsmatch.ranking import content as content_mod
from vcsmatch.ranking.base import Ranker
from vcsmatch.ranking.candidates import CandidateFinder, Candidates, scores_by_id
from vcsmatch.ranking.collaborative import (
    GroupStats,
    describe_group,
    group_vocabulary,
    person_group_keys,
    values_in_rows,
)
from vcsmatch.ranking.content import ContentScorer
from vcsmatch.ranking.explain import format_distance
from vcsmatch.ranking.persistence import prefixed, unprefixed
from vcsmatch.ranking.priors import ServicePriors, fit_priors
from vcsmatch.ranking.result import Reason, Suggestion
from vcsmatch.ranking.validation import (
    check_catalogue,
    check_fitted,
    check_person,
    check_ratings,
    fingerprint,
)
from vcsmatch.ratings import RELEVANT_AT
from vcsmatch.taxonomy import load_taxonomy


class _Baseline(Ranker):
    """Shared plumbing: fit binds the catalogue, recommend finds candidates and ranks them."""

    #: Whether ``fit`` needs ratings (the content-only and nearest rankers learn nothing).
    needs_ratings = True

    def __init__(self, default_radius_km: float = 10.0) -> None:
        self.default_radius_km = default_radius_km

    def _validate_params(self) -> None:
        for name, value in self.get_params(deep=False).items():
            if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
                raise ValueError(
                    f"The '{name}' parameter of {type(self).__name__} must be a positive "
                    f"number. Got {value!r} instead."
                )

    def fit(self, catalogue: Catalogue, ratings: pd.DataFrame | None = None) -> Self:
        """Bind ``catalogue`` and learn from ``ratings`` where the ranker uses them."""
        self._validate_params()
        check_catalogue(catalogue, "fit")
        if ratings is None and self.needs_ratings:
            raise ValueError(
                f"The 'ratings' parameter of {type(self).__name__}.fit must be a training "
                "frame. Got None instead."
            )
        if ratings is not None:
            check_ratings(ratings, catalogue)
        self._bind(catalogue)
        if ratings is not None and self.needs_ratings:
            self._learn(catalogue, ratings)
        self.n_ratings_ = 0 if ratings is None else int(len(ratings))
        self.fingerprint_ = "" if ratings is None else fingerprint(ratings)
        return self

    def _bind(self, catalogue: Catalogue) -> None:
        """The catalogue side: candidates, content and the taxonomy."""
        self.catalogue_ = catalogue
        sf = ServiceFeatures().fit(catalogue)
        self.service_ids_ = np.asarray(catalogue.ids(), dtype=object)
        self.candidates_ = CandidateFinder().fit(catalogue, sf.modes_)
        self.content_ = ContentScorer().fit(
            sf.need_matrix_, sf.activity_matrix_, sf.modes_, sf.need_codes_, sf.activity_codes_
        )
        self.taxonomy_ = load_taxonomy()

    def _learn(self, catalogue: Catalogue, ratings: pd.DataFrame) -> None:
        """Learn from the ratings (nothing by default)."""

    def _state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        fields: dict[str, Any] = {"n_ratings": self.n_ratings_, "fingerprint": self.fingerprint_}
        return fields, {}

    def _rank(self, person: Person, top_k: int) -> list[Suggestion]:
        return self._recommend(person, top_k, explain=False)

    def _restore(
        self, header: dict[str, Any], arrays: dict[str, np.ndarray], catalogue: Catalogue
    ) -> None:
        self._bind(catalogue)
        self.n_ratings_ = int(header["n_ratings"])
        self.fingerprint_ = str(header["fingerprint"])

    def score_services(self, person: Person, service_ids: Sequence[str]) -> np.ndarray:
        """This ranker's score for ``person`` of each of ``service_ids``, NaN where a service is
        not one of their candidates: the cheap figure an evaluation orders by (no reasons)."""
        check_fitted(self)
        check_person(person, "score_services")
        radius = float(person.max_distance_km or self.default_radius_km)
        cands = self.candidates_.find(person, locate(person), radius)
        if len(cands.rows) == 0:
            return np.full(len(service_ids), np.nan)
        scores = self._scores(person, cands, radius)
        return scores_by_id(service_ids, self.catalogue_.index(), cands.rows, scores)

    def _recommend(self, person: Person, top_k: int, explain: bool = True) -> list[Suggestion]:
        location = locate(person)
        radius = float(person.max_distance_km or self.default_radius_km)
        cands = self.candidates_.find(person, location, radius)
        if len(cands.rows) == 0:
            return []
        scores = self._scores(person, cands, radius)
        k = min(top_k, len(scores))
        top = np.argpartition(-scores, k - 1)[:k] if k < len(scores) else np.arange(len(scores))
        top = top[np.lexsort((cands.rows[top], -scores[top]))]
        out = []
        for rank, i in enumerate(top, start=1):
            row = int(cands.rows[i])
            d = cands.distance_km[i]
            out.append(
                Suggestion(
                    service_id=str(self.service_ids_[row]),
                    score=float(scores[i]),
                    rank=rank,
                    distance_km=None if np.isnan(d) else float(d),
                    reasons=tuple(self._reasons(person, row, d, radius)) if explain else (),
                    eligibility=tuple(cands.eligibility.facts(row)),
                )
            )
        return out

    def _scores(self, person: Person, cands: Candidates, radius: float) -> np.ndarray:
        raise NotImplementedError

    def _reasons(self, person: Person, row: int, distance_km: float, radius: float) -> list[Reason]:
        raise NotImplementedError

    def _distance_reason(self, distance_km: float) -> Reason:
        if np.isnan(distance_km):
            return Reason("distance", "no travel needed", 0.0)
        return Reason("distance", format_distance(float(distance_km)), 0.0)


class NearestServices(_Baseline):
    """Nearest eligible services first (the case study's first tool)."""

    needs_ratings = False

    def _scores(self, person: Person, cands: Candidates, radius: float) -> np.ndarray:
        # 1 / (1 + km): nearer is higher; services needing no travel rank after located ones
        d = cands.distance_km
        return np.where(np.isnan(d), 0.0, 1.0 / (1.0 + np.nan_to_num(d)))

    def _reasons(self, person: Person, row: int, distance_km: float, radius: float) -> list[Reason]:
        return [self._distance_reason(distance_km)]


class ContentOnly(_Baseline):
    """The content score alone: needs, strengths, distance and delivery mode."""

    needs_ratings = False

    def _scores(self, person: Person, cands: Candidates, radius: float) -> np.ndarray:
        pv = self.content_.person_vector(person, radius)
        return content_mod.combine(self.content_.parts(pv, cands.rows, cands.distance_km))

    def _reasons(self, person: Person, row: int, distance_km: float, radius: float) -> list[Reason]:
        pv = self.content_.person_vector(person, radius)
        out = [
            Reason("need", f"meets need: {self.taxonomy_.label('need', c).lower()}", w)
            for c, w in self.content_.needs_met(pv, row)
        ]
        out += [
            Reason(
                "activity", f"matches interest: {self.taxonomy_.label('strength', c).lower()}", w
            )
            for c, w in self.content_.strengths_matched(pv, row)
        ]
        out.append(self._distance_reason(distance_km))
        return out


class GlobalPopularity(_Baseline):
    """Services most often rated relevant (count of relevant ratings), for everyone."""

    def _learn(self, catalogue: Catalogue, ratings: pd.DataFrame) -> None:
        index = catalogue.index()
        rows = ratings["service_id"].map(index).to_numpy(dtype=np.int64)
        relevant = ratings["rating"].to_numpy() >= RELEVANT_AT
        self.priors_ = fit_priors(rows, relevant, len(catalogue))

    def _state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        fields, arrays = super()._state()
        priors, scalars = self.priors_.to_arrays()
        fields["priors"] = scalars
        return fields, {**arrays, **prefixed("priors", priors)}

    def _restore(
        self, header: dict[str, Any], arrays: dict[str, np.ndarray], catalogue: Catalogue
    ) -> None:
        super()._restore(header, arrays, catalogue)
        self.priors_ = ServicePriors.from_arrays(unprefixed("priors", arrays), header["priors"])

    def _scores(self, person: Person, cands: Candidates, radius: float) -> np.ndarray:
        return self.priors_.n_relevant[cands.rows].astype(np.float64)

    def _reasons(self, person: Person, row: int, distance_km: float, radius: float) -> list[Reason]:
        n = int(self.priors_.n_relevant[row])
        return [Reason("prior", f"rated relevant by practitioners {n} times", float(n))]


class GroupPopularity(_Baseline):
    """Per-group popularity with shrinkage toward global popularity."""

    def __init__(self, default_radius_km: float = 10.0, shrinkage: float = 10.0) -> None:
        super().__init__(default_radius_km)
        self.shrinkage = shrinkage

    def _state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        fields, arrays = super()._state()
        fields["groups"] = {"n_people": self.groups_.n_people_, "keys": list(self.group_keys_)}
        return fields, {**arrays, **prefixed("groups", self.groups_.to_arrays())}

    def _restore(
        self, header: dict[str, Any], arrays: dict[str, np.ndarray], catalogue: Catalogue
    ) -> None:
        super()._restore(header, arrays, catalogue)
        saved = header["groups"]
        self.group_keys_ = tuple(str(k) for k in saved["keys"])
        self.groups_ = GroupStats.from_arrays(
            unprefixed("groups", arrays), self.shrinkage, int(saved["n_people"])
        )

    def _learn(self, catalogue: Catalogue, ratings: pd.DataFrame) -> None:
        import scipy.sparse as sp

        from vcsmatch.features.person import age_band

        self.group_keys_ = group_vocabulary(self.taxonomy_)
        col = {k: j for j, k in enumerate(self.group_keys_)}
        pids = pd.Index(ratings["person_id"].unique())
        people = ratings.drop_duplicates("person_id", keep="last").set_index("person_id")
        people = people.loc[pids]
        rows: list[int] = []
        cols: list[int] = []
        for i, rec in enumerate(people.itertuples()):
            band = None if pd.isna(rec.age) else age_band(int(rec.age))
            keys = person_group_keys(band, rec.sex, rec.needs or (), rec.strengths or ())
            for key in keys:
                rows.append(i)
                cols.append(col[key])
        member = sp.csr_matrix(
            (np.ones(len(rows)), (rows, cols)), shape=(len(pids), len(self.group_keys_))
        )
        p_rows = pids.get_indexer(ratings["person_id"])
        s_rows = ratings["service_id"].map(catalogue.index()).to_numpy(dtype=np.int64)
        relevant = ratings["rating"].to_numpy() >= RELEVANT_AT
        priors = fit_priors(s_rows, relevant, len(catalogue))
        self.groups_ = GroupStats(self.shrinkage).fit(
            member, p_rows, s_rows, relevant, len(catalogue), priors.rate
        )

    def _groups(self, person: Person) -> list[int]:
        col = {k: j for j, k in enumerate(self.group_keys_)}
        keys = person_group_keys(person.band, person.sex, person.needs, person.strengths)
        return [col[k] for k in keys if k in col]

    def _scores(self, person: Person, cands: Candidates, radius: float) -> np.ndarray:
        share, _ = self.groups_.scores(self._groups(person), cands.rows)
        return share

    def _reasons(self, person: Person, row: int, distance_km: float, radius: float) -> list[Reason]:
        groups = self._groups(person)
        # one sparse look-up per count matrix, not two per group
        liked_by = (
            values_in_rows(self.groups_.n_liked_, groups, [row])[:, 0] if groups else np.zeros(0)
        )
        if not len(liked_by) or liked_by.max() == 0:
            n = int(self.groups_.service_liked_[row])
            return [Reason("prior", f"rated relevant for {n} people", float(n))]
        best = groups[int(np.argmax(liked_by))]  # the first of the most liked, as max() picks
        rated, liked = self.groups_.counts(best, row)
        who = describe_group(self.group_keys_[best], self.taxonomy_)
        return [
            Reason(
                "collaborative",
                f"rated relevant by practitioners for {who} ({liked} of {rated} ratings)",
                float(liked),
            )
        ]


class GroupMeanRating(_Baseline):
    """Per-group mean rating of each service, shrunk to the overall mean rating.

    ``group`` is ``"sex"`` or ``"age_band_sex"``; ``shrinkage`` the pseudo-count of ratings
    at the overall mean added to every (group, service) cell. Ranking by a mean rating, not a
    count, is blind to how often the old tool showed a service, which popularity is not.
    """

    GROUPS = ("sex", "age_band_sex")

    def __init__(
        self, default_radius_km: float = 10.0, group: str = "sex", shrinkage: float = 5.0
    ) -> None:
        super().__init__(default_radius_km)
        self.group = group
        self.shrinkage = shrinkage

    def get_params(self, deep: bool = True) -> dict[str, object]:
        return {**super().get_params(deep), "group": self.group, "shrinkage": self.shrinkage}

    def _key(self, age: float | None, sex: str | None) -> str:
        from vcsmatch.features.person import age_band

        sex = sex or "not_recorded"
        if self.group == "sex":
            return sex
        band = None if age is None or pd.isna(age) else age_band(int(age))
        return f"{band or 'unknown'}|{sex}"

    def _validate_params(self) -> None:
        _Baseline(self.default_radius_km)._validate_params()
        if self.group not in self.GROUPS:
            raise ValueError(
                f"The 'group' parameter of GroupMeanRating must be one of {self.GROUPS!r}. "
                f"Got {self.group!r} instead."
            )
        if isinstance(self.shrinkage, bool) or not self.shrinkage >= 0:
            raise ValueError(
                "The 'shrinkage' parameter of GroupMeanRating must be a non-negative number. "
                f"Got {self.shrinkage!r} instead."
            )

    def _learn(self, catalogue: Catalogue, ratings: pd.DataFrame | None) -> None:
        frame = ratings if ratings is not None else pd.DataFrame()
        keys = [self._key(a, x) for a, x in zip(frame["age"], frame["sex"], strict=True)]
        self.group_keys_ = tuple(sorted(set(keys)))
        col = {k: j for j, k in enumerate(self.group_keys_)}
        g = np.array([col[k] for k in keys], dtype=np.int64)
        s = frame["service_id"].map(catalogue.index()).to_numpy(dtype=np.int64)
        r = frame["rating"].to_numpy(dtype=np.float64)
        shape = (len(self.group_keys_), len(catalogue))
        self.n_ = np.zeros(shape)
        total = np.zeros(shape)
        np.add.at(self.n_, (g, s), 1.0)
        np.add.at(total, (g, s), r)
        self.overall_mean_ = float(r.mean()) if len(r) else 3.0
        k = float(self.shrinkage)
        self.mean_ = (total + k * self.overall_mean_) / np.maximum(self.n_ + k, 1e-12)
        self.mean_[self.n_ + k == 0] = self.overall_mean_

    def _state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        fields, arrays = super()._state()
        fields["group_keys"] = list(self.group_keys_)
        fields["overall_mean"] = self.overall_mean_
        return fields, {**arrays, "n": self.n_, "mean": self.mean_}

    def _restore(
        self, header: dict[str, Any], arrays: dict[str, np.ndarray], catalogue: Catalogue
    ) -> None:
        super()._restore(header, arrays, catalogue)
        self.group_keys_ = tuple(str(k) for k in header["group_keys"])
        self.overall_mean_ = float(header["overall_mean"])
        self.n_ = np.asarray(arrays["n"], dtype=np.float64)
        self.mean_ = np.asarray(arrays["mean"], dtype=np.float64)

    def _row(self, person: Person) -> int | None:
        key = self._key(person.age, person.sex)
        return {k: j for j, k in enumerate(self.group_keys_)}.get(key)

    def _scores(self, person: Person, cands: Candidates, radius: float) -> np.ndarray:
        g = self._row(person)
        if g is None:
            return np.full(len(cands.rows), self.overall_mean_)
        return self.mean_[g, cands.rows]

    def _reasons(self, person: Person, row: int, distance_km: float, radius: float) -> list[Reason]:
        g = self._row(person)
        n = 0 if g is None else int(self.n_[g, row])
        if n == 0:
            return [Reason("prior", "no ratings yet from similar people", 0.0)]
        mean = float(self.mean_[g, row])
        return [
            Reason(
                "collaborative",
                f"rated {mean:.1f} on average by practitioners for similar people ({n} ratings)",
                mean,
            )
        ]


BASELINES: dict[str, type[_Baseline]] = {
    "nearest": NearestServices,
    "content": ContentOnly,
    "global_popularity": GlobalPopularity,
    "group_popularity": GroupPopularity,
    "group_mean_rating": GroupMeanRating,
}
