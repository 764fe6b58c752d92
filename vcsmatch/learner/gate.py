"""The promotion gate: a retrained model replaces the serving one only when it is not worse
than it beyond the noise of the comparison.

Both models are judged on the same evidence, which neither trained on when the split is right:
the newest ratings, held out by time (``split_newest``), and, where the exposure log holds the
held-out requests, an off-policy estimate of what each model would have shown
(``vcsmatch.evaluation.off_policy.snips``). Two figures:

- ``rated_ndcg``: per held-out person, NDCG@k of the model's order of the services they rated
  (the order among what was shown, which the logging policy cannot flatter); the comparison is
  paired per person, with the standard error of the mean difference;
- ``snips``: the mean gain of the items each model would have put in the logged requests' lists,
  weighted by inverse propensity; standard errors added in quadrature.

"Worse beyond noise" means the mean difference is below ``-z`` standard errors (``z`` = 2).
A figure with too little evidence to compare is reported and does not block.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from vcsmatch.evaluation.evaluate import people_from_frame
from vcsmatch.evaluation.metrics import gain, ndcg_at_k
from vcsmatch.evaluation.off_policy import Estimate, snips_of_policy
from vcsmatch.features.person import Person

#: Standard errors a candidate may fall below the serving model before it is kept out.
Z = 2.0
#: Fewest held-out people (with something relevant) a paired NDCG comparison needs.
MIN_PEOPLE = 10
#: Fewest logged items the candidate's policy must share with the log for SNIPS to count.
MIN_SUPPORT = 20


def split_newest(
    frame: pd.DataFrame, *, new_after_id: int, share: float
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``(train, held_out)``: the newest people held out by time, whole people at a time.

    Held out: the people whose first rating came last, up to ``share`` of the ratings and at
    most half of the new ones, and only people whose ratings are all newer than
    ``new_after_id`` (what the serving model learned from), so the serving model never saw
    what it is judged on and the candidate still learns from half of what is new.
    """
    if len(frame) == 0:
        return frame, frame
    first = frame.groupby("person_id", sort=False)["rating_id"].min()
    eligible = first[first > new_after_id].sort_values(ascending=False)
    per_person = frame.groupby("person_id", sort=False).size()
    n_new = int((frame["rating_id"] > new_after_id).sum())
    budget = min(share * len(frame), 0.5 * n_new)
    held: list[Any] = []
    total = 0
    for pid in eligible.index:
        n = int(per_person[pid])
        if total + n > budget:
            break
        held.append(pid)
        total += n
    mask = frame["person_id"].isin(held)
    return frame[~mask].reset_index(drop=True), frame[mask].reset_index(drop=True)


@dataclass
class Figures:
    """One model's figures on the held-out evidence."""

    rated_ndcg: float = math.nan
    n_people: int = 0
    snips: Estimate = field(default_factory=lambda: Estimate(math.nan, math.nan, 0))

    def to_dict(self) -> dict[str, Any]:
        return {
            "rated_ndcg": _finite(self.rated_ndcg),
            "held_out_people": self.n_people,
            "snips": {k: _finite(v) for k, v in self.snips.to_dict().items()},
        }


@dataclass
class Decision:
    """Whether to promote, why, and both models' figures."""

    promote: bool
    reason: str
    candidate: Figures
    serving: Figures | None
    comparisons: dict[str, dict[str, float]] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "promote": self.promote,
            "reason": self.reason,
            "candidate": self.candidate.to_dict(),
            "serving": None if self.serving is None else self.serving.to_dict(),
            "comparisons": {
                name: {k: _finite(v) for k, v in c.items()} for name, c in self.comparisons.items()
            },
        }


def _finite(value: float) -> float | None:
    return None if value is None or not math.isfinite(float(value)) else float(value)


def _per_person_ndcg(
    model: Any, people: Sequence[Person], gains: Mapping[str, Mapping[str, float]], k: int
) -> np.ndarray:
    """NDCG@k of the model's order of each person's rated services (NaN: nothing relevant).
    Services the model does not rank (not candidates) go last."""
    out = np.full(len(people), np.nan)
    for i, person in enumerate(people):
        rated = gains.get(person.reference or "", {})
        ids = list(rated)
        scores = model.score_services(person, ids)
        order = np.lexsort((np.arange(len(ids)), -np.nan_to_num(scores, nan=-np.inf)))
        value = ndcg_at_k([ids[j] for j in order], rated, k)
        if value is not None:
            out[i] = value
    return out


