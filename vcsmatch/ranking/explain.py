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

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp

from vcsmatch.catalogue.model import DELIVERY_MODES
from vcsmatch.ranking.collaborative import GroupStats, describe_group, find_keys
from vcsmatch.ranking.content import ContentScorer, PersonVector
from vcsmatch.ranking.need_evidence import NeedEvidence
from vcsmatch.ranking.priors import ServicePriors
from vcsmatch.ranking.result import Reason, ReasonKind, Suggestion
from vcsmatch.taxonomy import Taxonomy

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


@dataclass(frozen=True)
class Shown:
    """The suggestions one person is shown, in rank order: catalogue rows, their reported
    scores, distances, blend features and contributions (``Blend.contributions``), the blend's
    relevance and the eligibility facts that passed."""

    rows: np.ndarray
    scores: np.ndarray
    distance_km: np.ndarray
    features: np.ndarray  # len(rows) x blend features
    contributions: np.ndarray  # len(rows) x blend features
    relevance: np.ndarray
    eligibility: Sequence[tuple[str, ...]]


@dataclass
class _Facts:
    """What the reasons of one person's shown rows quote, gathered for all rows at once (a
    few array operations per person, not per suggestion), as plain Python values per row."""

    has_needs: bool
    met: list[list[tuple[str, float]]]  # per row: (need code, weight) the service meets
    matched: list[list[str]]  # per row: the person's strengths among its activities
    modes: list[list[str]]  # per row: its delivery modes in words that suit the person
    evidence: list[tuple[str, int] | None]  # per row: need and ratings most above usual
    n_ratings: list[int]
    n_relevant: list[int]
    #: per row: (relevant raters, raters, group) of the most specific of the person's groups
    #: that rated it relevant, or None
    best_group: list[tuple[int, int, int] | None]


