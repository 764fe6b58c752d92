"""Compare rankers on held-out data, in one run, with the same people and the same rules.

``evaluate`` fits every model (and, by default, the four baselines of
``vcsmatch.ranking.baselines``) on the training frame, asks each for its top ``k`` for every
test person, and scores the lists:

- against the test people's own ratings (``ndcg``, ``recall``): what a real log can tell.
  Unrated services count as not relevant, so this favours whatever policy chose what was
  shown (the old tool's nearest services got all the ratings);
- among only the services each test person rated (``rated_ndcg``): the model orders the
  rated services and is judged on that order, which the logging policy cannot flatter;
- against a known true relevance when one is given (``true_ndcg``, ``true_recall``): the
  synthetic world's, where every service's relevance to every person is known.

It also counts catalogue coverage, the share of never-rated services surfaced, suggestions
the eligibility rules forbid (must be 0), specialist services suggested to a person without
their need (must be 0, ``vcsmatch.features.specialist``), the share of the first five
suggestions that meet none of the person's needs (``off_need``), and NDCG per sex and age
band with the largest gap.

Off the log's policy (``snips``): each test rating is weighted by the inverse of the
probability that the old tool showed it (an exposure log's ``propensity`` where one is given,
else estimated from how often each service was rated, ``vcsmatch.ranking.propensity``), and
the model is judged on the rated services its top ``k`` holds: a self-normalised estimate of
the mean gain of what it would show (``vcsmatch.evaluation.off_policy``), which does not
reward a model for copying what the old tool showed.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from vcsmatch.catalogue.model import Catalogue
from vcsmatch.errors import PostcodeError
from vcsmatch.evaluation.metrics import (
    catalogue_coverage,
    gain,
    largest_gap,
    mean_defined,
    ndcg_at_k,
    new_service_share,
    recall_at_k,
)
from vcsmatch.evaluation.off_policy import Estimate, snips
from vcsmatch.features.person import Person
from vcsmatch.ratings import RELEVANT_AT

#: Names of the baselines ``evaluate`` adds, in report order.
BASELINE_NAMES: tuple[str, ...] = (
    "nearest",
    "content-only",
    "global-popularity",
    "group-popularity",
    "sex-mean-rating",
)

#: How many places of each list the off-need share looks at.
OFF_NEED_HEAD = 5

Truth = Callable[[Person], np.ndarray] | np.ndarray


def default_baselines() -> dict[str, Any]:
    """Fresh, unfitted baselines keyed by their report names."""
    from vcsmatch.ranking.baselines import (
        ContentOnly,
        GlobalPopularity,
        GroupMeanRating,
        GroupPopularity,
        NearestServices,
    )

    return {
        "nearest": NearestServices(),
        "content-only": ContentOnly(),
        "global-popularity": GlobalPopularity(),
        "group-popularity": GroupPopularity(),
        "sex-mean-rating": GroupMeanRating(group="sex"),
    }


@dataclass
class ModelScores:
    """One ranker's results. Metrics that could not be computed are NaN."""

    name: str
    ndcg: float = math.nan
    recall: float = math.nan
    #: NDCG@k of the model's order of the services each test person rated (exposure-free).
    rated_ndcg: float = math.nan
    true_ndcg: float = math.nan
    true_recall: float = math.nan
    #: SNIPS estimate of the mean gain of the top k's rated services, and its standard error.
    snips: float = math.nan
    snips_se: float = math.nan
    coverage: int = 0
    coverage_share: float = 0.0
    new_share: float = 0.0
    new_surfaced: int = 0
    ineligible: int = 0
    #: Suggestions of a specialist service to a person without its need (must be 0).
    specialist: int = 0
    #: Share of the first ``OFF_NEED_HEAD`` suggestions meeting none of the person's needs
    #: (over people with at least one need recorded).
    off_need: float = math.nan
    n_people: int = 0
    fit_seconds: float = 0.0
    recommend_seconds: float = 0.0
    #: dimension ("sex", "age band") -> group -> mean NDCG (the primary NDCG).
    ndcg_by_group: dict[str, dict[str, float]] = field(default_factory=dict)
    #: dimension -> group -> number of people scored.
    group_sizes: dict[str, dict[str, int]] = field(default_factory=dict)
    #: dimension -> (best group, worst group, difference), among groups big enough to compare.
    gaps: dict[str, tuple[str, str, float] | None] = field(default_factory=dict)

    @property
    def largest_gap(self) -> tuple[str, str, str, float] | None:
        """``(dimension, best group, worst group, difference)`` over all dimensions."""
        best = None
        for dim, gap in self.gaps.items():
            if gap is not None and (best is None or gap[2] > best[3]):
                best = (dim, gap[0], gap[1], gap[2])
        return best


