"""A world whose ratings are missing not at random, with a random slice that gives the truth.

Like public rating sets that hold both (people rated what they chose, then rated a random
sample of items): the old tool showed each rated person's practitioner a list drawn toward
popular services (``exposures``, with each service's probability of being shown), and the
practitioner rated mostly what they liked (the chance of rating a shown service rises with
its rating, ``RATE_GIVEN_RATING``). So the log holds many high ratings of popular services,
few low ones, and nothing about services the old tool rarely showed. The new people then
rated a random slice of the services eligible to them (``slice``): missing completely at
random, the only fair judge of a ranker learnt from the biased log.

Built on a ``World`` (its people, services and true relevance); ``online_only`` worlds match
the public data best (no location, every service reachable). Public data records people's
demographics only, so by default the log and the new people carry no needs and no strengths
(``recorded_needs=False``), though the truth still depends on them: what content matching
could have told is unknown, and only the ratings teach.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from vcsmatch.features.person import Person
from vcsmatch.ratings import TRAINING_COLUMNS
from vcsmatch.synthetic._world import LOG_END, World, _eligible, _relevance

#: The chance a practitioner rates a shown service, by its rating (1 to 5): mostly the ones
#: they liked, as in public self-selected ratings where 4s and 5s dominate.
RATE_GIVEN_RATING: tuple[float, ...] = (0.08, 0.10, 0.20, 0.50, 0.85)


@dataclass
class SelfSelectedWorld:
    """A world's self-selected ratings log and its random slice (see the module docstring)."""

    world: World
    #: The training log: self-selected ratings of the rated people (``TRAINING_COLUMNS``).
    ratings: pd.DataFrame
    #: What the old tool showed: ``person_id, service_id, propensity, rated``.
    exposures: pd.DataFrame
    #: The new people's ratings of a random slice of their eligible services (the truth).
    slice: pd.DataFrame
    #: The new people as recorded (no needs or strengths unless ``recorded_needs``).
    new_people: list[Person]


