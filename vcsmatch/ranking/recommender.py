"""The hybrid ranker: candidates, content, collaborative, priors, a learned blend, diversity.

``fit(catalogue, ratings)`` learns everything that ratings can teach, keyed by service id and
never by person id (most people at the front door are new), then binds it to the catalogue;
``rebind(new_catalogue)`` keeps the learned parts over a new catalogue version, where new
services rank on their content. ``recommend`` scores every candidate of one person with array
operations: one gather per part, one matrix-vector product for the blend, ``argpartition``
for the top, and Python loops only over the top few for diversity and reasons.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from vcsmatch.catalogue.model import Catalogue
from vcsmatch.errors import ModelLoadError
from vcsmatch.features.location import locate
from vcsmatch.features.person import Person
from vcsmatch.features.person_features import PersonFeatures
from vcsmatch.features.service import ServiceFeatures
from vcsmatch.features.service_words import ServiceWords
from vcsmatch.ranking import content as content_mod
from vcsmatch.ranking.base import Ranker
from vcsmatch.ranking.blend import Blend
from vcsmatch.ranking.candidates import CandidateFinder, scores_by_id
from vcsmatch.ranking.collaborative import GroupStats, group_vocabulary, person_group_keys
from vcsmatch.ranking.collaborative_part import CollaborativePart
from vcsmatch.ranking.content import ContentScorer, PersonVector
from vcsmatch.ranking.content_part import ContentPart
from vcsmatch.ranking.diversity import HEAD, rerank
from vcsmatch.ranking.explain import Explainer, Shown
from vcsmatch.ranking.exploration import EXPLORATION_REASON, Exploration, exploration_pool
from vcsmatch.ranking.pairs import Evidence, PairPeople, ServicePoints, ServiceSide, make_pairs
from vcsmatch.ranking.part_base import part_class, part_key
from vcsmatch.ranking.parts import Part, PartList, default_parts, pair_features, reason_kinds
from vcsmatch.ranking.persistence import prefixed, unprefixed
from vcsmatch.ranking.priors import ServicePriors
from vcsmatch.ranking.priors_part import PriorsPart
from vcsmatch.ranking.propensity import inverse_propensity_weights, rated_propensity
from vcsmatch.ranking.result import Suggestion
from vcsmatch.ranking.training import RatedPairs, TrainingPass
from vcsmatch.ranking.validation import (
    check_catalogue,
    check_fitted,
    check_person,
    check_ratings,
    check_top_k,
    fingerprint,
)
from vcsmatch.ratings import RELEVANT_AT
from vcsmatch.taxonomy import load_taxonomy

#: What the learned parts know of a person (``PersonFeatures`` groups).
PERSON_GROUPS: tuple[str, ...] = ("age_band", "sex", "age_band_sex", "needs", "strengths")

#: Settings of a model saved before parts were parameters (format 3, flat), now the
#: collaborative part's (``Recommender._from_header_params``).
_FLAT_COLLABORATIVE = (
    "n_factors",
    "regularization",
    "iterations",
    "taste_C",
    "kind_alpha",
    "rating_factors",
    "need_shrinkage",
)

#: With ``negatives_per_rating=None``, the largest share of relevant rows in the blend's training
#: rows before sampled unrated services are added as negatives.
NEGATIVES_TARGET_SHARE = 0.15

#: The features of the blend that ranks a person known only by their groups
#: (``Recommender.cold_blend_``): their groups' mean normalised gain (``GroupStats.gain_scores``).
COLD_FEATURES: tuple[str, ...] = ("group_gain",)

#: The values of ``Recommender(cold_start=...)``.
COLD_START: tuple[str, ...] = ("blend", "group_gain")

#: Weights used when the ratings hold one class only (nothing for the blend to learn from).
FALLBACK_WEIGHTS: dict[str, float] = {
    **{k: 4 * v for k, v in content_mod.DEFAULT_WEIGHTS.items()},
    "group_lift": 2.0,
    "prior_lift": 1.0,
}


@contextmanager
def _progress(show: bool, total: int, what: str) -> Iterator[Any]:
    """A rich progress bar (or a silent stand-in) over the ``total`` steps of ``what``."""
    if not show:

        class _Silent:
            def step(self, description: str) -> None:
                pass

        yield _Silent()
        return
    from rich.progress import Progress

    with Progress(transient=False) as bar:
        task = bar.add_task(what, total=total)

        class _Bar:
            def step(self, description: str) -> None:
                bar.update(task, advance=1, description=f"{what}: {description}")

        yield _Bar()


class Recommender(Ranker):
    """The hybrid ranker (see the module docstring and docs/ARCHITECTURE.md).

    Parameters: ``parts`` are the hybrid's parts as ``(name, part)`` pairs (``None``:
    ``parts.default_parts()``), each holding its own settings, reached as
    ``parts__<name>__<setting>`` through ``get_params``/``set_params``; a part set to
    ``"drop"`` is off (e.g. ``set_params(parts__priors="drop")``), and
    ``set_params(parts__collaborative=CollaborativePart(als=False))`` swaps one;
    ``use_diversity`` switches the diversity re-rank off;
    ``default_radius_km`` is how far a person travels when they did not say;
    ``max_nearby`` caps the services reached by travel that one person's ranking scores at the
    nearest so many within their radius (``None``: all; a dense city has tens of thousands);
    ``shrinkage`` is the pseudo-count of group scores;
    ``diversity_weight`` the weight of need coverage; ``n_folds`` the out-of-fold splits that
    train the blend;
    ``negatives_per_rating`` how many unrated-but-exposable services per rating the blend sees
    (``None``: as many as bring relevant rows down to ``NEGATIVES_TARGET_SHARE`` of the blend's
    rows, so none where the log already holds mostly non-relevant ratings);
    ``max_training_rows`` caps the rows each learned model fits on (the taste model, the
    content model behind the priors' residuals, the blend), so training cost stops growing with
    the data past it: rows are a random subsample (stratified by relevance; for the blend, whole
    people) drawn with ``random_state``. Counts (priors, group statistics) and ALS still use
    every rating. ``None``: no cap.
    ``fold_training_rows`` caps them lower in the ``n_folds`` out-of-fold fits (never above
    ``max_training_rows``; ``None``: the same cap): those only make the blend's features, which
    need to be good, not the final models' best, and they are three of training's four passes.
    ``max_off_need_share`` bounds the share of the first five suggestions that meet none of the
    person's needs (each such suggestion says why it is there; 1.0: no bound).
    ``propensity_power`` weights the blend's rated rows by the inverse of their service's
    estimated propensity of being rated, to that power (``vcsmatch.ranking.propensity``;
    0, the default: no weighting; on the self-selected benchmark world weighting raised true
    NDCG but lowered NDCG of the random slice, the figure real data is judged by).
    ``cold_start`` is how a person known only by their groups (no needs, strengths, location
    or delivery preference) is scored: ``"group_gain"`` (the default), by ``cold_blend_`` on
    their groups' mean normalised gain, the best fixed order for the expected NDCG@10 of their
    own choices (``_scored``); ``"blend"``, like everyone, by the full blend. Measured
    (BENCHMARKS.md, 2026-12-04, issue 14 cold start): ``"group_gain"`` beats per-group
    popularity on MovieLens new people (0.3467 against 0.3414; the full blend 0.3401, below
    it) and raises Coat's random slice (0.5978 against 0.5956), the two real data sets; it
    lowers the self-selected synthetic world's (0.655 to 0.635), whose taste is our own
    construction, so real data decided. A person with any need, strength, location or
    delivery preference (every person a council's practitioner sends) is not affected.
    """

    def __init__(
        self,
        *,
        parts: PartList | None = None,
        use_diversity: bool = True,
        default_radius_km: float = 25.0,
        max_nearby: int | None = 2000,
        shrinkage: float = 10.0,
        diversity_weight: float = 0.3,
        n_folds: int = 3,
        negatives_per_rating: float | None = None,
        blend_C: float = 1.0,
        max_training_rows: int | None = 200_000,
        fold_training_rows: int | None = 100_000,
        random_state: int | None = 0,
        show_progress: bool = True,
        max_off_need_share: float = 0.2,
        propensity_power: float = 0.0,
        cold_start: str = "group_gain",
    ) -> None:
        # the one departure from storing as given: fresh default parts per model, so tuning
        # one model's part never tunes another's
        self.parts = default_parts() if parts is None else parts
        self.use_diversity = use_diversity
        self.default_radius_km = default_radius_km
        self.max_nearby = max_nearby
        self.shrinkage = shrinkage
        self.diversity_weight = diversity_weight
        self.n_folds = n_folds
        self.negatives_per_rating = negatives_per_rating
        self.blend_C = blend_C
        self.max_training_rows = max_training_rows
        self.fold_training_rows = fold_training_rows
        self.random_state = random_state
        self.show_progress = show_progress
        self.max_off_need_share = max_off_need_share
        self.propensity_power = propensity_power
        self.cold_start = cold_start

    # -- parameters --------------------------------------------------------------------------

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """The parameters; with ``deep``, also each part (``parts__<name>``) and its settings
        (``parts__<name>__<setting>``), as ``Pipeline`` gives its steps'."""
        out = super().get_params(deep=False)
        if deep:
            for name, part in self.parts:
                out[f"parts__{name}"] = part
                if not isinstance(part, str):
                    for key, value in part.get_params(deep=True).items():
                        out[f"parts__{name}__{key}"] = value
        return out

    def set_params(self, **params: Any) -> Recommender:  # noqa: ANN401 - any parameter's value
        """Set parameters, a part (``parts__<name>=part`` or ``"drop"``) or a part's setting
        (``parts__<name>__<setting>=value``); returns ``self``."""
        nested = {k: v for k, v in params.items() if k.startswith("parts__")}
        super().set_params(**{k: v for k, v in params.items() if k not in nested})
        names = [name for name, _ in self.parts]
        for key, value in nested.items():
            name, _, setting = key.removeprefix("parts__").partition("__")
            if name not in names:
                raise ValueError(
                    f"Invalid parameter {key!r} for Recommender: no part named {name!r} "
                    f"(its parts are {names!r})."
                )
            if not setting:
                self.parts = [(n, value if n == name else p) for n, p in self.parts]
                continue
            part = dict(self.parts)[name]
            if isinstance(part, str):
                raise ValueError(
                    f"Invalid parameter {key!r} for Recommender: part {name!r} is dropped."
                )
            part.set_params(**{setting: value})
        return self

    def _active_parts(self) -> list[tuple[str, Part]]:
        """The parts that are on, as (name, part), in blend column order."""
        return [(name, part) for name, part in self.parts if not isinstance(part, str)]

    def _validate_parts(self) -> None:
        parts = self.parts
        shape_ok = isinstance(parts, list | tuple) and all(
            isinstance(e, tuple) and len(e) == 2 and isinstance(e[0], str) for e in parts
        )
        if not shape_ok:
            raise ValueError(
                "The 'parts' parameter of Recommender must be a list of (name, part) pairs. "
                f"Got {parts!r} instead."
            )
        names = [name for name, _ in parts]
        if len(set(names)) != len(names) or any("__" in n for n in names):
            raise ValueError(
                "The 'parts' parameter of Recommender must name each part once, without "
                f"'__'. Got names {names!r} instead."
            )
        for name, part in parts:
            if not (part == "drop" if isinstance(part, str) else isinstance(part, Part)):
                raise ValueError(
                    "The 'parts' parameter of Recommender must hold parts (see parts.Part) or "
                    f"'drop'. Got {part!r} for part {name!r} instead."
                )
        active = self._active_parts()
        if not active:
            raise ValueError(
                "The 'parts' parameter of Recommender must keep at least one part. Got every "
                "part dropped instead."
            )
        given: dict[str, str] = {}
        for name, part in active:
            for feature in part.feature_names:
                if feature in given:
                    raise ValueError(
                        "The 'parts' parameter of Recommender must hold parts giving at most "
                        f"one of each feature. Got {feature!r} from part {given[feature]!r} "
                        f"and from part {name!r} instead."
                    )
                given[feature] = name
        for _, part in active:
            part.validate()

    def _validate_params(self) -> None:
        self._validate_parts()
        positive = {
            "default_radius_km": self.default_radius_km,
            "shrinkage": self.shrinkage,
            "blend_C": self.blend_C,
        }
        for name, value in positive.items():
            if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
                raise ValueError(
                    f"The '{name}' parameter of Recommender must be a positive number. "
                    f"Got {value!r} instead."
                )
        for name, value, low in (("n_folds", self.n_folds, 2),):
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise ValueError(
                    f"The '{name}' parameter of Recommender must be an int >= {low}. "
                    f"Got {value!r} instead."
                )
        near = self.max_nearby
        if near is not None and (isinstance(near, bool) or not isinstance(near, int) or near < 1):
            raise ValueError(
                "The 'max_nearby' parameter of Recommender must be None or a positive int. "
                f"Got {near!r} instead."
            )
        for name, cap in (
            ("max_training_rows", self.max_training_rows),
            ("fold_training_rows", self.fold_training_rows),
        ):
            if cap is not None and (
                isinstance(cap, bool) or not isinstance(cap, int) or cap < 1000
            ):
                raise ValueError(
                    f"The '{name}' parameter of Recommender must be None or an int >= 1000. "
                    f"Got {cap!r} instead."
                )
        for name, share in (
            ("max_off_need_share", self.max_off_need_share),
            ("propensity_power", self.propensity_power),
        ):
            if isinstance(share, bool) or not isinstance(share, int | float) or not 0 <= share <= 1:
                raise ValueError(
                    f"The '{name}' parameter of Recommender must be a number in [0, 1]. "
                    f"Got {share!r} instead."
                )
        if self.cold_start not in COLD_START:
            raise ValueError(
                f"The 'cold_start' parameter of Recommender must be one of {COLD_START!r}. "
                f"Got {self.cold_start!r} instead."
            )
        checked = [("diversity_weight", self.diversity_weight)]
        if self.negatives_per_rating is not None:
            checked.append(("negatives_per_rating", self.negatives_per_rating))
        for name, value in checked:
            if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
                raise ValueError(
                    f"The '{name}' parameter of Recommender must be a non-negative number. "
                    f"Got {value!r} instead."
                )

    @property
    def blend_features_(self) -> tuple[str, ...]:
        """The fitted blend's feature names (the fitted parts', in column order)."""
        check_fitted(self)
        return self.blend_.feature_names_

    def _feature_names(self) -> tuple[str, ...]:
        return tuple(f for _, part in self._active_parts() for f in part.feature_names)

    # -- fit ---------------------------------------------------------------------------------

    def fit(self, catalogue: Catalogue, ratings: pd.DataFrame) -> Recommender:
        """Learn from ``ratings`` (a training frame) over ``catalogue``; returns ``self``."""
        self._validate_params()
        check_catalogue(catalogue, "fit")
        check_ratings(ratings, catalogue, allow_empty=True)
        self.taxonomy_ = load_taxonomy()
        if len(ratings) == 0:
            return self._fit_without_ratings(catalogue, ratings)
        rng = np.random.default_rng(self.random_state)
        steps = self.n_folds + 3
        with _progress(self.show_progress, steps, "training") as bar:
            self.service_words_ = ServiceWords().fit(catalogue)
            self._bind(catalogue, evidence=None)
            frame, person_rows, service_rows, rating = self._ratings(ratings, catalogue)
            # no area cell: where people live drives what the old tool showed them (exposure),
            # and people at the front door elsewhere should not inherit it
            self.person_features_ = PersonFeatures(groups=PERSON_GROUPS).fit(frame)
            X = self.person_features_.transform(frame)
            self.group_keys_ = group_vocabulary(self.taxonomy_)
            member = self._membership(frame)
            block = self._training_people(frame, X, member)
            people = RatedPairs(frame, block, person_rows, service_rows, rating, self._services)
            bar.step("people and groups")

            names = self._feature_names()
            # out-of-fold part scores for the blend
            n_people = len(people.frame)
            fold_of = rng.permutation(n_people) % self.n_folds
            in_blend = self._blend_people(people, rng)
            # unrated services to sample negatives from: only needed when there are any
            wants_negatives = in_blend & (self._negative_ratio(people) > 0)
            exposable = self._exposable(people, wants_negatives)
            feats: list[np.ndarray] = []
            cold: list[np.ndarray] = []
            labels: list[np.ndarray] = []
            weights: list[np.ndarray] = []
            propensity = rated_propensity(people.service_rows, len(catalogue))
            for fold in range(self.n_folds):
                train = fold_of[people.person_rows] != fold
                learned = self._learn(self._pass(people, train, self._fold_cap()))
                held = np.flatnonzero((fold_of == fold) & in_blend)
                p_rows, s_rows, y = self._blend_rows(people, exposable, held)
                pairs = make_pairs(block, p_rows, s_rows, self._services)
                feats.append(pair_features(pairs, learned, self._services, names))
                if self.cold_start == "group_gain":
                    cold.append(_cold_features(learned, block.member, p_rows, s_rows))
                labels.append(y)
                weights.append(self._blend_weights(people, held, propensity, s_rows))
                bar.step(f"fold {fold + 1} of {self.n_folds}")

            blend_X = np.vstack(feats)
            blend_y = np.concatenate(labels)
            self.blend_ = Blend(C=self.blend_C, random_state=self.random_state).fit(
                blend_X,
                blend_y,
                names,
                sample_weight=np.concatenate(weights),
                fallback=FALLBACK_WEIGHTS,
            )
            self.cold_blend_: Blend | None = None
            if self.cold_start == "group_gain":
                self.cold_blend_ = Blend(C=self.blend_C, random_state=self.random_state).fit(
                    np.vstack(cold),
                    blend_y,
                    COLD_FEATURES,
                    sample_weight=np.concatenate(weights),
                    fallback={"group_gain": 1.0},
                )
            bar.step("blend")

            everyone = np.ones(len(people.rating), dtype=bool)
            learned = self._learn(self._pass(people, everyone, self.max_training_rows))
            self.train_service_ids_ = np.asarray(catalogue.ids(), dtype=str)
            self._keep(learned)
            self._bind(catalogue, evidence=learned)
            bar.step("final parts")

        return self._stamp(ratings, n_people=n_people, n_blend_rows=len(blend_y))

    def _fit_without_ratings(self, catalogue: Catalogue, ratings: pd.DataFrame) -> Recommender:
        """Day one: nothing rated yet, so only what both sides declare can rank (needs met,
        strengths matched, distance against travel, delivery mode, eligibility), with the
        fixed ``FALLBACK_WEIGHTS``. Every part that learns from ratings is empty: its
        evidence features are missing for every service, exactly as for a new service in a
        trained model, so a later fit on ratings is the same model with evidence added."""
        self.service_words_ = ServiceWords().fit(catalogue)
        self._bind(catalogue, evidence=None)
        frame = pd.DataFrame(
            {
                "age": [np.nan],
                "sex": ["not_recorded"],
                "needs": [()],
                "strengths": [()],
                "latitude": [np.nan],
                "longitude": [np.nan],
            }
        )
        self.person_features_ = PersonFeatures(groups=PERSON_GROUPS).fit(frame)
        self.group_keys_ = group_vocabulary(self.taxonomy_)
        # one stand-in person who rated nothing: every part learns from no ratings
        block = self._training_people(
            frame, self.person_features_.transform(frame), self._membership(frame)
        )
        none = np.zeros(0, dtype=np.int64)
        people = RatedPairs(frame, block, none, none, none, self._services)
        names = self._feature_names()
        self.blend_ = Blend(C=self.blend_C, random_state=self.random_state).fit(
            np.zeros((0, len(names))), none, names, fallback=FALLBACK_WEIGHTS
        )
        self.cold_blend_ = None  # no ratings: no group knows anything yet
        learned = self._learn(self._pass(people, np.zeros(0, dtype=bool), None))
        self.train_service_ids_ = np.asarray(catalogue.ids(), dtype=str)
        self._keep(learned)
        self._bind(catalogue, evidence=learned)
        return self._stamp(ratings, n_people=0, n_blend_rows=0)

    def _stamp(self, ratings: pd.DataFrame, *, n_people: int, n_blend_rows: int) -> Recommender:
        """The facts of this fit: counts, when, the data's fingerprint and the version."""
        self.n_ratings_ = int(len(ratings))
        self.n_people_ = int(n_people)
        self.n_blend_rows_ = int(n_blend_rows)
        self.trained_at_ = dt.datetime.now(dt.UTC).replace(microsecond=0)
        self.fingerprint_ = fingerprint(ratings)
        self.version_ = f"{self.trained_at_:%Y%m%dT%H%M%SZ}-{self.fingerprint_[:8]}"
        self.metrics_: dict[str, float] = {}
        return self

    @property
    def learned_from_ratings_(self) -> bool:
        """False for a day-one model (fitted on no ratings: content and eligibility only)."""
        check_fitted(self)
        return self.n_ratings_ > 0

    def _ratings(
        self, ratings: pd.DataFrame, catalogue: Catalogue
    ) -> tuple[pd.DataFrame, np.ndarray, np.ndarray, np.ndarray]:
        """One row per person (their features at their latest rating), and per rating its
        person's row, its service's row and the rating."""
        frame = ratings.reset_index(drop=True)
        order = frame.sort_values(["person_id", "rated_at"], kind="stable")
        people = order.drop_duplicates("person_id", keep="last").reset_index(drop=True)
        pindex = {pid: i for i, pid in enumerate(people["person_id"])}
        sindex = catalogue.index()
        return (
            people,
            frame["person_id"].map(pindex).to_numpy(dtype=np.int64),
            frame["service_id"].map(sindex).to_numpy(dtype=np.int64),
            frame["rating"].to_numpy(dtype=np.int64),
        )

    def _membership(self, frame: pd.DataFrame) -> sp.csr_matrix:
        """People x groups, 0/1 (groups as ``group_vocabulary``)."""
        col = {k: j for j, k in enumerate(self.group_keys_)}
        rows: list[int] = []
        cols: list[int] = []
        for i, rec in enumerate(frame.itertuples(index=False)):
            for key in self._person_groups_of(rec.age, rec.sex, rec.needs, rec.strengths):
                j = col.get(key)
                if j is not None:
                    rows.append(i)
                    cols.append(j)
        return sp.csr_matrix(
            (np.ones(len(rows)), (rows, cols)), shape=(len(frame), len(self.group_keys_))
        )

    @staticmethod
    def _person_groups_of(age: Any, sex: Any, needs: Any, strengths: Any) -> list[str]:
        from vcsmatch.features.person import age_band

        band = None if age is None or pd.isna(age) else age_band(int(age))
        return person_group_keys(band, sex or "not_recorded", needs or (), strengths or ())

    def _pass(self, people: RatedPairs, keep: np.ndarray, cap: int | None) -> TrainingPass:
        """A training pass over the ratings ``keep`` selects, capped at ``cap`` rows."""
        return TrainingPass(people, keep, cap, self.random_state, float(self.shrinkage))

    def _learn(self, training: TrainingPass) -> Evidence:
        """Every part fitted on ``training`` (a fresh clone each: the ``parts`` parameter is
        never fitted), with the pass's counts and group statistics."""
        from sklearn.base import clone

        fitted = {name: clone(part).fit(training) for name, part in self._active_parts()}
        return Evidence(training.priors, training.groups, fitted)

    def _blend_weights(
        self, people: RatedPairs, held: np.ndarray, propensity: np.ndarray, s_rows: np.ndarray
    ) -> np.ndarray:
        """Blend row weights: each rated row (they come first, ``_blend_rows``) by the inverse
        of its service's propensity of being rated (``vcsmatch.ranking.propensity``), so
        often-rated services do not teach the blend that being rated is being good; sampled
        negatives weigh 1."""
        out = np.ones(len(s_rows))
        n_rated = int(np.isin(people.person_rows, held).sum())
        out[:n_rated] = inverse_propensity_weights(
            propensity[s_rows[:n_rated]], power=float(self.propensity_power)
        )
        return out

    def _fold_cap(self) -> int | None:
        """The row cap of the out-of-fold fits: ``fold_training_rows``, never above
        ``max_training_rows``."""
        caps = [c for c in (self.max_training_rows, self.fold_training_rows) if c is not None]
        return min(caps) if caps else None

    def _negative_ratio(self, people: RatedPairs) -> float:
        """Sampled negatives per rating: the parameter, or (``None``) enough to bring the
        relevant share of the blend's rows down to ``NEGATIVES_TARGET_SHARE``.

        A log where practitioners rated what an old tool showed is mostly "not relevant"
        already, and unrated services there are unrated because they were not shown, not
        because they were poor; a log where people rated what they chose (public rating data)
        is mostly "relevant", and without negatives a blend cannot learn what is not.
        """
        if self.negatives_per_rating is not None:
            return float(self.negatives_per_rating)
        share = float(people.relevant.mean()) if len(people.relevant) else 0.0
        return max(0.0, share / NEGATIVES_TARGET_SHARE - 1.0)

    def _blend_people(self, people: RatedPairs, rng: np.random.Generator) -> np.ndarray:
        """Which training people give the blend its rows: everyone, or a random subset whose
        rows (ratings plus sampled negatives) fit within ``max_training_rows``."""
        n_people = len(people.frame)
        cap = self.max_training_rows
        per_person = np.bincount(people.person_rows, minlength=n_people)
        rows = per_person * (1.0 + self._negative_ratio(people))
        chosen = np.ones(n_people, dtype=bool)
        if cap is None or rows.sum() <= cap:
            return chosen
        order = rng.permutation(n_people)
        fits = np.cumsum(rows[order]) <= cap
        chosen[:] = False
        chosen[order[fits]] = True
        return chosen

    def _exposable(self, people: RatedPairs, wanted: np.ndarray) -> list[np.ndarray]:
        """Per training person (the ``wanted`` ones; empty for the rest): candidate services
        the old policy could have shown them but were not rated: no farther than the farthest
        service they were shown, remote ones only if they were shown a remote one, and only
        services someone was shown at all."""
        shown_any = np.zeros(self.n_services_, dtype=bool)
        shown_any[people.service_rows] = True
        order = np.argsort(people.person_rows, kind="stable")
        bounds = np.searchsorted(people.person_rows[order], np.arange(len(people.frame) + 1))
        empty = np.zeros(0, dtype=np.int64)
        out: list[np.ndarray] = [empty] * len(people.frame)
        chosen = np.flatnonzero(wanted)
        persons = [
            self._training_person(rec) for rec in people.frame.iloc[chosen].itertuples(index=False)
        ]
        locs = [
            None if p.latitude is None or p.longitude is None else (p.latitude, p.longitude)
            for p in persons
        ]
        found = self.candidates_.find_many(persons, locs, self.default_radius_km)
        for i, loc, cands in zip(chosen, locs, found, strict=True):
            rated = people.service_rows[order[bounds[i] : bounds[i + 1]]]
            rows = cands.rows
            d = cands.distance_km
            if loc is not None:
                dr = self._services.points.nearest_km(np.array(loc[0]), np.array(loc[1]), rated)
                far = np.nanmax(dr) if np.isfinite(dr).any() else 0.0
            else:
                far = 0.0
            remote_shown = bool(self.no_distance_[rated].any())
            ok = np.where(np.isnan(d), remote_shown & self.no_distance_[rows], d <= far)
            ok &= shown_any[rows]
            ok[np.isin(rows, rated)] = False
            out[i] = rows[ok]
        return out

    @staticmethod
    def _training_person(rec: Any) -> Person:
        """A ``Person`` from a training-frame row (coordinates, never a postcode)."""
        lat = None if pd.isna(rec.latitude) else float(rec.latitude)
        lon = None if pd.isna(rec.longitude) else float(rec.longitude)
        age = None if pd.isna(rec.age) else int(rec.age)
        return Person(
            latitude=lat,
            longitude=lon,
            age=age,
            sex=rec.sex or "not_recorded",
            needs=list(rec.needs or ()),
            strengths=list(rec.strengths or ()),
        )

    def _blend_rows(
        self,
        people: RatedPairs,
        exposable: list[np.ndarray],
        held: np.ndarray,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(person rows, service rows, labels) for the held-out people: their ratings, plus
        sampled exposable services they did not rate, labelled not relevant."""
        rng = np.random.default_rng(None if self.random_state is None else self.random_state + 1)
        in_held = np.isin(people.person_rows, held)
        p = [people.person_rows[in_held]]
        s = [people.service_rows[in_held]]
        # graded: a 5 is worth more than a 4 (what graded NDCG rewards), below 4 nothing
        y = [np.clip(people.rating[in_held] - (RELEVANT_AT - 1), 0, None).astype(np.int64)]
        counts = np.bincount(people.person_rows, minlength=len(people.frame))
        ratio = self._negative_ratio(people)
        for i in held:
            pool = exposable[i]
            k = min(len(pool), int(np.ceil(ratio * counts[i])))
            if k:
                pick = rng.choice(pool, size=k, replace=False)
                p.append(np.full(k, i))
                s.append(pick)
                y.append(np.zeros(k, dtype=np.int64))
        return np.concatenate(p), np.concatenate(s), np.concatenate(y)

    def _training_people(
        self, frame: pd.DataFrame, X: sp.csr_matrix, member: sp.csr_matrix
    ) -> PairPeople:
        """The training people's side of pairs (rows of ``frame``)."""
        return PairPeople(
            self._training_vectors(frame),
            X,
            member,
            frame["latitude"].to_numpy(dtype=np.float64),
            frame["longitude"].to_numpy(dtype=np.float64),
        )

    def _training_vectors(self, frame: pd.DataFrame) -> PersonVector:
        """Need, strength and mode-fit arrays of every training person (rows = people)."""
        vecs = [
            self.content_.person_vector(self._training_person(rec), self.default_radius_km)
            for rec in frame.itertuples(index=False)
        ]
        return PersonVector(
            np.vstack([v.needs for v in vecs]),
            np.vstack([v.main_need for v in vecs]),
            np.vstack([v.strengths for v in vecs]),
            np.vstack([v.mode_fit for v in vecs]),
            np.array([v.radius_km for v in vecs], dtype=np.float64),
        )

    # -- binding to a catalogue --------------------------------------------------------------

    def _bind(self, catalogue: Catalogue, evidence: Evidence | None) -> None:
        """Build the catalogue-side arrays; map learned per-service state onto it by id."""
        self.catalogue_ = catalogue
        sf = ServiceFeatures().fit(catalogue)
        self.service_features_ = sf
        self.n_services_ = len(catalogue)
        self.service_ids_ = np.asarray(catalogue.ids(), dtype=object)
        self.candidates_ = CandidateFinder().fit(catalogue, sf.modes_)
        self.content_ = ContentScorer().fit(
            sf.need_matrix_, sf.activity_matrix_, sf.modes_, sf.need_codes_, sf.activity_codes_
        )
        self.no_distance_ = ~(sf.modes_[:, 0] > 0)  # services reached without travel
        # service side of the taste model: needs, activities, modes, words and a constant; sparse
        # (a service uses a few of hundreds of columns: a national catalogue stays small)
        self.service_matrix_ = sp.hstack(
            [
                sp.csr_matrix(sf.need_matrix_),
                sp.csr_matrix(sf.activity_matrix_),
                sp.csr_matrix(sf.modes_),
                sp.csr_matrix(self.service_words_.transform(catalogue)),
                sp.csr_matrix(np.ones((len(catalogue), 1))),
            ],
            format="csr",
            dtype=np.float32,
        )
        self._services = ServiceSide(
            self.content_, self.service_matrix_, ServicePoints.of(catalogue)
        )
        if evidence is None:
            return
        old = {sid: i for i, sid in enumerate(self.train_service_ids_)}
        rows = np.array([old.get(sid, -1) for sid in catalogue.ids()], dtype=np.int64)
        priors = evidence.priors.take(rows)
        bound = {name: part.take(rows) for name, part in evidence.items()}
        self._bound = Evidence(priors, evidence.groups.take(rows, priors.rate), bound)
        # the part that learned what ratings say of each need, if one did (it is quoted)
        needs = next(
            (
                p.need_evidence_
                for p in bound.values()
                if getattr(p, "need_evidence_", None) is not None
            ),
            None,
        )
        self.explainer_ = Explainer(
            reason_kinds={**reason_kinds(list(bound.values())), "group_gain": "collaborative"},
            taxonomy=self.taxonomy_,
            content=self.content_,
            groups=self._bound.groups,
            priors=priors,
            group_keys=self.group_keys_,
            service_ids=self.service_ids_,
            needs=needs,
        )
        self._group_col = {k: j for j, k in enumerate(self.group_keys_)}
        names = self.person_features_.get_feature_names_out()
        self._pf_col = {str(n): j for j, n in enumerate(names)}

    def rebind(self, catalogue: Catalogue) -> Recommender:
        """The same learned parts over a new catalogue version (a copy; ``self`` unchanged).

        Services kept from the training catalogue keep their ratings' evidence; new services
        have none and rank on their content.
        """
        check_fitted(self)
        check_catalogue(catalogue, "rebind")
        import copy

        out = copy.copy(self)
        out._bind(catalogue, self._learned())
        return out

    def _keep(self, evidence: Evidence) -> None:
        """Keep what training learned as fitted attributes (what ``save`` writes): the
        ratings' counts (``priors_``, ``groups_``) and the fitted parts (``parts_`` in blend
        column order, ``named_parts_`` by name)."""
        self.priors_, self.groups_ = evidence.priors, evidence.groups
        self.named_parts_: dict[str, Part] = dict(evidence.parts)
        self.parts_: list[Part] = list(evidence.parts.values())

    def _learned(self) -> Evidence:
        """The fitted attributes as the evidence ``_bind`` maps onto a catalogue."""
        return Evidence(self.priors_, self.groups_, self.named_parts_)

    # -- recommend ---------------------------------------------------------------------------

    def recommend(
        self,
        person: Person,
        top_k: int = 10,
        *,
        exploration: Exploration | None = None,
        rng: np.random.Generator | None = None,
    ) -> list[Suggestion]:
        """The ``top_k`` best services for ``person``, best first, with reasons.

        A postcode is resolved through ``vcsmatch.features.location.locate`` (raises
        ``PostcodeError`` when it is malformed or unknown). ``exploration`` (off by default:
        the ranking is then deterministic) gives a few slots below the top ones to services
        with little rating evidence (``vcsmatch.ranking.exploration``), drawn with ``rng``.
        """
        check_fitted(self)
        check_person(person, "recommend")
        top_k = check_top_k(top_k, "recommend")
        return self._recommend(person, top_k, exploration, rng)

    def _recommend(
        self,
        person: Person,
        top_k: int,
        exploration: Exploration | None = None,
        rng: np.random.Generator | None = None,
    ) -> list[Suggestion]:
        location = locate(person)
        radius = float(person.max_distance_km or self.default_radius_km)
        cands = self.candidates_.find(person, location, radius, self.max_nearby)
        rows = cands.rows
        if len(rows) == 0:
            return []
        groups = self._person_group_rows(person)
        pv, blend, feats = self._scored(person, location, radius, rows, groups)
        relevance = blend.predict(feats)
        pool_n = min(len(rows), max(5 * top_k, 50))
        if pool_n < len(rows):
            pool = np.argpartition(-relevance, pool_n - 1)[:pool_n]
        else:
            pool = np.arange(len(rows))
        pool = pool[np.lexsort((rows[pool], -relevance[pool]))]  # best first, ties by row
        need_cols = np.flatnonzero(pv.needs)
        weight = float(self.diversity_weight) if self.use_diversity else 0.0
        need_match = self.content_.need_matrix_[rows[pool][:, None], need_cols].astype(np.float64)
        off_need = max_off = None
        if len(need_cols) and self.max_off_need_share < 1:
            off_need = ~(need_match > 0).any(axis=1)
            max_off = int(np.floor(self.max_off_need_share * HEAD + 1e-9))
        order, gains = rerank(
            relevance[pool], need_match, top_k, weight, off_need=off_need, max_off_in_head=max_off
        )
        picked = pool[order]
        n_explore = exploration.n_slots(len(picked)) if exploration is not None else 0
        drawn_p: np.ndarray | None = None  # per slot: NaN ranked, else the draw's probability
        if exploration is not None and n_explore:
            picked, gains, drawn_p = self._explore(
                exploration, rng, pv, rows, picked, gains, relevance, n_explore
            )
        shown = rows[picked]
        shown_feats = feats[picked]
        facts = cands.eligibility.facts
        out = self.explainer_.suggestions(
            Shown(
                rows=shown,
                scores=gains,
                distance_km=cands.distance_km[picked],
                features=shown_feats,
                contributions=blend.contributions(shown_feats),
                relevance=relevance[picked],
                eligibility=[tuple(facts(row)) for row in shown.tolist()],
            ),
            feature_names=blend.feature_names_,
            person_vector=pv,
            person_groups=groups,
        )
        if drawn_p is not None:
            out = [
                s
                if np.isnan(p)
                else replace(s, propensity=float(p), reasons=(EXPLORATION_REASON, *s.reasons))
                for s, p in zip(out, drawn_p, strict=True)
            ]
        return out

    def _explore(
        self,
        exploration: Exploration,
        rng: np.random.Generator | None,
        pv: PersonVector,
        rows: np.ndarray,
        picked: np.ndarray,
        gains: np.ndarray,
        relevance: np.ndarray,
        n_explore: int,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        """The ranked list with its last ``n_explore`` slots drawn from the exploration pool
        (candidates not already kept), and per slot the probability it was drawn with (NaN:
        ranked; None: nothing to draw). Scores stay non-increasing down the list."""
        keep = len(picked) - n_explore
        # a person who gave needs is explored only services meeting one of them, so explored
        # slots never add to the off-need share ``max_off_need_share`` bounds
        n_needs, n_str = pv.needs.sum(), pv.strengths.sum()
        need_fit = self.content_.need_matrix_[rows] @ pv.needs if n_needs else np.zeros(len(rows))
        strength_fit = (
            self.content_.activity_matrix_[rows] @ pv.strengths if n_str else np.zeros(len(rows))
        )
        pool = exploration_pool(
            need_fit,
            strength_fit,
            self._bound.priors.n_ratings[rows],
            exploration.max_ratings,
            has_needs=bool(n_needs),
        )
        pool = np.setdiff1d(pool, picked[:keep])
        drawn, p = exploration.draw(pool, n_explore, rng)
        if len(drawn) == 0:
            return picked, gains, None
        drawn = drawn[np.argsort(-relevance[drawn], kind="stable")]
        floor = gains[keep - 1] if keep else np.inf
        # their own expected gain, capped so a drawn service never outscores the slot above
        drawn_gains = np.minimum(relevance[drawn], floor)
        picked = np.concatenate([picked[:keep], drawn])
        gains = np.concatenate([gains[:keep], drawn_gains])
        drawn_p = np.concatenate([np.full(keep, np.nan), np.full(len(drawn), p)])
        return picked, gains, drawn_p

    def score_services(self, person: Person, service_ids: Sequence[str]) -> np.ndarray:
        """The blend's expected gain for ``person`` of each of ``service_ids``, NaN where a
        service is not one of their candidates (ineligible, out of reach, unknown). No
        reasons and no diversity re-rank: the cheap figure an evaluation orders by."""
        check_fitted(self)
        check_person(person, "score_services")
        out = np.full(len(service_ids), np.nan)
        location = locate(person)
        radius = float(person.max_distance_km or self.default_radius_km)
        cands = self.candidates_.find(person, location, radius, self.max_nearby)
        if len(cands.rows) == 0:
            return out
        groups = self._person_group_rows(person)
        _, blend, feats = self._scored(person, location, radius, cands.rows, groups)
        return scores_by_id(service_ids, self.catalogue_.index(), cands.rows, blend.predict(feats))

    def _person_x(self, person: Person) -> np.ndarray:
        """The person's ``PersonFeatures`` row, encoded from the fitted vocabulary's names
        (the transformer's generic path costs more than the rest of a recommendation; a test
        checks both agree)."""
        col = self._pf_col
        band = person.band or "unknown"
        keys = [f"age_band={band}", f"sex={person.sex}", f"age_band_sex={band}|{person.sex}"]
        keys += [f"needs={c}" for c in person.needs]
        keys += [f"strengths={c}" for c in person.strengths]
        x = np.zeros((1, len(col)), dtype=np.float64)
        x[0, [col[k] for k in keys if k in col]] = 1.0
        return x

    def _person_group_rows(self, person: Person) -> list[int]:
        keys = person_group_keys(person.band, person.sex, person.needs, person.strengths)
        return [self._group_col[k] for k in keys if k in self._group_col]

    def _scored(
        self,
        person: Person,
        location: tuple[float, float] | None,
        radius: float,
        rows: np.ndarray,
        groups: list[int] | None = None,
    ) -> tuple[PersonVector, Blend, np.ndarray]:
        """The person's content vector, the blend that scores them and its features of the
        candidate ``rows`` (missing values imputed; ``groups`` as ``_candidate_features``).

        A person known only by their groups (no needs, strengths, location or delivery
        preference: every part's score of them is one fixed order per group) is scored by
        ``cold_blend_``, on their groups' mean normalised gain: the best fixed order for the
        expected NDCG of a person drawn from those groups (``GroupStats.gain_scores``),
        which the full blend, fitted to every row's log-loss, does not keep at the top
        (with ``cold_start="group_gain"``; otherwise ``cold_blend_`` is None). Everyone else
        is scored by ``blend_`` on every part's features."""
        pv = self.content_.person_vector(person, radius)
        cold = self.cold_blend_
        if cold is not None and self._known_by_groups_only(person, location):
            if groups is None:
                groups = self._person_group_rows(person)
            x = self._bound.groups.gain_scores(groups, rows)
            column = np.full(len(rows), np.nan) if x is None else np.asarray(x, dtype=float)
            column[self._bound.priors.n_ratings[rows] == 0] = np.nan
            return pv, cold, cold.impute(column[:, None])
        return pv, self.blend_, self._candidate_features(person, pv, location, rows, groups)

    @staticmethod
    def _known_by_groups_only(person: Person, location: tuple[float, float] | None) -> bool:
        """Whether the person gave nothing but their age and sex: no needs, no strengths
        (which also make need and strength groups, whatever the catalogue lists), no location
        and no delivery preference."""
        return (
            location is None
            and not person.delivery_modes
            and not person.needs
            and not person.strengths
        )

    def _candidate_features(
        self,
        person: Person,
        pv: PersonVector,
        location: tuple[float, float] | None,
        rows: np.ndarray,
        groups: list[int] | None = None,
    ) -> np.ndarray:
        """The full blend's features of the person (``pv``: their content vector) against the
        candidate ``rows`` (``parts.pair_features``, as training builds them; missing values
        imputed). ``groups``: their ``_person_group_rows``, when the caller has them already."""
        if groups is None:
            groups = self._person_group_rows(person)
        member = sp.csr_matrix(
            (
                np.ones(len(groups)),
                np.asarray(groups, dtype=np.int32),
                np.array([0, len(groups)], dtype=np.int32),
            ),
            shape=(1, len(self.group_keys_)),
            copy=False,
        )
        lat, lon = location if location is not None else (np.nan, np.nan)
        block = PairPeople(
            PersonVector(
                pv.needs[None],
                pv.main_need[None],
                pv.strengths[None],
                pv.mode_fit[None],
                pv.radius_km,
            ),
            self._person_x(person),
            member,
            np.array([lat], dtype=np.float64),
            np.array([lon], dtype=np.float64),
        )
        pairs = make_pairs(block, np.zeros(len(rows), dtype=np.int64), rows, self._services)
        names = self.blend_.feature_names_
        features = pair_features(pairs, self._bound, self._services, names)
        return self.blend_.impute(features)

    # -- persistence (``Ranker.save`` / ``Ranker.load``) ---------------------------------------

    def _header_params(self) -> dict[str, Any]:
        """The parameters as JSON: each part as its class (``part_base.part_key``) and
        settings, or "drop"."""
        params = self.get_params(deep=False)
        params["parts"] = [
            [
                name,
                part
                if isinstance(part, str)
                else {"class": part_key(type(part)), "params": part.get_params(deep=False)},
            ]
            for name, part in self.parts
        ]
        return params

    @classmethod
    def _from_header_params(cls, params: dict[str, Any]) -> Recommender:
        """The unfitted model ``_header_params`` describes; a model saved before parts were
        parameters (flat ``use_content``, ``n_factors``, ...) gets the parts they meant."""
        params = dict(params)
        if "parts" not in params:
            flat = {k: params.pop(k) for k in _FLAT_COLLABORATIVE if k in params}
            on = {
                k: bool(params.pop(f"use_{k}", True))
                for k in ("content", "collaborative", "priors")
            }
            als = bool(params.pop("use_als", True))
            parts: PartList = [
                ("content", ContentPart() if on["content"] else "drop"),
                (
                    "collaborative",
                    CollaborativePart(als=als, **flat) if on["collaborative"] else "drop",
                ),
                ("priors", PriorsPart() if on["priors"] else "drop"),
            ]
            return cls(parts=parts, **params)
        saved: PartList = []
        for name, part in params.pop("parts"):
            if part == "drop":
                saved.append((str(name), "drop"))
            else:
                saved.append((str(name), part_class(str(part["class"]))(**part["params"])))
        return cls(parts=saved, **params)

    def _state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        priors, prior_scalars = self.priors_.to_arrays()
        arrays: dict[str, np.ndarray] = {
            "train_service_ids": np.asarray(self.train_service_ids_, dtype=str),
            **prefixed("priors", priors),
            **prefixed("groups", self.groups_.to_arrays()),
            **prefixed("blend", self.blend_.to_arrays()),
        }
        if self.cold_blend_ is not None:
            arrays.update(prefixed("cold_blend", self.cold_blend_.to_arrays()))
        for name, part in self.named_parts_.items():
            arrays.update(prefixed(f"parts.{name}", part.arrays()))
        pf = self.person_features_
        fields = {
            "version": self.version_,
            "fingerprint": self.fingerprint_,
            "metrics": self.metrics_,
            "trained_at": self.trained_at_.isoformat(),
            "n_ratings": self.n_ratings_,
            "n_people": self.n_people_,
            "n_blend_rows": self.n_blend_rows_,
            "blend_features": list(self.blend_.feature_names_),
            "cold_blend_features": (
                None if self.cold_blend_ is None else list(self.cold_blend_.feature_names_)
            ),
            "priors": prior_scalars,
            "groups": {"n_people": self.groups_.n_people_, "keys": list(self.group_keys_)},
            "service_words": list(self.service_words_.vocabulary_),
            "person_features": {
                "area_cell_deg": pf.area_cell_deg,
                "groups": list(pf.groups),
                "areas": [c for c in pf.categories_.get("area", []) if c != "unknown"],
                "feature_names": [str(n) for n in pf.get_feature_names_out()],
            },
        }
        return fields, arrays

    def _restore(
        self, header: dict[str, Any], arrays: dict[str, np.ndarray], catalogue: Catalogue
    ) -> None:
        self.taxonomy_ = load_taxonomy()
        self.train_service_ids_ = arrays["train_service_ids"]
        priors = ServicePriors.from_arrays(unprefixed("priors", arrays), header["priors"])
        groups = GroupStats.from_arrays(
            unprefixed("groups", arrays), self.shrinkage, int(header["groups"]["n_people"])
        )
        self.group_keys_ = tuple(header["groups"]["keys"])
        words = ServiceWords()
        words.vocabulary_ = tuple(str(w) for w in header["service_words"])
        self.service_words_ = words
        self.blend_ = Blend.from_arrays(unprefixed("blend", arrays), header["blend_features"])
        cold = header.get("cold_blend_features")
        self.cold_blend_ = (
            None if cold is None else Blend.from_arrays(unprefixed("cold_blend", arrays), cold)
        )
        self.person_features_ = _person_features(header["person_features"])
        fitted = {
            name: type(part).from_arrays(
                part.get_params(deep=False), unprefixed(f"parts.{name}", arrays)
            )
            for name, part in self._active_parts()
        }
        learned = Evidence(priors, groups, fitted)
        self._keep(learned)
        self._bind(catalogue, learned)
        self.version_ = header["version"]
        self.fingerprint_ = header["fingerprint"]
        self.metrics_ = dict(header.get("metrics") or {})
        self.trained_at_ = dt.datetime.fromisoformat(header["trained_at"])
        self.n_ratings_ = int(header["n_ratings"])
        self.n_people_ = int(header["n_people"])
        self.n_blend_rows_ = int(header["n_blend_rows"])


def _cold_features(
    learned: Evidence, member: sp.csr_matrix, person_rows: np.ndarray, service_rows: np.ndarray
) -> np.ndarray:
    """``COLD_FEATURES`` of (person, service) pairs from one pass's group statistics: NaN for
    services the pass saw no rating of (as for every evidence feature, ``pair_features``)."""
    x = learned.groups.pair_gain_scores(member, person_rows, service_rows)
    column = np.full(len(person_rows), np.nan) if x is None else np.asarray(x, dtype=float)
    column[learned.priors.n_ratings[service_rows] == 0] = np.nan
    return column[:, None]


def _person_features(saved: dict[str, Any]) -> PersonFeatures:
    """Refit ``PersonFeatures`` to the saved vocabulary: one point at the centre of each saved
    area cell gives back exactly the saved areas; the feature names must then match."""
    step = float(saved["area_cell_deg"])
    lats, lons = [], []
    for cell in saved["areas"]:
        lat, lon = (float(x) for x in cell.split(","))
        lats.append(lat + step / 2)
        lons.append(lon + step / 2)
    frame = pd.DataFrame(
        {
            "age": np.nan,
            "sex": "not_recorded",
            "needs": [()] * len(lats),
            "strengths": [()] * len(lats),
            "latitude": lats,
            "longitude": lons,
        }
    )
    pf = PersonFeatures(area_cell_deg=step, groups=tuple(saved["groups"])).fit(frame)
    if [str(n) for n in pf.get_feature_names_out()] != list(saved["feature_names"]):
        raise ModelLoadError("header.json: person feature vocabulary does not round-trip")
    return pf