@dataclass
class EvaluationResult:
    """Every model's scores from one run, plus what the run was."""

    k: int
    split: str
    n_services: int
    n_train_ratings: int
    n_test_ratings: int
    n_test_people: int
    models: dict[str, ModelScores]
    #: "true_ndcg" when a true relevance was given, else "ndcg".
    primary: str = "ndcg"
    #: Where the off-policy estimate's propensities came from ("" when there was none).
    propensity_source: str = ""

    def score(self, name: str, metric: str | None = None) -> float:
        return float(getattr(self.models[name], metric or self.primary))

    def ratio(self, name: str, baseline: str, metric: str | None = None) -> float:
        """``name``'s metric divided by ``baseline``'s (inf when the baseline scores 0)."""
        a, b = self.score(name, metric), self.score(baseline, metric)
        if b == 0:
            return math.inf if a > 0 else math.nan
        return a / b

    def to_frame(self) -> pd.DataFrame:
        """One row per model, the headline numbers as columns."""
        rows = []
        for m in self.models.values():
            gap = m.largest_gap
            rows.append(
                {
                    "model": m.name,
                    f"ndcg@{self.k}": m.ndcg,
                    f"recall@{self.k}": m.recall,
                    f"rated_ndcg@{self.k}": m.rated_ndcg,
                    f"true_ndcg@{self.k}": m.true_ndcg,
                    f"true_recall@{self.k}": m.true_recall,
                    f"snips@{self.k}": m.snips,
                    "coverage": m.coverage,
                    "coverage_share": m.coverage_share,
                    "new_share": m.new_share,
                    "ineligible": m.ineligible,
                    "specialist": m.specialist,
                    f"off_need@{OFF_NEED_HEAD}": m.off_need,
                    "largest_gap": np.nan if gap is None else gap[3],
                    "gap_between": "" if gap is None else f"{gap[1]} vs {gap[2]}",
                    "fit_s": m.fit_seconds,
                    "recommend_s": m.recommend_seconds,
                }
            )
        frame = pd.DataFrame(rows).set_index("model")
        return frame.dropna(axis=1, how="all")

    def table(self) -> str:
        """A plain-text table for terminals and logs (no personal data: aggregates only)."""
        frame = self.to_frame()
        return frame.to_string(float_format=lambda v: f"{v:.3f}")


def people_from_frame(frame: pd.DataFrame) -> list[Person]:
    """One ``Person`` per ``person_id`` of a training frame, from its first row's features."""
    people = []
    for rec in frame.drop_duplicates("person_id").itertuples(index=False):
        lat, lon = rec.latitude, rec.longitude
        located = lat == lat and lon == lon and lat is not None and lon is not None
        people.append(
            Person(
                reference=str(rec.person_id)[:128],
                age=None if rec.age != rec.age or rec.age is None else int(rec.age),
                sex=rec.sex,
                needs=list(rec.needs),
                strengths=list(rec.strengths),
                latitude=float(lat) if located else None,
                longitude=float(lon) if located else None,
            )
        )
    return people


