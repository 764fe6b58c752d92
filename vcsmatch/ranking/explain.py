"""Reasons in words, taken from what actually drove each score.

The blend is linear in its features, so a feature's contribution to a suggestion's log-odds is
exact. Contributions are summed per part (needs, strengths, distance, delivery,
collaborative, prior) and each part that pushed the score up becomes a reason, worded from the
facts behind it: which of the person's needs the service meets, how far it is, which group of
similar people practitioners rated it relevant for and on how many ratings. A new service
says so. No part that did not help is quoted as a reason.

A suggestion that meets none of the person's needs leads with an ``off_need`` reason saying so
and why it is there all the same: an interest of theirs it matches, practitioners' ratings of
it for people like them, or (failing both) its ratings overall or its nearness.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from vcsmatch.catalogue.model import DELIVERY_MODES
from vcsmatch.ranking.collaborative import GroupStats, describe_group, values_in_rows
from vcsmatch.ranking.content import ContentScorer, PersonVector
from vcsmatch.ranking.need_evidence import NeedEvidence
from vcsmatch.ranking.parts import default_parts
from vcsmatch.ranking.priors import ServicePriors
from vcsmatch.ranking.result import Reason, Suggestion
from vcsmatch.taxonomy import Taxonomy

#: Which reason each blend feature's contribution counts toward (``parts.default_parts``).
FEATURE_REASON: dict[str, str] = {
    f: kind
    for _, part in default_parts()
    if not isinstance(part, str)
    for f, kind in part.reason_kinds.items()
}

_MODE_WORDS = {
    "in_person": "in person",
    "online": "online",
    "phone": "by phone",
    "home_visit": "visits at home",
}


def format_distance(km: float) -> str:
    """``1.23`` -> ``1.2 km away``; under 100 m reads as ``under 0.1 km away``."""
    if km < 0.1:
        return "under 0.1 km away"
    return f"{km:.1f} km away" if km < 10 else f"{km:.0f} km away"


@dataclass
class Explainer:
    """Turns one scored candidate into a ``Suggestion`` with reasons."""

    taxonomy: Taxonomy
    content: ContentScorer
    groups: GroupStats
    priors: ServicePriors
    group_keys: Sequence[str]
    service_ids: np.ndarray
    needs: NeedEvidence | None = None

    def suggestion(
        self,
        *,
        rank: int,
        row: int,
        score: float,
        distance_km: float,
        feature_names: Sequence[str],
        features: np.ndarray,
        contributions: np.ndarray,
        relevance: float,
        person_vector: PersonVector,
        person_groups: Sequence[int],
        eligibility: tuple[str, ...],
        group_counts: tuple[np.ndarray, np.ndarray] | None = None,
    ) -> Suggestion:
        """The suggestion at ``rank`` for service ``row``, its reasons sorted by weight."""
        by_part: dict[str, float] = {}
        for name, c in zip(feature_names, contributions, strict=True):
            part = FEATURE_REASON[name]
            by_part[part] = by_part.get(part, 0.0) + float(c)
        reasons: list[Reason] = []
        for part, weight in by_part.items():
            if weight > 0:
                reasons.extend(
                    self._words(
                        part, weight, row, distance_km, person_vector, person_groups, group_counts
                    )
                )
        if not reasons:  # nothing above average: quote what mattered most that has words
            for part in sorted(by_part, key=lambda p: -by_part[p]):
                reasons = self._words(
                    part,
                    by_part[part],
                    row,
                    distance_km,
                    person_vector,
                    person_groups,
                    group_counts,
                )
                if reasons:
                    break
        if self.priors.n_ratings[row] == 0:
            content = sum(by_part.get(p, 0.0) for p in ("need", "activity", "distance", "delivery"))
            reasons.append(
                Reason(
                    "new_service",
                    "not rated by practitioners yet: ranked on how well it fits",
                    max(content, 0.0),
                )
            )
        reasons.sort(key=lambda r: -r.weight)
        if person_vector.needs.any() and not self.content.needs_met(person_vector, row):
            why = self._off_need_reason(
                row, distance_km, person_vector, person_groups, group_counts
            )
            reasons.insert(0, why)
        components = {n: float(v) for n, v in zip(feature_names, features, strict=True)}
        components["relevance"] = relevance
        return Suggestion(
            service_id=str(self.service_ids[row]),
            score=score,
            rank=rank,
            distance_km=None if np.isnan(distance_km) else float(distance_km),
            reasons=tuple(reasons),
            eligibility=eligibility,
            components=components,
        )

    def _words(
        self,
        part: str,
        weight: float,
        row: int,
        distance_km: float,
        pv: PersonVector,
        person_groups: Sequence[int],
        group_counts: tuple[np.ndarray, np.ndarray] | None = None,
    ) -> list[Reason]:
        """One part's contribution as reasons (a part may give several, sharing its weight)."""
        if part == "need":
            met = self.content.needs_met(pv, row)
            if not met:
                return []
            share = weight / len(met)
            return [
                Reason(
                    "need",
                    f"meets need: {self.taxonomy.label('need', code).lower()}"
                    if w >= 1.0
                    else f"may meet need: {self.taxonomy.label('need', code).lower()} "
                    "(from its description)",
                    share,
                )
                for code, w in met
            ]
        if part == "activity":
            matched = self.content.strengths_matched(pv, row)
            if not matched:
                return []
            share = weight / len(matched)
            return [
                Reason(
                    "activity",
                    f"matches interest: {self.taxonomy.label('strength', c).lower()}",
                    share,
                )
                for c, _ in matched
            ]
        if part == "distance":
            if not np.isnan(distance_km):
                return [Reason("distance", format_distance(float(distance_km)), weight)]
            return [Reason("distance", "no travel needed", weight)]
        if part == "delivery":
            modes = [
                _MODE_WORDS[m]
                for j, m in enumerate(DELIVERY_MODES)
                if self.content.modes_[row, j] > 0 and pv.mode_fit[j] >= 0.8
            ]
            if not modes:
                return []
            return [Reason("delivery", "delivered " + " or ".join(modes), weight)]
        if part == "collaborative":
            return [
                Reason("collaborative", self._group_words(row, person_groups, group_counts), weight)
            ]
        if part == "need_evidence":
            return self._need_evidence_words(row, pv, weight)
        if part == "prior":
            n = int(self.priors.n_ratings[row])
            if n == 0:
                return []
            share = self.priors.n_relevant[row] / n
            return [
                Reason(
                    "prior",
                    f"rated relevant in {share:.0%} of {n} practitioner rating"
                    f"{'s' if n != 1 else ''}",
                    weight,
                )
            ]
        return []

    def _off_need_reason(
        self,
        row: int,
        distance_km: float,
        pv: PersonVector,
        person_groups: Sequence[int],
        group_counts: tuple[np.ndarray, np.ndarray] | None,
    ) -> Reason:
        """Why a service that meets none of the person's needs is suggested, from the
        strongest grounds there are: a matched interest, ratings for similar people, ratings
        overall, and last how near it is."""
        lead = "meets none of the needs recorded"
        matched = self.content.strengths_matched(pv, row)
        if matched:
            words = ", ".join(self.taxonomy.label("strength", c).lower() for c, _ in matched)
            return Reason("off_need", f"{lead}; suggested for an interest: {words}", 0.0)
        best = self._best_group(person_groups, group_counts, row)
        if best is not None:
            liked, rated, g = best
            who = describe_group(self.group_keys[g], self.taxonomy)
            return Reason(
                "off_need",
                f"{lead}; practitioners rated it relevant for {who} ({liked} of {rated} "
                f"rating{'s' if rated != 1 else ''})",
                0.0,
            )
        n = int(self.priors.n_ratings[row])
        if n:
            share = self.priors.n_relevant[row] / n
            return Reason(
                "off_need",
                f"{lead}; suggested on practitioners' ratings of it ({share:.0%} of {n} "
                "rated it relevant)",
                0.0,
            )
        where = "needs no travel" if np.isnan(distance_km) else format_distance(float(distance_km))
        return Reason("off_need", f"{lead}; suggested only because it {where}", 0.0)

    def _need_evidence_words(self, row: int, pv: PersonVector, weight: float) -> list[Reason]:
        """The person's need for which practitioners rated this service most above its usual."""
        if self.needs is None:
            return []
        cols = np.flatnonzero(pv.needs)
        if not len(cols):
            return []
        scores = self.needs.score_[row, cols]
        best = int(np.argmax(scores))
        n = self.needs.count(row, int(cols[best]))
        if scores[best] <= 0 or n == 0:
            return []
        code = list(self.content.need_col_)[int(cols[best])]
        return [
            Reason(
                "need_evidence",
                "rated relevant by practitioners for people with "
                f"{self.taxonomy.label('need', code).lower()} more than for others "
                f"({n} rating{'s' if n != 1 else ''})",
                weight,
            )
        ]

    def group_counts(
        self, person_groups: Sequence[int], rows: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """(raters, relevant raters) of the person's groups (rows) for services ``rows``
        (columns): one sparse slice per person, not one per suggestion."""
        if not person_groups:
            empty = np.zeros((0, len(rows)))
            return empty, empty
        rated = values_in_rows(self.groups.n_rated_, person_groups, rows)
        liked = values_in_rows(self.groups.n_liked_, person_groups, rows)
        return rated, liked

    def _best_group(
        self,
        person_groups: Sequence[int],
        group_counts: tuple[np.ndarray, np.ndarray] | None,
        row: int,
    ) -> tuple[int, int, int] | None:
        """``(liked, rated, group)`` of the most specific of the person's groups that rated
        this service relevant, or ``None``."""
        if not person_groups:
            return None
        if group_counts is None:
            rated_all, liked_all = self.group_counts(person_groups, np.array([row]))
            group_counts = (rated_all[:, 0], liked_all[:, 0])
        rated_col, liked_col = group_counts
        best: tuple[int, int, int, int] | None = None
        for g, rated, liked in zip(
            np.asarray(person_groups), rated_col.astype(int), liked_col.astype(int), strict=True
        ):
            if rated == 0 or liked == 0:
                continue
            key = self.group_keys[g]
            specific = 2 if key.startswith("band-need") else 1 if key.startswith("need") else 0
            cand = (specific, int(liked), int(rated), int(g))
            if best is None or cand[:3] > best[:3]:
                best = cand
        return None if best is None else best[1:]

    def _group_words(
        self,
        row: int,
        person_groups: Sequence[int],
        group_counts: tuple[np.ndarray, np.ndarray] | None = None,
    ) -> str:
        """The most specific of the person's groups with ratings of this service, in words."""
        best = self._best_group(person_groups, group_counts, row)
        if best is None:
            return "relevant for people with similar needs (learned from practitioner ratings)"
        liked, rated, g = best
        who = describe_group(self.group_keys[g], self.taxonomy)
        return (
            f"rated relevant by practitioners for {who} ({liked} of {rated} "
            f"rating{'s' if rated != 1 else ''})"
        )