def _rated_gains(held_out: pd.DataFrame) -> dict[str, dict[str, float]]:
    frame = held_out.sort_values("rating_id", kind="stable")
    out: dict[str, dict[str, float]] = {}
    for pid, sid, rating in zip(
        frame["person_id"].astype(str),
        frame["service_id"].astype(str),
        frame["rating"],
        strict=True,
    ):
        out.setdefault(pid, {})[sid] = float(gain(rating))
    return out


def logged_outcomes(held_out: pd.DataFrame, exposures: pd.DataFrame) -> pd.DataFrame:
    """Rated exposures of the held-out requests: ``request_id, service_id, propensity, gain``
    (the latest rating of a shown service wins)."""
    rated = held_out.dropna(subset=["request_id"]).sort_values("rating_id", kind="stable")
    rated = rated.drop_duplicates(["request_id", "service_id"], keep="last")
    merged = exposures.merge(
        rated[["request_id", "service_id", "rating"]], on=["request_id", "service_id"]
    )
    merged["gain"] = gain(merged["rating"].to_numpy(dtype=float))
    return merged[["request_id", "service_id", "propensity", "gain"]]


def figures(
    model: Any,
    held_out: pd.DataFrame,
    logged: pd.DataFrame,
    *,
    k: int = 10,
    people: Sequence[Person] | None = None,
) -> tuple[Figures, np.ndarray]:
    """A model's figures on the held-out ratings and the logged outcomes, and its per-person
    NDCG (for the paired comparison)."""
    people = people if people is not None else people_from_frame(held_out)
    per_person = _per_person_ndcg(model, people, _rated_gains(held_out), k)
    fig = Figures(
        rated_ndcg=float(np.nanmean(per_person)) if np.isfinite(per_person).any() else math.nan,
        n_people=int(np.isfinite(per_person).sum()),
    )
    if len(logged):
        by_request = held_out.dropna(subset=["request_id"]).drop_duplicates("request_id")
        person_of = dict(
            zip(by_request["request_id"], people_from_request_rows(by_request), strict=True)
        )
        k_of = logged.groupby("request_id").size().to_dict()

        def top(request_id: str) -> list[str]:
            person = person_of.get(request_id)
            if person is None:
                return []
            return [s.service_id for s in model.recommend(person, top_k=int(k_of[request_id]))]

        fig.snips = snips_of_policy(logged, top)
    return fig, per_person


def people_from_request_rows(rows: pd.DataFrame) -> list[Person]:
    """One ``Person`` per row (a rating row's minimised features)."""
    frame = rows.assign(person_id=[f"row-{i}" for i in range(len(rows))])
    return people_from_frame(frame)


def decide(
    candidate: Any,
    serving: Any | None,
    held_out: pd.DataFrame,
    exposures: pd.DataFrame,
    *,
    k: int = 10,
) -> Decision:
    """Compare ``candidate`` with ``serving`` on the same held-out evidence and decide."""
    people = people_from_frame(held_out)
    logged = logged_outcomes(held_out, exposures) if len(exposures) else exposures
    cand, cand_pp = figures(candidate, held_out, logged, k=k, people=people)
    if serving is None:
        return Decision(True, "no model is serving", cand, None)
    serv, serv_pp = figures(serving, held_out, logged, k=k, people=people)
    decision = Decision(True, "", cand, serv)
    worse: list[str] = []
    notes: list[str] = []

    both = np.isfinite(cand_pp) & np.isfinite(serv_pp)
    if both.sum() >= MIN_PEOPLE:
        d = cand_pp[both] - serv_pp[both]
        mean, se = float(d.mean()), float(d.std(ddof=1) / math.sqrt(len(d)))
        decision.comparisons["rated_ndcg"] = {"difference": mean, "se": se, "n": float(len(d))}
        text = f"held-out NDCG@{k} {cand.rated_ndcg:.3f} vs {serv.rated_ndcg:.3f} ({len(d)} people)"
        (worse if mean < -Z * se else notes).append(text)
    else:
        notes.append(f"too few held-out people to compare NDCG ({int(both.sum())})")

    c, s = cand.snips, serv.snips
    if c.n >= MIN_SUPPORT and s.n >= MIN_SUPPORT:
        diff, se = c.value - s.value, math.hypot(c.se, s.se)
        decision.comparisons["snips"] = {"difference": diff, "se": se, "n": float(min(c.n, s.n))}
        text = f"off-policy gain {c.value:.3f} vs {s.value:.3f}"
        (worse if diff < -Z * se else notes).append(text)
    elif len(logged):
        notes.append(f"too little logged support for an off-policy estimate ({c.n} items)")

    if worse:
        decision.promote = False
        decision.reason = "worse than the serving model beyond noise: " + "; ".join(worse)
    else:
        decision.reason = "not worse than the serving model beyond noise: " + "; ".join(notes)
    return decision