class _Progress:
    """A rich progress bar when asked for, silence otherwise."""

    def __init__(self, show: bool) -> None:
        self.show = show
        self._progress = None

    def __enter__(self) -> _Progress:
        if self.show:
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

            self._progress = Progress(
                TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), transient=True
            )
            self._progress.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._progress is not None:
            self._progress.__exit__(*exc)

    def task(self, description: str, total: int) -> Callable[[int], None]:
        if self._progress is None:
            return lambda n: None
        task_id = self._progress.add_task(description, total=total)
        return lambda n: self._progress.advance(task_id, n)


def _fresh(model: Any) -> Any:
    """An unfitted copy with the same parameters (scikit-learn's ``clone`` idea)."""
    return type(model)(**model.get_params(deep=False))


def evaluate(
    models: Mapping[str, Any],
    catalogue: Catalogue,
    train: pd.DataFrame,
    test: pd.DataFrame | None = None,
    k: int = 10,
    *,
    people: Sequence[Person] | None = None,
    truth: Truth | None = None,
    baselines: bool = True,
    refit: bool = True,
    rated_protocol: bool = True,
    split: str = "",
    min_group_size: int = 20,
    progress: bool = True,
    exposures: pd.DataFrame | None = None,
) -> EvaluationResult:
    """Fit each model on ``train`` and score its top ``k`` for held-out people.

    ``test`` is the held-out training frame (its people's ratings are the judgement);
    ``people`` the people to rank for (default: the test frame's); ``truth`` a true
    relevance, either ``truth(person) -> expected rating per catalogue row`` or an array
    aligned with ``people``. ``refit=False`` uses the models as given (already fitted).
    ``rated_protocol`` also ranks every test person's whole candidate list to score the order
    of the services they rated (``rated_ndcg``; roughly doubles ranking time).
    ``exposures`` (``person_id``, ``service_id``, ``propensity``: what the old tool showed the
    test people, and the probability it did) gives the off-policy estimate its propensities;
    without it they are estimated from the ratings.
    """
    if test is None and truth is None:
        raise ValueError("evaluate needs a test frame, a true relevance, or both.")
    if not isinstance(k, int) or k < 1:
        raise ValueError(f"The 'k' parameter of evaluate must be a positive int. Got {k!r}.")
    if people is None:
        if test is None:
            raise ValueError("evaluate needs people to rank for when no test frame is given.")
        people = people_from_frame(test)
    people = list(people)
    all_models = dict(models)
    if baselines:
        for name, model in default_baselines().items():
            all_models.setdefault(name, model)

    rated_gains, relevant = _rating_judgements(test) if test is not None else ({}, {})
    true_matrix = _truth_matrix(truth, people, len(catalogue)) if truth is not None else None
    rated_in_training = set(train["service_id"].astype(str))
    n_active = sum(1 for s in catalogue if s.is_active) or len(catalogue)
    eligibility = _EligibilityCheck(catalogue, people)
    needs_check = _NeedCheck(catalogue, people)
    ids = np.asarray(catalogue.ids(), dtype=object)
    logged, source = (
        _logged_test_ratings(test, train, catalogue, exposures) if test is not None else (None, "")
    )

    results: dict[str, ModelScores] = {}
    with _Progress(progress) as bars:
        for name, model in all_models.items():
            scores = ModelScores(name=name, n_people=len(people))
            started = time.perf_counter()
            fitted = _fresh(model).fit(catalogue, train) if refit else model
            scores.fit_seconds = time.perf_counter() - started

            advance = bars.task(f"ranking for {len(people)} people: {name}", len(people))
            started = time.perf_counter()
            lists: list[list[str]] = []
            quiet = _without_reasons(fitted)
            for chunk in range(0, len(people), 100):
                batch = people[chunk : chunk + 100]
                for suggestions in fitted.recommend_batch(batch, top_k=k, **quiet):
                    lists.append([s.service_id for s in suggestions])
                advance(len(batch))
            scores.recommend_seconds = time.perf_counter() - started
            if test is not None and rated_protocol:
                advance = bars.task(f"ordering rated services: {name}", len(people))
                scores.rated_ndcg = _rated_protocol(
                    fitted, people, rated_gains, k, len(catalogue), advance
                )

            scores.coverage, scores.coverage_share = catalogue_coverage(lists, n_active)
            scores.new_share = new_service_share(lists, rated_in_training)
            scores.new_surfaced = len({s for r in lists for s in r} - rated_in_training)
            scores.ineligible = eligibility.count(lists)
            scores.specialist = needs_check.specialist(lists)
            scores.off_need = needs_check.off_need_share(lists, OFF_NEED_HEAD)
            if logged is not None:
                estimate = _snips_of_lists(logged, people, lists)
                scores.snips, scores.snips_se = estimate.value, estimate.se

            per_person_true: list[float | None] = []
            per_person_rated: list[float | None] = []
            rated_recall: list[float | None] = []
            true_recall: list[float | None] = []
            for i, (person, ranked) in enumerate(zip(people, lists, strict=True)):
                ref = person.reference
                if test is not None:
                    per_person_rated.append(ndcg_at_k(ranked, rated_gains.get(ref, {}), k))
                    rated_recall.append(recall_at_k(ranked, relevant.get(ref, ()), k))
                if true_matrix is not None:
                    g = gain(true_matrix[i])
                    positive = np.flatnonzero(g > 0)
                    gains = dict(zip(ids[positive], g[positive], strict=True))
                    per_person_true.append(ndcg_at_k(ranked, gains, k))
                    good = ids[true_matrix[i] >= RELEVANT_AT]
                    true_recall.append(recall_at_k(ranked, good, k))
            if test is not None:
                scores.ndcg = mean_defined(per_person_rated)
                scores.recall = mean_defined(rated_recall)
            if true_matrix is not None:
                scores.true_ndcg = mean_defined(per_person_true)
                scores.true_recall = mean_defined(true_recall)
            primary = per_person_true if true_matrix is not None else per_person_rated
            _by_group(scores, people, primary, min_group_size)
            results[name] = scores

    return EvaluationResult(
        k=k,
        split=split,
        n_services=len(catalogue),
        n_train_ratings=len(train),
        n_test_ratings=0 if test is None else len(test),
        n_test_people=len(people),
        models=results,
        primary="true_ndcg" if true_matrix is not None else "ndcg",
        propensity_source=source,
    )