class _Entries:
    """Two CSR matrices' entries keyed ``row * width + column`` in one ascending array (the
    union of both patterns), so the values of both at a few rows and columns are one binary
    search, whatever the rows' lengths (a group of raters may have rated thousands of
    services)."""

    def __init__(self, a: sp.csr_matrix, b: sp.csr_matrix) -> None:
        self.width = np.int64(a.shape[1])
        keys_a, keys_b = self._keys(a), self._keys(b)
        self.keys = np.union1d(keys_a, keys_b)
        self.data = np.zeros((len(self.keys), 2))
        self.data[np.searchsorted(self.keys, keys_a), 0] = a.data
        self.data[np.searchsorted(self.keys, keys_b), 1] = b.data

    def _keys(self, m: sp.csr_matrix) -> np.ndarray:
        if not m.has_sorted_indices:
            m.sort_indices()
        owner = np.repeat(np.arange(m.shape[0], dtype=np.int64), np.diff(m.indptr))
        return owner * self.width + m.indices

    def values(self, rows: Sequence[int], cols: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``a[rows][:, cols]`` and ``b[rows][:, cols]`` as dense float arrays."""
        wanted = (np.asarray(rows, dtype=np.int64)[:, None] * self.width + cols).ravel()
        out = np.zeros((len(wanted), 2))
        if len(self.keys) and len(wanted):
            pos, found = find_keys(self.keys, wanted)
            out[found] = self.data[pos[found]]
        shape = (len(rows), len(cols))
        return out[:, 0].reshape(shape), out[:, 1].reshape(shape)


@dataclass
class Explainer:
    """Turns the scored candidates one person is shown into ``Suggestion``s with reasons;
    ``reason_kinds`` says which reason each blend feature counts toward (the parts')."""

    reason_kinds: Mapping[str, ReasonKind]
    taxonomy: Taxonomy
    content: ContentScorer
    groups: GroupStats
    priors: ServicePriors
    group_keys: Sequence[str]
    service_ids: np.ndarray
    needs: NeedEvidence | None = None
    _labels: dict[tuple[str, str], str] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )
    _who: dict[int, str] = field(default_factory=dict, init=False, repr=False, compare=False)
    _counts: _Entries | None = field(default=None, init=False, repr=False, compare=False)

    def suggestions(
        self,
        shown: Shown,
        *,
        feature_names: Sequence[str],
        person_vector: PersonVector,
        person_groups: Sequence[int],
    ) -> list[Suggestion]:
        """The suggestions of ``shown`` (ranked 1, 2, ...), each with its reasons sorted by
        weight."""
        facts = self._facts(shown.rows, person_vector, person_groups)
        kinds = [self.reason_kinds[name] for name in feature_names]
        parts = tuple(dict.fromkeys(kinds))  # each part once, in the order its features come
        has_other = "other" in parts
        features = shown.features.tolist()
        distances = shown.distance_km.tolist()
        relevance = shown.relevance.tolist()
        ids = self.service_ids[shown.rows].tolist()
        out = []
        for r, (contributions, score) in enumerate(
            zip(shown.contributions.tolist(), shown.scores.tolist(), strict=True)
        ):
            # each part's contributions summed in feature order, from 0.0 (as they come)
            by_part: dict[str, float] = dict.fromkeys(parts, 0.0)
            for kind, c in zip(kinds, contributions, strict=True):
                by_part[kind] += c
            others: list[str] = []  # features of kind "other" that pushed the score up
            if has_other:
                others = [
                    name
                    for name, kind, c in zip(feature_names, kinds, contributions, strict=True)
                    if kind == "other" and c > 0
                ]
            reasons = self._reasons(by_part, r, distances[r], facts, others)
            components = dict(zip(feature_names, features[r], strict=True))
            components["relevance"] = relevance[r]
            out.append(
                Suggestion(
                    service_id=str(ids[r]),
                    score=score,
                    rank=r + 1,
                    distance_km=None if math.isnan(distances[r]) else distances[r],
                    reasons=tuple(reasons),
                    eligibility=shown.eligibility[r],
                    components=components,
                )
            )
        return out

    def _reasons(
        self,
        by_part: dict[str, float],
        r: int,
        distance_km: float,
        facts: _Facts,
        others: Sequence[str] = (),
    ) -> list[Reason]:
        """Shown row ``r``'s reasons: each part that pushed its score up, in words (features
        of kind "other", a part's own without words here, by their names: ``others``)."""
        reasons: list[Reason] = []
        for part, weight in by_part.items():
            if weight > 0 and part == "other" and others:
                words = ", ".join(name.replace("_", " ") for name in others)
                reasons.append(Reason("other", f"scores well on {words}", weight))
            elif weight > 0:
                reasons.extend(self._words(part, weight, r, distance_km, facts))
        if not reasons:  # nothing above average: quote what mattered most that has words
            for part in sorted(by_part, key=lambda p: -by_part[p]):
                reasons = self._words(part, by_part[part], r, distance_km, facts)
                if reasons:
                    break
        if facts.n_ratings[r] == 0:
            content = sum(by_part.get(p, 0.0) for p in ("need", "activity", "distance", "delivery"))
            reasons.append(
                Reason(
                    "new_service",
                    "not rated by practitioners yet: ranked on how well it fits",
                    max(content, 0.0),
                )
            )
        reasons.sort(key=lambda reason: -reason.weight)
        if facts.has_needs and not facts.met[r]:
            reasons.insert(0, self._off_need_reason(r, distance_km, facts))
        return reasons

    def _facts(self, rows: np.ndarray, pv: PersonVector, person_groups: Sequence[int]) -> _Facts:
        need_cols = np.flatnonzero(pv.needs)
        need_codes = list(self.content.need_col_)
        met_w = self.content.need_matrix_[rows[:, None], need_cols].tolist()
        met = [
            [(need_codes[j], w) for j, w in zip(need_cols.tolist(), ws, strict=True) if w > 0]
            for ws in met_w
        ]
        strength_cols = np.flatnonzero(pv.strengths)
        strength_codes = list(self.content.strength_col_)
        liked_w = (self.content.activity_matrix_[rows[:, None], strength_cols] > 0).tolist()
        matched = [
            [strength_codes[j] for j, ok in zip(strength_cols.tolist(), oks, strict=True) if ok]
            for oks in liked_w
        ]
        suits = (self.content.modes_[rows] > 0) & (pv.mode_fit >= 0.8)
        modes = [
            [_MODE_WORDS[m] for m, ok in zip(DELIVERY_MODES, oks, strict=True) if ok]
            for oks in suits.tolist()
        ]
        evidence: list[tuple[str, int] | None] = [None] * len(rows)
        if self.needs is not None and len(need_cols):
            scores = self.needs.score_[rows[:, None], need_cols]
            best = np.argmax(scores, axis=1)
            top = scores[np.arange(len(rows)), best]
            n = self.needs.n_ratings_[rows, need_cols[best]]
            evidence = [
                None if s <= 0 or count == 0 else (need_codes[col], count)
                for s, count, col in zip(
                    top.tolist(), n.tolist(), need_cols[best].tolist(), strict=True
                )
            ]
        return _Facts(
            has_needs=bool(pv.needs.any()),
            met=met,
            matched=matched,
            modes=modes,
            evidence=evidence,
            n_ratings=self.priors.n_ratings[rows].tolist(),
            n_relevant=self.priors.n_relevant[rows].tolist(),
            best_group=self._best_groups(rows, person_groups),
        )

    def _label(self, kind: str, code: str) -> str:
        """A need's or strength's label in lower case (looked up once per code)."""
        key = (kind, code)
        if key not in self._labels:
            self._labels[key] = self.taxonomy.label(kind, code).lower()  # type: ignore[arg-type]
        return self._labels[key]

    def _describe(self, group: int) -> str:
        """A group in words (worded once per group)."""
        if group not in self._who:
            self._who[group] = describe_group(self.group_keys[group], self.taxonomy)
        return self._who[group]

    def _words(
        self, part: str, weight: float, r: int, distance_km: float, facts: _Facts
    ) -> list[Reason]:
        """One part's contribution as reasons (a part may give several, sharing its weight)."""
        if part == "need":
            met = facts.met[r]
            if not met:
                return []
            share = weight / len(met)
            return [
                Reason(
                    "need",
                    f"meets need: {self._label('need', code)}"
                    if w >= 1.0
                    else f"may meet need: {self._label('need', code)} (from its description)",
                    share,
                )
                for code, w in met
            ]
        if part == "activity":
            matched = facts.matched[r]
            if not matched:
                return []
            share = weight / len(matched)
            return [
                Reason("activity", f"matches interest: {self._label('strength', c)}", share)
                for c in matched
            ]
        if part == "distance":
            if not math.isnan(distance_km):
                return [Reason("distance", format_distance(distance_km), weight)]
            return [Reason("distance", "no travel needed", weight)]
        if part == "delivery":
            if not facts.modes[r]:
                return []
            return [Reason("delivery", "delivered " + " or ".join(facts.modes[r]), weight)]
        if part == "collaborative":
            return [Reason("collaborative", self._group_words(r, facts), weight)]
        if part == "need_evidence":
            return self._need_evidence_words(r, facts, weight)
        if part == "prior":
            n = facts.n_ratings[r]
            if n == 0:
                return []
            share = facts.n_relevant[r] / n
            return [
                Reason(
                    "prior",
                    f"rated relevant in {share:.0%} of {n} practitioner rating"
                    f"{'s' if n != 1 else ''}",
                    weight,
                )
            ]
        return []

    def _off_need_reason(self, r: int, distance_km: float, facts: _Facts) -> Reason:
        """Why a service that meets none of the person's needs is suggested, from the
        strongest grounds there are: a matched interest, ratings for similar people, ratings
        overall, and last how near it is."""
        lead = "meets none of the needs recorded"
        if facts.matched[r]:
            words = ", ".join(self._label("strength", c) for c in facts.matched[r])
            return Reason("off_need", f"{lead}; suggested for an interest: {words}", 0.0)
        best = facts.best_group[r]
        if best is not None:
            liked, rated, g = best
            return Reason(
                "off_need",
                f"{lead}; practitioners rated it relevant for {self._describe(g)} ({liked} of "
                f"{rated} rating{'s' if rated != 1 else ''})",
                0.0,
            )
        n = facts.n_ratings[r]
        if n:
            share = facts.n_relevant[r] / n
            return Reason(
                "off_need",
                f"{lead}; suggested on practitioners' ratings of it ({share:.0%} of {n} "
                "rated it relevant)",
                0.0,
            )
        where = "needs no travel" if math.isnan(distance_km) else format_distance(distance_km)
        return Reason("off_need", f"{lead}; suggested only because it {where}", 0.0)

    def _need_evidence_words(self, r: int, facts: _Facts, weight: float) -> list[Reason]:
        """The person's need for which practitioners rated this service most above its usual."""
        evidence = facts.evidence[r]
        if evidence is None:
            return []
        code, n = evidence
        return [
            Reason(
                "need_evidence",
                "rated relevant by practitioners for people with "
                f"{self._label('need', code)} more than for others "
                f"({n} rating{'s' if n != 1 else ''})",
                weight,
            )
        ]

    def _best_groups(
        self, rows: np.ndarray, person_groups: Sequence[int]
    ) -> list[tuple[int, int, int] | None]:
        """Per row, ``(liked, rated, group)`` of the most specific of the person's groups
        that rated it relevant (then the most relevant raters, the most raters, the first
        group), or ``None``: one sparse gather and one sort for all rows."""
        if not len(person_groups):
            return [None] * len(rows)
        if self._counts is None:
            self._counts = _Entries(self.groups.n_rated_, self.groups.n_liked_)
        rated, liked = (v.astype(int) for v in self._counts.values(person_groups, rows))
        keys = [self.group_keys[g] for g in person_groups]
        specific = np.array(
            [2 if k.startswith("band-need") else 1 if k.startswith("need") else 0 for k in keys]
        )
        useful = (rated > 0) & (liked > 0)
        spec = np.broadcast_to(specific[:, None], rated.shape)
        # groups x rows; lexsort is stable and its last key comes first
        first = np.lexsort((-rated, -liked, -spec, ~useful), axis=0)[0]
        cols = np.arange(len(rows))
        return [
            (int(lk), int(rt), int(person_groups[g])) if ok else None
            for g, lk, rt, ok in zip(
                first.tolist(),
                liked[first, cols].tolist(),
                rated[first, cols].tolist(),
                useful[first, cols].tolist(),
                strict=True,
            )
        ]

    def _group_words(self, r: int, facts: _Facts) -> str:
        """The most specific of the person's groups with ratings of this service, in words."""
        best = facts.best_group[r]
        if best is None:
            return "relevant for people with similar needs (learned from practitioner ratings)"
        liked, rated, g = best
        return (
            f"rated relevant by practitioners for {self._describe(g)} ({liked} of {rated} "
            f"rating{'s' if rated != 1 else ''})"
        )