def make_self_selected(
    world: World,
    *,
    seed: int = 0,
    shown: int = 40,
    slice_size: int = 16,
    popularity_weight: float = 1.0,
    rating_noise: float = 0.6,
    recorded_needs: bool = False,
) -> SelfSelectedWorld:
    """Re-log ``world``'s rated people under self-selection and rate a random slice for its
    new people. Deterministic for a given world and arguments.

    ``shown``: services the old tool listed per person (drawn with weights
    ``exp(popularity_weight * popularity)``); ``slice_size``: random services each new person
    rated; ``rating_noise``: the standard deviation of a rating around the true relevance.
    """
    rng = np.random.default_rng(seed + 7919)
    p, s = world._people, world._services
    ids = np.asarray(world.catalogue.ids(), dtype=object)
    n_rated = len(world.people)
    pop = np.exp(popularity_weight * (s.popularity - s.popularity.max()))
    leniency = rng.normal(0.0, 0.25, size=40)

    rows_p: list[np.ndarray] = []
    rows_s: list[np.ndarray] = []
    rows_r: list[np.ndarray] = []
    exp_p: list[np.ndarray] = []
    exp_s: list[np.ndarray] = []
    exp_prop: list[np.ndarray] = []
    exp_rated: list[np.ndarray] = []
    for start in range(0, n_rated, 500):
        idx = np.arange(start, min(start + 500, n_rated))
        rel = _relevance(p, s, world._taste, idx, at_day=None)
        elig = _eligible(p, s, idx, None)
        for r, i in enumerate(idx):
            pool = np.flatnonzero(elig[r])
            if len(pool) == 0:
                continue
            w = pop[pool] / pop[pool].sum()
            k = min(len(pool), shown)
            chosen_at = rng.choice(len(pool), size=k, replace=False, p=w)
            chosen = pool[chosen_at]
            # inclusion probability of k draws without replacement, approximated as with
            propensity = np.clip(1.0 - (1.0 - w[chosen_at]) ** k, 1e-6, 1.0)
            rating = _rate(rng, rel[r, chosen], rating_noise, leniency[i % len(leniency)])
            keep = rng.random(k) < np.asarray(RATE_GIVEN_RATING)[rating - 1]
            exp_p.append(np.full(k, i))
            exp_s.append(chosen)
            exp_prop.append(propensity)
            exp_rated.append(keep)
            rows_p.append(np.full(int(keep.sum()), i))
            rows_s.append(chosen[keep])
            rows_r.append(rating[keep])
    recorded = [_as_recorded(x, recorded_needs) for x in p.recorded]
    ratings = _frame(
        world, recorded, np.concatenate(rows_p), np.concatenate(rows_s), np.concatenate(rows_r)
    )
    exposures = pd.DataFrame(
        {
            "person_id": p.reference[np.concatenate(exp_p)].astype(str),
            "service_id": ids[np.concatenate(exp_s)],
            "propensity": np.concatenate(exp_prop),
            "rated": np.concatenate(exp_rated),
        }
    )

    new = np.arange(n_rated, n_rated + len(world.new_people))
    sl_p: list[np.ndarray] = []
    sl_s: list[np.ndarray] = []
    sl_r: list[np.ndarray] = []
    elig_new = _eligible(p, s, new, None) if len(new) else np.zeros((0, len(ids)), dtype=bool)
    for r, i in enumerate(new):
        pool = np.flatnonzero(elig_new[r])
        k = min(len(pool), slice_size)
        if k == 0:
            continue
        chosen = rng.choice(pool, size=k, replace=False)
        truth = world.new_relevance[r, chosen]
        sl_p.append(np.full(k, i))
        sl_s.append(chosen)
        sl_r.append(_rate(rng, truth, rating_noise, leniency[i % len(leniency)]))
    empty = np.zeros(0, dtype=np.int64)
    the_slice = _frame(
        world,
        recorded,
        np.concatenate(sl_p) if sl_p else empty,
        np.concatenate(sl_s) if sl_s else empty,
        np.concatenate(sl_r) if sl_r else empty,
    )
    new_people = [recorded[i] for i in new]
    return SelfSelectedWorld(world, ratings, exposures, the_slice, new_people)


def _as_recorded(person: Person, with_needs: bool) -> Person:
    return person if with_needs else person.model_copy(update={"needs": [], "strengths": []})


def _rate(rng: np.random.Generator, truth: np.ndarray, noise: float, leniency: float) -> np.ndarray:
    """Ratings 1 to 5 around the true expected rating."""
    score = truth + rng.normal(0.0, noise, size=len(truth)) + leniency
    return np.clip(np.rint(score), 1, 5).astype(np.int64)


def _frame(
    world: World, people: list[Person], pi: np.ndarray, si: np.ndarray, rating: np.ndarray
) -> pd.DataFrame:
    """A training frame (``TRAINING_COLUMNS``) of the world's people ``pi`` (as recorded in
    ``people``) rating ``si``."""
    p = world._people
    ids = np.asarray(world.catalogue.ids(), dtype=object)
    recorded = [people[i] for i in pi]
    located = np.array([x.has_location for x in recorded], dtype=bool)
    when = LOG_END - pd.to_timedelta(np.arange(len(pi))[::-1] % 500, unit="h")
    frame = pd.DataFrame(
        {
            "person_id": p.reference[pi].astype(str),
            "service_id": ids[si],
            "rating": rating.astype(np.int64),
            "practitioner_id": [f"syn-prac-{i % 40 + 1:03d}" for i in pi],
            "rated_at": pd.DatetimeIndex(when),
            "age": p.age[pi].astype(float),
            "sex": p.sex[pi].astype(str),
            "needs": [tuple(x.needs) for x in recorded],
            "strengths": [tuple(x.strengths) for x in recorded],
            # as the world's own log: located by the recorded place (a postcode's centroid
            # is where the world put its person)
            "latitude": np.where(located, p.lat[pi], np.nan),
            "longitude": np.where(located, p.lon[pi], np.nan),
        }
    )
    return frame[list(TRAINING_COLUMNS)]