def check_exposures(exposures: pd.DataFrame) -> pd.DataFrame:
    """An exposure log as ``evaluate`` reads it (``person_id``, ``service_id`` as text,
    ``propensity`` a float; the latest row per person and service); raises ``ValueError``
    naming the first bad row and field."""
    missing = {"person_id", "service_id", "propensity"} - set(exposures.columns)
    if missing:
        raise ValueError(f"The exposures lack the columns {sorted(missing)}.")
    p = pd.to_numeric(exposures["propensity"], errors="coerce").to_numpy(dtype=float)
    bad = np.flatnonzero(~((p > 0) & (p <= 1)))
    if len(bad):
        raise ValueError(
            f"Exposure row {int(bad[0]) + 1}: 'propensity' must be a number in (0, 1]. "
            f"Got {exposures['propensity'].iloc[bad[0]]!r} instead."
        )
    return pd.DataFrame(
        {
            "person_id": exposures["person_id"].astype(str).to_numpy(),
            "service_id": exposures["service_id"].astype(str).to_numpy(),
            "propensity": p,
        }
    ).drop_duplicates(["person_id", "service_id"], keep="last")


def _logged_test_ratings(
    test: pd.DataFrame,
    train: pd.DataFrame,
    catalogue: Catalogue,
    exposures: pd.DataFrame | None,
) -> tuple[pd.DataFrame | None, str]:
    """The test ratings (latest per person and service) with their gain and the propensity
    of their having been shown, and where the propensities came from."""
    from vcsmatch.ranking.propensity import rated_propensity

    rated = test.sort_values("rated_at", kind="stable")
    rated = rated.drop_duplicates(["person_id", "service_id"], keep="last")
    rated = pd.DataFrame(
        {
            "person_id": rated["person_id"].astype(str),
            "service_id": rated["service_id"].astype(str),
            "gain": gain(rated["rating"].to_numpy(dtype=float)),
        }
    )
    if exposures is not None:
        shown = check_exposures(exposures)
        logged = rated.merge(shown, on=["person_id", "service_id"])
        return (logged, "exposure log") if len(logged) else (None, "")
    # no exposure log: a service's chance of being shown, from how often it was rated
    index = catalogue.index()
    both = pd.concat([train["service_id"], test["service_id"]]).astype(str)
    rows = both.map(index).dropna().to_numpy(dtype=np.int64)
    propensity = rated_propensity(rows, len(catalogue))
    known = rated["service_id"].map(index)
    rated = rated[known.notna()].assign(
        propensity=propensity[known.dropna().to_numpy(dtype=np.int64)]
    )
    return (rated, "estimated from the ratings") if len(rated) else (None, "")


