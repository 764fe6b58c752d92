"""What ratings reveal beyond content, for people the model has never seen.

Most people at the front door are new, so nothing here is keyed by a person's id. Two learned
signals, both scored from a person's features:

- ``GroupStats``: per-(group, service) rating counts, where a person's groups are their age
  band x sex, each need, each age band x need and each strength. It gives group popularity
  (share of the group who found the service relevant) and group relevance rates, both shrunk
  toward the service's overall figure, the counts that explanations quote, and each group's
  mean normalised gain (``gain_scores``): the order that maximises the expected NDCG of a
  person known only by their groups.
- ``FeatureALS``: ``implicit``'s ALS factorises person x service (confidence-weighted relevant
  ratings), then a ridge regression maps person features to person factors, so a new person
  gets factors from their features. Factorising an aggregated feature x service count matrix
  instead loses most of the signal, so we do not.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, Self, TypeAlias, cast

import numpy as np
import scipy.sparse as sp
from sklearn.linear_model import Ridge
from threadpoolctl import threadpool_limits

from vcsmatch.features.person import AGE_BAND_CODES, SEXES, age_band_label
from vcsmatch.ranking.persistence import get_csr, put_csr
from vcsmatch.ratings import RELEVANT_AT
from vcsmatch.taxonomy import Taxonomy

UNKNOWN_BAND = "unknown"

#: The length of the list a ranking is judged at (NDCG@10 throughout this repository): a
#: person's ideal DCG at it normalises their gains in ``GroupStats``' ``gain_scores``.
JUDGED_AT = 10

#: A matrix given either as CSR or dense (person features, service features).
Matrix: TypeAlias = sp.csr_matrix | np.ndarray


def group_vocabulary(taxonomy: Taxonomy) -> tuple[str, ...]:
    """Every group key, in a fixed order (the row order of ``GroupStats`` matrices)."""
    bands = (*AGE_BAND_CODES, UNKNOWN_BAND)
    keys = [f"band-sex:{b}|{s}" for b in bands for s in SEXES]
    keys += [f"need:{n}" for n in taxonomy.need_codes]
    keys += [f"band-need:{b}|{n}" for b in bands for n in taxonomy.need_codes]
    keys += [f"strength:{s}" for s in taxonomy.strength_codes]
    return tuple(keys)


def person_group_keys(
    band: str | None, sex: str, needs: Iterable[str], strengths: Iterable[str]
) -> list[str]:
    """The groups a person belongs to (their features, grouped as explanations name them)."""
    b = band or UNKNOWN_BAND
    keys = [f"band-sex:{b}|{sex}"]
    for n in needs:
        keys += [f"need:{n}", f"band-need:{b}|{n}"]
    keys += [f"strength:{s}" for s in strengths]
    return keys


def describe_group(key: str, taxonomy: Taxonomy) -> str:
    """A group key in words: ``band-need:65-79|dementia`` -> ``people aged 65 to 79 with
    Dementia and memory``."""
    kind, _, value = key.partition(":")
    if kind == "band-sex":
        band, sex = value.split("|")
        who = {"female": "women", "male": "men"}.get(sex, "people")
        return who if band == UNKNOWN_BAND else f"{who} {age_band_label(band)}"
    if kind == "need":
        return f"people with {taxonomy.label('need', value).lower()}"
    if kind == "band-need":
        band, need = value.split("|")
        label = taxonomy.label("need", need).lower()
        if band == UNKNOWN_BAND:
            return f"people with {label}"
        return f"people {age_band_label(band)} with {label}"
    if kind == "strength":
        return f"people who enjoy {taxonomy.label('strength', value).lower()}"
    return "similar people"


class GroupStats:
    """Rating counts per (group, service), and the shrunk group scores built from them.

    ``fit`` takes, per rating, the row of the rater's group-membership matrix and the service
    row. Popularity counts distinct people per group; rates count ratings.
    """

    def __init__(self, shrinkage: float = 10.0) -> None:
        self.shrinkage = shrinkage

    def fit(
        self,
        membership: sp.csr_matrix,
        person_rows: np.ndarray,
        service_rows: np.ndarray,
        relevant: np.ndarray,
        n_services: int,
        service_rate: np.ndarray,
        rating: np.ndarray | None = None,
    ) -> GroupStats:
        """Count ratings; ``membership`` is people x groups (0/1), ``service_rate`` the
        services' shrunk relevance rates that group rates shrink toward; with ``rating`` (1 to
        5 per rating), also each group's rating sums, for ``rating_lift``."""
        n_people, n_groups = membership.shape
        rel = np.asarray(relevant, dtype=np.float64)
        # people x services: 1 where the person rated the service relevant (at least once)
        rated = sp.csr_matrix(
            (np.ones(len(person_rows)), (person_rows, service_rows)), shape=(n_people, n_services)
        )
        liked = sp.csr_matrix((rel, (person_rows, service_rows)), shape=(n_people, n_services))
        rated.data[:] = 1.0
        liked.eliminate_zeros()
        liked.data[:] = 1.0
        mt = membership.T.tocsr().astype(np.float64)
        self.group_people_ = np.asarray(membership.sum(axis=0)).ravel().astype(np.float64)
        self.n_people_ = int(n_people)
        self.n_rated_ = (mt @ rated).tocsr()  # groups x services: raters in the group
        self.n_liked_ = (mt @ liked).tocsr()  # groups x services: relevant raters in the group
        self.service_liked_ = np.asarray(liked.sum(axis=0)).ravel()
        self.n_scored_ = self.rating_sum_ = self.n_gain_ = self.service_gain_ = None
        if rating is not None:
            r = np.asarray(rating, dtype=np.float64)
            at, shape = (person_rows, service_rows), (n_people, n_services)
            self.n_scored_ = (mt @ sp.csr_matrix((np.ones(len(r)), at), shape)).tocsr()
            self.rating_sum_ = (mt @ sp.csr_matrix((r, at), shape)).tocsr()
            gains = sp.csr_matrix((normalised_gains(person_rows, r, n_people), at), shape)
            self.n_gain_ = (mt @ gains).tocsr()
            self.service_gain_ = np.asarray(gains.sum(axis=0), dtype=np.float64).ravel()
        self._derive(np.asarray(service_rate, dtype=np.float64))
        return self

    def _derive(self, service_rate: np.ndarray) -> None:
        """Precompute the shrunk score matrices from the counts (also after a rebind)."""
        m = float(self.shrinkage)
        # sorted once here, so serving threads only ever read them (``values_in_rows``)
        self.n_rated_.sort_indices()
        self.n_liked_.sort_indices()
        self.service_rate_ = service_rate
        self.global_share_ = self.service_liked_ / max(self.n_people_, 1)
        # popularity: (liked_kj + m p_j) / (n_k + m) = liked_kj / (n_k + m) + p_j * m / (n_k + m)
        inv = 1.0 / (self.group_people_ + m)
        self.share_dev_ = sp.diags(inv) @ self.n_liked_
        self.share_base_ = m * inv
        # rates: (liked_kj + m q_j) / (rated_kj + m) - q_j, only where the group rated j
        coo = self.n_rated_.tocoo()
        liked = values_at(self.n_liked_, coo.row, coo.col)
        dev = (liked - coo.data * service_rate[coo.col]) / (coo.data + m)
        self.rate_dev_ = sp.csr_matrix((dev, (coo.row, coo.col)), shape=self.n_rated_.shape)
        self.rating_dev_ = None
        if self.n_scored_ is not None and self.rating_sum_ is not None:
            self.rating_dev_ = _rating_deviation(self.n_scored_, self.rating_sum_, m)
        # mean normalised gain, shrunk like popularity: (gain_kj + m g_j) / (n_k + m)
        self.gain_dev_ = self.global_gain_ = None
        if self.n_gain_ is not None and self.service_gain_ is not None:
            self.n_gain_.sort_indices()
            self.gain_dev_ = sp.diags(inv) @ self.n_gain_
            self.global_gain_ = self.service_gain_ / max(self.n_people_, 1)
        # the three deviations side by side, so one person's groups are summed in one pass
        # (``person_scores``); each column's entries keep their rows' order, so the sums are
        # the ones ``scores`` and ``rating_lift`` make
        devs = [self.share_dev_, self.rate_dev_]
        if self.rating_dev_ is not None:
            devs.append(self.rating_dev_)
        self.devs_ = sp.hstack(devs, format="csr")

    def to_arrays(self) -> dict[str, np.ndarray]:
        """The counts as arrays (for a saved model; the scores derive from them)."""
        arrays = {
            "group_people": self.group_people_,
            "service_liked": self.service_liked_,
            "service_rate": self.service_rate_,
        }
        put_csr(arrays, "n_rated", self.n_rated_)
        put_csr(arrays, "n_liked", self.n_liked_)
        if self.n_scored_ is not None and self.rating_sum_ is not None:
            put_csr(arrays, "n_scored", self.n_scored_)
            put_csr(arrays, "rating_sum", self.rating_sum_)
        if self.n_gain_ is not None and self.service_gain_ is not None:
            put_csr(arrays, "n_gain", self.n_gain_)
            arrays["service_gain"] = self.service_gain_
        return arrays

    @classmethod
    def from_arrays(
        cls, arrays: dict[str, np.ndarray], shrinkage: float, n_people: int
    ) -> GroupStats:
        """Statistics rebuilt from ``to_arrays`` output."""
        out = cls(shrinkage)
        out.group_people_ = arrays["group_people"]
        out.n_people_ = int(n_people)
        out.n_rated_ = get_csr(arrays, "n_rated")
        out.n_liked_ = get_csr(arrays, "n_liked")
        out.service_liked_ = arrays["service_liked"]
        # a model saved before rating sums were kept has none: its rating_lift is missing
        has = "n_scored.data" in arrays
        out.n_scored_ = get_csr(arrays, "n_scored") if has else None
        out.rating_sum_ = get_csr(arrays, "rating_sum") if has else None
        gained = "n_gain.data" in arrays
        out.n_gain_ = get_csr(arrays, "n_gain") if gained else None
        out.service_gain_ = arrays["service_gain"] if gained else None
        out._derive(arrays["service_rate"])
        return out

    def take(self, rows: np.ndarray, service_rate: np.ndarray) -> GroupStats:
        """The same statistics over another service order (``-1``: an unrated service), with
        ``service_rate`` the services' shrunk rates in that order."""
        rows = np.asarray(rows, dtype=np.int64)
        known = np.flatnonzero(rows >= 0)
        pick = sp.csr_matrix(
            (np.ones(len(known)), (rows[known], known)),
            shape=(self.n_rated_.shape[1], len(rows)),
        )
        out = GroupStats(self.shrinkage)
        out.group_people_ = self.group_people_
        out.n_people_ = self.n_people_
        out.n_rated_ = (self.n_rated_ @ pick).tocsr()
        out.n_liked_ = (self.n_liked_ @ pick).tocsr()
        out.service_liked_ = np.zeros(len(rows))
        out.service_liked_[known] = self.service_liked_[rows[known]]
        out.n_scored_ = out.rating_sum_ = out.n_gain_ = out.service_gain_ = None
        if self.n_scored_ is not None and self.rating_sum_ is not None:
            out.n_scored_ = (self.n_scored_ @ pick).tocsr()
            out.rating_sum_ = (self.rating_sum_ @ pick).tocsr()
        if self.n_gain_ is not None and self.service_gain_ is not None:
            out.n_gain_ = (self.n_gain_ @ pick).tocsr()
            gain = np.zeros(len(rows))
            gain[known] = self.service_gain_[rows[known]]
            out.service_gain_ = gain
        out._derive(np.asarray(service_rate, dtype=np.float64))
        return out

    def scores(self, groups: Sequence[int], cols: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Mean shrunk popularity over ``groups``, and the mean lift of the groups' shrunk
        relevance rates over the service's own rate, for the services in ``cols``."""
        if not groups:
            return self.global_share_[cols], np.zeros(len(cols))
        g = np.asarray(groups)
        k = len(g)
        n = len(self.service_rate_)
        share = row_sum(self.share_dev_, g, n)[cols] / k
        share += self.global_share_[cols] * (self.share_base_[g].sum() / k)
        lift = row_sum(self.rate_dev_, g, n)[cols] / k
        return share, lift

    def rating_lift(self, groups: Sequence[int], cols: np.ndarray) -> np.ndarray | None:
        """Mean over ``groups`` of each group's shrunk mean rating of the services in ``cols``
        minus the service's own (``None`` when no ratings were given to ``fit``): what people
        like the person thought of a service once how often it was shown is set aside."""
        if self.rating_dev_ is None:
            return None
        if not groups:
            return np.zeros(len(cols))
        g = np.asarray(groups)
        return row_sum(self.rating_dev_, g, len(self.service_rate_))[cols] / len(g)

    def gain_scores(self, groups: Sequence[int], cols: np.ndarray) -> np.ndarray | None:
        """Mean over ``groups`` of each group's mean normalised gain of the services in
        ``cols``, shrunk toward everyone's like popularity (``None`` when no ratings were
        given to ``fit``).

        A person's normalised gain of a service is the gain of their rating divided by the
        DCG of their own ideal list (``normalised_gains``). A list's expected NDCG for a new
        person drawn from a group is a sum over its places of the discount times the
        group's mean normalised gain of the service there, so, for a person known only by
        their groups, ordering by this score is the best fixed order the ratings support.
        """
        if self.gain_dev_ is None or self.global_gain_ is None:
            return None
        if not groups:
            return self.global_gain_[cols]
        g = np.asarray(groups)
        k = len(g)
        out = row_sum(self.gain_dev_, g, len(self.service_rate_))[cols] / k
        return out + self.global_gain_[cols] * (self.share_base_[g].sum() / k)

    def pair_gain_scores(
        self, member: sp.csr_matrix, person_rows: np.ndarray, service_rows: np.ndarray
    ) -> np.ndarray | None:
        """``gain_scores`` for many (person, service) pairs at once: ``member`` is people x
        groups (0/1), the pairs are rows of it and service columns."""
        if self.gain_dev_ is None or self.global_gain_ is None:
            return None
        return pair_group_means(
            member, person_rows, service_rows, self.gain_dev_, self.global_gain_, self.share_base_
        )

    def person_scores(
        self, groups: Sequence[int], cols: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        """``scores`` and ``rating_lift`` of one person's ``groups`` at once (the same values):
        the groups' rows of the three deviations are gathered and summed together."""
        if not groups:
            rated = None if self.rating_dev_ is None else np.zeros(len(cols))
            return self.global_share_[cols], np.zeros(len(cols)), rated
        g = np.asarray(groups)
        k = len(g)
        n = len(self.service_rate_)
        sums = row_sum(self.devs_, g, self.devs_.shape[1])
        share = sums[cols] / k
        share += self.global_share_[cols] * (self.share_base_[g].sum() / k)
        lift = sums[n + cols] / k
        rated = None if self.rating_dev_ is None else sums[2 * n + cols] / k
        return share, lift, rated

    def counts(self, group: int, col: int) -> tuple[int, int]:
        """(raters, relevant raters) of one service within one group, for explanations."""
        return int(self.n_rated_[group, col]), int(self.n_liked_[group, col])


def pair_group_means(
    member: sp.csr_matrix,
    person_rows: np.ndarray,
    service_rows: np.ndarray,
    dev: sp.csr_matrix,
    overall: np.ndarray | None = None,
    base: np.ndarray | None = None,
) -> np.ndarray:
    """Per (person, service) pair, the mean of ``dev[group, service]`` over the person's
    groups (``member``: people x groups, 0/1), plus, with ``overall`` (per service) and
    ``base`` (per group), the service's overall figure times the groups' mean ``base``; a
    person in no group gets ``overall`` (or 0). The pairs go in chunks, so memory stays flat."""
    k = np.asarray(member.sum(axis=1)).ravel()
    norm = sp.diags(1.0 / np.where(k > 0, k, 1.0)) @ member
    out = np.zeros(len(person_rows))
    for start in range(0, len(person_rows), 20000):
        sl = slice(start, start + 20000)
        pr, sr = person_rows[sl], service_rows[sl]
        a = norm[pr]
        out[sl] = np.asarray(a.multiply(dev[:, sr].T).sum(axis=1)).ravel()
        if overall is not None and base is not None:
            out[sl] += overall[sr] * (a @ base)
    if overall is not None:
        no_group = k[person_rows] == 0
        out[no_group] = overall[service_rows[no_group]]
    return out


def normalised_gains(
    person_rows: np.ndarray, rating: np.ndarray, n_people: int, k: int = JUDGED_AT
) -> np.ndarray:
    """Per rating, its graded gain (``evaluation.metrics.gain``: 4 is worth 1, 5 is worth 2)
    divided by the DCG at ``k`` of its rater's ideal list (their own gains, best first); 0
    for a rater with no gain at all. Each person then weighs in a group's score as they do
    in a mean of NDCG over people: a person with two liked services is not outvoted by one
    who rated two hundred."""
    person_rows = np.asarray(person_rows, dtype=np.int64)
    gains = np.maximum(0.0, np.asarray(rating, dtype=np.float64) - (RELEVANT_AT - 1))
    # each person's gains, best first: rank within person by descending gain
    order = np.lexsort((-gains, person_rows))
    sorted_people = person_rows[order]
    first = np.searchsorted(sorted_people, sorted_people, side="left")
    rank = np.arange(len(order)) - first
    discount = np.where(rank < k, 1.0 / np.log2(rank + 2.0), 0.0)
    ideal = np.bincount(sorted_people, weights=gains[order] * discount, minlength=n_people)
    per = ideal[person_rows]
    return np.where(per > 0, gains / np.where(per > 0, per, 1.0), 0.0)


def _rating_deviation(n: sp.csr_matrix, total: sp.csr_matrix, m: float) -> sp.csr_matrix:
    """Per (group, service) a group rated: ``(sum + m mu_j) / (n + m) - mu_j``, where ``mu_j``
    is the service's mean rating over every group, shrunk to the overall mean by ``m``."""
    n_all = np.asarray(n.sum(axis=0)).ravel()
    sum_all = np.asarray(total.sum(axis=0)).ravel()
    overall = float(sum_all.sum() / n_all.sum()) if n_all.sum() else 3.0
    mu = (sum_all + m * overall) / (n_all + m)
    coo = n.tocoo()
    sums = values_at(total, coo.row, coo.col)
    dev = (sums + m * mu[coo.col]) / (coo.data + m) - mu[coo.col]
    out = sp.csr_matrix((dev, (coo.row, coo.col)), shape=n.shape)
    out.sort_indices()
    return out


def values_at(m: sp.csr_matrix, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """``m[rows[i], cols[i]]`` as a float array. scipy returns a sparse matrix rather than
    values when the index arrays are empty (no rated pair at all, e.g. after a rebind to a
    catalogue sharing no service with training), so that case is answered here."""
    if len(rows) == 0:
        return np.zeros(0, dtype=np.float64)
    return np.asarray(m[rows, cols], dtype=np.float64).ravel()


def values_in_rows(
    m: sp.csr_matrix, rows: Sequence[int] | np.ndarray, cols: Sequence[int] | np.ndarray
) -> np.ndarray:
    """``m[rows][:, cols]`` as a dense ``len(rows) x len(cols)`` array, found by one binary
    search over the rows' column indices laid end to end: its cost follows the rows' entries
    and the few ``cols``, not the matrix's width (a national catalogue has 100,000 columns)."""
    if not m.has_sorted_indices:
        m.sort_indices()
    rows = np.asarray(rows, dtype=np.int64)
    cols = np.asarray(cols, dtype=np.int64)
    out = np.zeros((len(rows), len(cols)))
    starts = m.indptr[rows].astype(np.int64)
    lengths = m.indptr[rows + 1] - starts
    total = int(lengths.sum())
    if total == 0 or not len(cols):
        return out
    # entry positions of the rows in turn; keys row position * width + column are ascending
    at = np.repeat(starts - (np.cumsum(lengths) - lengths), lengths) + np.arange(total)
    width = np.int64(m.shape[1])
    keys = m.indices[at] + np.repeat(np.arange(len(rows), dtype=np.int64) * width, lengths)
    wanted = (np.arange(len(rows), dtype=np.int64)[:, None] * width + cols).ravel()
    pos, found = find_keys(keys, wanted)
    out.ravel()[found] = m.data[at[pos[found]]]
    return out


def find_keys(keys: np.ndarray, wanted: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Where each of ``wanted`` sits in the ascending, non-empty ``keys``, and whether it is
    there: the one binary search behind every lookup of a sparse matrix's entries keyed
    ``row * width + column``."""
    pos = np.minimum(np.searchsorted(keys, wanted), len(keys) - 1)
    return pos, keys[pos] == wanted


def row_sum(m: sp.csr_matrix, rows: Sequence[int] | np.ndarray, n_cols: int) -> np.ndarray:
    """Dense sum of a few rows of a CSR matrix, straight from its arrays (scipy's fancy
    indexing costs more than the sum when the rows are few)."""
    rows = np.asarray(rows, dtype=np.int64)
    starts = m.indptr[rows].astype(np.int64)
    lengths = m.indptr[rows + 1] - starts
    at = np.repeat(starts - (np.cumsum(lengths) - lengths), lengths) + np.arange(lengths.sum())
    return np.bincount(m.indices[at], weights=m.data[at], minlength=n_cols)


class FeatureALS:
    """ALS on person x service, with person factors predicted from person features.

    ``fit(X, C)``: ``X`` people x features (sparse), ``C`` people x services confidences.
    A new person's score for service j is ``(x @ W + b) . v_j``.
    """

    def __init__(
        self,
        n_factors: int = 32,
        regularization: float = 0.05,
        iterations: int = 15,
        map_alpha: float = 1.0,
        random_state: int | None = 0,
    ) -> None:
        self.n_factors = n_factors
        self.regularization = regularization
        self.iterations = iterations
        self.map_alpha = map_alpha
        self.random_state = random_state

    def fit(self, X: Matrix, C: sp.csr_matrix, *, show_progress: bool = False) -> FeatureALS:
        """Factorise ``C`` and learn the feature-to-factor map."""
        from implicit.cpu.als import AlternatingLeastSquares

        with threadpool_limits(1, "blas"):  # implicit warns when BLAS itself is threaded
            als = AlternatingLeastSquares(
                factors=self.n_factors,
                regularization=self.regularization,
                iterations=self.iterations,
                random_state=self.random_state,
                num_threads=1,
            )
            als.fit(sp.csr_matrix(C, dtype=np.float32), show_progress=show_progress)
        user = np.asarray(als.user_factors, dtype=np.float64)
        items = np.asarray(als.item_factors, dtype=np.float32)
        items[np.asarray(C.getnnz(axis=0)) == 0] = 0.0  # unrated services keep no random init
        # person features are few (tens to a few hundred): dense is exact and fastest
        ridge = Ridge(alpha=self.map_alpha).fit(sp.csr_matrix(X).toarray(), user)
        self.item_factors_ = items
        self.map_coef_ = np.asarray(ridge.coef_.T, dtype=np.float32)  # features x factors
        self.map_intercept_ = np.asarray(ridge.intercept_, dtype=np.float32)
        return self

    def to_arrays(self) -> dict[str, np.ndarray]:
        """The fitted state as arrays (for a saved model)."""
        return {
            "item_factors": self.item_factors_,
            "map_coef": self.map_coef_,
            "map_intercept": self.map_intercept_,
        }

    def set_arrays(self, arrays: dict[str, np.ndarray]) -> Self:
        """This model fitted with the state ``to_arrays`` gave."""
        self.item_factors_ = arrays["item_factors"]
        self.map_coef_ = arrays["map_coef"]
        self.map_intercept_ = arrays["map_intercept"]
        return self

    def person_factors(self, X: Matrix) -> np.ndarray:
        """People's factors predicted from their features."""
        return np.asarray(X @ self.map_coef_) + self.map_intercept_

    def scores(self, factors: np.ndarray, cols: np.ndarray) -> np.ndarray:
        """One person's scores for the services in ``cols``."""
        return self.item_factors_[cols] @ factors

    def take(self, rows: np.ndarray) -> FeatureALS:
        """The same model over another service order; ``-1`` is a service it never saw."""
        rows = np.asarray(rows, dtype=np.int64)
        out = FeatureALS(
            self.n_factors, self.regularization, self.iterations, self.map_alpha, self.random_state
        )
        items = np.zeros((len(rows), self.item_factors_.shape[1]), dtype=np.float32)
        items[rows >= 0] = self.item_factors_[rows[rows >= 0]]
        out.item_factors_ = items
        out.map_coef_ = self.map_coef_
        out.map_intercept_ = self.map_intercept_
        return out


class InteractionModel:
    """What different kinds of people value in different kinds of service.

    A logistic regression over (person feature x service feature) crosses, learned from rated
    pairs: e.g. "men aged 65 to 79" x "activity: DIY", "need: dementia" x "mode: phone" or
    "men aged 65 to 79" x "word: shed" (service features include the words of a service's name
    and description, ``vcsmatch.features.service_words``).
    Because it is keyed by the service's features rather than its id, it carries group tastes
    to services with few ratings and to new ones. For one person it folds to a vector over
    service features, so scoring every candidate is one matrix-vector product.
    """

    def __init__(self, C: float = 0.1, random_state: int | None = 0) -> None:
        self.C = C
        self.random_state = random_state

    @staticmethod
    def cross(Xp: Matrix, S: Matrix) -> sp.csr_matrix:
        """Row-wise outer product: column ``j * n_person + i`` is ``Xp[:, i] * S[:, j]``.

        Built in one CSR construction from the nonzeros of each row (a row with ``a`` person
        and ``b`` service nonzeros gives ``a * b`` entries, already in row order), not as a
        stack of per-column blocks, whose copies set the training peak memory.
        """
        A = sp.csr_matrix(Xp)
        B = sp.csr_matrix(S)
        n, n_p = A.shape
        na, nb = np.diff(A.indptr), np.diff(B.indptr)
        k = na * nb
        total = int(k.sum())
        offs = np.arange(total, dtype=np.int64) - np.repeat(np.cumsum(k) - k, k)
        nbr = np.repeat(nb, k)
        ia = np.repeat(A.indptr[:-1].astype(np.int64), k) + offs // np.maximum(nbr, 1)
        jb = np.repeat(B.indptr[:-1].astype(np.int64), k) + offs % np.maximum(nbr, 1)
        cols = B.indices[jb].astype(np.int64) * n_p + A.indices[ia]
        vals = A.data[ia] * B.data[jb]
        indptr = np.concatenate([[0], np.cumsum(k)])
        out = sp.csr_matrix((vals, cols, indptr), shape=(n, B.shape[1] * n_p))
        out.sort_indices()
        return out

    def fit(self, Xp: Matrix, S: Matrix, y: np.ndarray) -> InteractionModel:
        """``Xp``: person features per pair; ``S``: service features per pair (with a constant
        column), dense or sparse; ``y``: relevant or not."""
        from sklearn.linear_model import LogisticRegression

        S = sp.csr_matrix(S, dtype=np.float64)
        n_p = Xp.shape[1]
        y = np.asarray(y, dtype=np.int64)
        self.weights_ = np.zeros((S.shape[1], n_p), dtype=np.float32)
        if len(np.unique(y)) < 2:
            return self
        Z = self.cross(Xp, S)
        model = LogisticRegression(C=self.C, max_iter=300, tol=1e-3, random_state=self.random_state)
        model.fit(Z, y)
        self.weights_ = model.coef_.reshape(S.shape[1], n_p).astype(np.float32)
        return self

    def to_arrays(self) -> dict[str, np.ndarray]:
        """The fitted state as arrays (for a saved model)."""
        return {"weights": self.weights_}

    def set_arrays(self, arrays: dict[str, np.ndarray]) -> Self:
        """This model fitted with the state ``to_arrays`` gave."""
        self.weights_ = arrays["weights"]
        return self

    def person_vector(self, x: Matrix) -> np.ndarray:
        """One person folded into a vector over service features."""
        dense = (x.toarray() if sp.issparse(x) else np.asarray(x)).ravel()
        weights = self._weights64() if dense.dtype == np.float64 else self.weights_
        return np.asarray(weights @ dense, dtype=np.float32)

    def _weights64(self) -> np.ndarray:
        """``weights_`` cast to float64, as a product with a float64 person row casts it (the
        same product), once per fitted state instead of once per request."""
        cached = getattr(self, "_weights64_of", None)
        if cached is None or cached[0] is not self.weights_:
            cached = (self.weights_, np.asarray(self.weights_, dtype=np.float64))
            self._weights64_of = cached
        return cached[1]

    def pair_scores(self, Xp: Matrix, services: Matrix, service_rows: np.ndarray) -> np.ndarray:
        """Scores of many (person, service) pairs: ``Xp`` one row of person features per pair,
        ``services`` one row of service features per service, ``service_rows`` each pair's
        service (through per-service sums, ``_CrossOperator``: no pairs x features matrix)."""
        op = _CrossOperator(
            sp.csr_matrix(Xp, dtype=np.float64),
            sp.csr_matrix(services, dtype=np.float64),
            np.asarray(service_rows, dtype=np.int64),
        )
        return op.matvec(self.weights_.astype(np.float64).ravel())


class KindTaste(InteractionModel):
    """What kinds of people rate what kinds of service higher than the service's own average.

    A ridge regression of rating residuals (what content did not predict, minus each service's
    own mean residual) on (person feature x service feature) crosses. Learned *within*
    services, it cannot confuse a group's taste for a kind of service ("men aged 65 to 79" x
    "word: shed") with the quality of the services that group happened to be shown, nor with
    content the content score already counts. Keyed by service features, it reaches services
    nobody rated.
    """

    def __init__(
        self, alpha: float = 300.0, service_shrinkage: float = 5.0, iterations: int = 3
    ) -> None:
        super().__init__()
        self.alpha = alpha
        self.service_shrinkage = service_shrinkage
        self.iterations = iterations

    def fit(  # type: ignore[override]
        self,
        Xp: Matrix,
        services: Matrix,
        residual: np.ndarray,
        service_rows: np.ndarray,
    ) -> KindTaste:
        """``Xp``: person features per rating; ``services``: service features, one row per
        service; ``residual``: each rating minus what content predicts of it;
        ``service_rows``: each rating's row of ``services``.

        The crosses are never built: a service's features are the same for all its ratings,
        so the regression's products go through per-service sums (``_CrossOperator``), and a
        step costs the person features' nonzeros, not theirs times the service's words.
        """
        from scipy.sparse.linalg import lsqr

        F = sp.csr_matrix(services, dtype=np.float64)
        X = sp.csr_matrix(Xp, dtype=np.float64)
        r = np.asarray(residual, dtype=np.float64)
        s = np.asarray(service_rows, dtype=np.int64)
        self.weights_ = np.zeros((F.shape[1], X.shape[1]), dtype=np.float32)
        if len(r) == 0:
            return self
        count = np.bincount(s, minlength=F.shape[0]) + float(self.service_shrinkage)
        Z = _CrossOperator(X, F, s)
        w = np.zeros(Z.shape[1])
        fitted = np.zeros(len(r))
        # backfitting: each service's own level given the tastes, the tastes given the levels
        # (demeaning the ratings alone would leave the tastes attenuated toward zero)
        for _ in range(self.iterations):
            own = np.bincount(s, weights=r - fitted, minlength=F.shape[0]) / count
            target = r - own[s]
            # a duck-typed operator (shape, dtype, matvec, rmatvec), which lsqr accepts
            op = cast(Any, Z)
            w = lsqr(op, target, damp=float(np.sqrt(self.alpha)), atol=1e-4, btol=1e-4, x0=w)[0]
            fitted = Z.matvec(w)
        self.weights_ = w.reshape(F.shape[1], X.shape[1]).astype(np.float32)
        return self


class _CrossOperator:
    """The (rating x (service feature, person feature)) cross matrix as a linear operator:
    ``Z @ w`` and ``Z.T @ r`` from per-service sums, for ``scipy.sparse.linalg.lsqr``."""

    def __init__(self, X: sp.csr_matrix, F: sp.csr_matrix, service_rows: np.ndarray) -> None:
        self.F, self.FT = F, F.T.tocsr()
        n, self.d = X.shape
        per_row = np.diff(X.indptr)
        self.row = np.repeat(np.arange(n), per_row)  # each person-feature nonzero's rating
        self.val = X.data
        # each nonzero's (service, person feature) cell of a services x person-features table
        self.key = np.repeat(service_rows, per_row) * self.d + X.indices.astype(np.int64)
        self.n_services = F.shape[0]
        self.shape = (n, F.shape[1] * self.d)
        self.dtype = np.dtype(np.float64)

    def matvec(self, w: np.ndarray) -> np.ndarray:
        per_service = np.asarray(self.F @ np.asarray(w).reshape(-1, self.d)).ravel()
        return np.bincount(
            self.row, weights=self.val * per_service[self.key], minlength=self.shape[0]
        )

    def rmatvec(self, r: np.ndarray) -> np.ndarray:
        per_service = np.bincount(
            self.key, weights=self.val * np.asarray(r)[self.row], minlength=self.n_services * self.d
        ).reshape(self.n_services, self.d)
        return np.asarray(self.FT @ per_service).ravel()