def _snips_of_lists(
    logged: pd.DataFrame, people: Sequence[Person], lists: Sequence[Sequence[str]]
) -> Estimate:
    """SNIPS of a model's top-k lists over the logged test ratings of the ranked people."""
    top = {p.reference: set(ranked) for p, ranked in zip(people, lists, strict=True)}
    ours = logged[logged["person_id"].isin(top)]
    hit = np.fromiter(
        (s in top[p] for p, s in zip(ours["person_id"], ours["service_id"], strict=True)),
        dtype=bool,
        count=len(ours),
    )
    return snips(ours["gain"].to_numpy(), ours["propensity"].to_numpy(), hit)


def _without_reasons(fitted: Any) -> dict[str, bool]:
    """``{"explain": False}`` for a ranker whose ``recommend_batch`` can leave reasons out
    (the evaluation reads only the order), else nothing."""
    import inspect

    try:
        params = inspect.signature(fitted.recommend_batch).parameters
    except (TypeError, ValueError):
        return {}
    return {"explain": False} if "explain" in params else {}


def _rated_protocol(
    fitted: Any,
    people: Sequence[Person],
    rated_gains: Mapping[str, Mapping[str, float]],
    k: int,
    n_services: int,
    advance: Callable[[int], None],
) -> float:
    """Mean NDCG@k of the model's order of each person's rated services.

    Rated services the model does not rank at all (not candidates) go last, in rating order.
    A ranker with ``score_services`` orders them by its scores alone (no reasons built, no
    re-ranking: the cost of scoring, not of explaining every candidate).
    """
    values: list[float | None] = []
    if hasattr(fitted, "score_services"):
        for chunk in range(0, len(people), 100):
            batch = people[chunk : chunk + 100]
            for person in batch:
                gains = rated_gains.get(person.reference or "", {})
                ids = list(gains)
                scores = np.nan_to_num(fitted.score_services(person, ids), nan=-np.inf)
                order = np.lexsort((np.arange(len(ids)), -scores))
                values.append(ndcg_at_k([ids[j] for j in order], gains, k))
            advance(len(batch))
        return mean_defined(values)
    for chunk in range(0, len(people), 100):
        batch = people[chunk : chunk + 100]
        for person, suggestions in zip(
            batch, fitted.recommend_batch(batch, top_k=max(n_services, 1)), strict=True
        ):
            gains = rated_gains.get(person.reference or "", {})
            order = [s.service_id for s in suggestions if s.service_id in gains]
            seen = set(order)
            order += [s for s in gains if s not in seen]
            values.append(ndcg_at_k(order, gains, k))
        advance(len(batch))
    return mean_defined(values)


def _rating_judgements(
    test: pd.DataFrame,
) -> tuple[dict[str, dict[str, float]], dict[str, set[str]]]:
    """Per person: graded gain per rated service (latest rating wins) and the relevant set."""
    gains: dict[str, dict[str, float]] = {}
    relevant: dict[str, set[str]] = {}
    frame = test.sort_values("rated_at", kind="stable")
    for ref, service, rating in zip(
        frame["person_id"].astype(str),
        frame["service_id"].astype(str),
        frame["rating"],
        strict=True,
    ):
        gains.setdefault(ref, {})[service] = float(gain(rating))
    for ref, by_service in gains.items():
        relevant[ref] = {s for s, g in by_service.items() if g > 0}
    return gains, relevant


def _truth_matrix(truth: Truth, people: Sequence[Person], n_services: int) -> np.ndarray:
    if callable(truth):
        matrix = (
            np.vstack([np.asarray(truth(p), dtype=float) for p in people])
            if people
            else (np.zeros((0, n_services)))
        )
    else:
        matrix = np.asarray(truth, dtype=float)
    if matrix.shape != (len(people), n_services):
        raise ValueError(
            f"The true relevance must have one row per person and one column per service: "
            f"expected {(len(people), n_services)}, got {matrix.shape}."
        )
    return matrix


class _EligibilityCheck:
    """Counts suggestions the hard rules forbid, with the same filter the rankers use."""

    def __init__(self, catalogue: Catalogue, people: Sequence[Person]) -> None:
        from vcsmatch.features.eligibility import EligibilityFilter

        self.flt = EligibilityFilter().fit(catalogue)
        self.row = catalogue.index()
        self.people = people

    def count(self, lists: Sequence[Sequence[str]]) -> int:
        from vcsmatch.features.location import locate

        bad = 0
        for person, ranked in zip(self.people, lists, strict=True):
            if not ranked:
                continue
            try:
                where = locate(person)
            except PostcodeError:
                where = None
            ok = self.flt.check(person, where).eligible
            bad += sum(1 for s in ranked if s not in self.row or not ok[self.row[s]])
        return bad


class _NeedCheck:
    """Counts specialist services suggested without their need, and the share of the head of
    each list meeting none of the person's needs (published or inferred)."""

    def __init__(self, catalogue: Catalogue, people: Sequence[Person]) -> None:
        from vcsmatch.features.service import ServiceFeatures
        from vcsmatch.features.specialist import SpecialistServices

        features = ServiceFeatures().fit(catalogue)
        self.need_col = {c: j for j, c in enumerate(features.need_codes_)}
        self.meets = features.need_matrix_ > 0
        self.special = SpecialistServices().fit(catalogue)
        self.row = catalogue.index()
        self.people = people

    def specialist(self, lists: Sequence[Sequence[str]]) -> int:
        bad = 0
        for person, ranked in zip(self.people, lists, strict=True):
            if ranked:
                ok = self.special.allowed(person.needs)
                bad += sum(1 for s in ranked if s in self.row and not ok[self.row[s]])
        return bad

    def off_need_share(self, lists: Sequence[Sequence[str]], head: int) -> float:
        off = shown = 0
        for person, ranked in zip(self.people, lists, strict=True):
            cols = [self.need_col[c] for c in person.needs if c in self.need_col]
            if not cols:
                continue
            rows = [self.row[s] for s in ranked[:head] if s in self.row]
            shown += len(rows)
            off += int((~self.meets[np.ix_(rows, cols)].any(axis=1)).sum()) if rows else 0
        return off / shown if shown else math.nan


def _by_group(
    scores: ModelScores,
    people: Sequence[Person],
    per_person: Sequence[float | None],
    min_group_size: int,
) -> None:
    if not per_person:
        return
    dims = {
        "sex": [p.sex for p in people],
        "age band": [p.band or "unknown" for p in people],
    }
    for dim, labels in dims.items():
        values: dict[str, list[float | None]] = {}
        for label, v in zip(labels, per_person, strict=True):
            values.setdefault(label, []).append(v)
        means = {g: mean_defined(v) for g, v in sorted(values.items())}
        sizes = {g: sum(1 for x in v if x is not None) for g, v in sorted(values.items())}
        scores.ndcg_by_group[dim] = means
        scores.group_sizes[dim] = sizes
        big = {g: m for g, m in means.items() if sizes[g] >= min_group_size}
        scores.gaps[dim] = largest_gap(big)
