"""Which services a person could use at all: eligible, and able to reach them.

A service is a candidate when the eligibility filter passes it (hard rules: active, age, sex,
declared area), it is not a specialist service for a need the person does not have
(``vcsmatch.features.specialist``: domestic abuse, alcohol and drugs), AND it reaches the
person:

- in person: a location within the person's travel radius (spatial index query);
- online or phone: always (no travel);
- home visit: a declared service area covering the person's home (the eligibility filter tests
  the area); with no declared area, a base location within the radius, or no base at all
  (then we take it to visit anywhere, as national home-visiting schemes do).

A person with no known location gets online and phone services, and every home-visit service,
since none can be ruled out (the eligibility filter keeps one with a declared area with a
"home not known: check" fact, so the practitioner confirms). In-person services need a
location to be reached.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from vcsmatch.catalogue.model import DELIVERY_MODES, Catalogue
from vcsmatch.features.eligibility import EligibilityFilter, EligibilityResult
from vcsmatch.features.geo import EARTH_RADIUS_KM, SpatialIndex, located_service_points
from vcsmatch.features.person import Person
from vcsmatch.features.specialist import SpecialistServices

_IN_PERSON, _ONLINE, _PHONE, _HOME = (
    DELIVERY_MODES.index(m) for m in ("in_person", "online", "phone", "home_visit")
)


@dataclass(frozen=True)
class Candidates:
    """The candidate rows of one person, and what was learned while finding them."""

    rows: np.ndarray  # service rows (catalogue order), ascending
    distance_km: np.ndarray  # to the nearest location, NaN where not located or not in range
    eligibility: EligibilityResult


class CandidateFinder:
    """Fit on a catalogue (and its ``ServiceFeatures`` modes); ``find`` one person's candidates."""

    def fit(self, catalogue: Catalogue, modes: np.ndarray) -> CandidateFinder:
        """Index the locations of services reached by travel or visiting from a base."""
        services = list(catalogue)
        n = len(services)
        modes = np.asarray(modes, dtype=bool).reshape(n, len(DELIVERY_MODES))
        self.n_services_ = n
        self.eligibility_ = EligibilityFilter().fit(services)
        self.specialist_ = SpecialistServices().fit(services)
        declared = self.eligibility_.areas_.declared_
        self.remote_ = modes[:, _ONLINE] | modes[:, _PHONE]
        self.home_visit_ = modes[:, _HOME]
        self.home_area_ = modes[:, _HOME] & declared
        home_free = modes[:, _HOME] & ~declared
        lats, lons, owners = located_service_points(services)
        located = np.zeros(n, dtype=bool)
        located[owners] = True
        self.home_anywhere_ = home_free & ~located
        # what reaches a located home whatever its distance (``_reach``), derived once
        self._reach_anywhere = self.remote_ | self.home_area_ | self.home_anywhere_
        # travel: in person; visit from a base: home visits with no area but a base location
        self.by_radius_ = modes[:, _IN_PERSON] | home_free
        keep = self.by_radius_[owners] if len(owners) else np.zeros(0, dtype=bool)
        self.index_ = SpatialIndex().fit(lats[keep], lons[keep], owners[keep])
        return self

    def find(
        self,
        person: Person,
        location: tuple[float, float] | None,
        radius_km: float,
        max_nearby: int | None = None,
    ) -> Candidates:
        """Eligible services that reach ``person`` living at ``location`` (or nowhere known).

        ``max_nearby`` caps the services reached by travel at the nearest so many within the
        radius (a dense city has tens of thousands; remote services always qualify).
        """
        if location is None:
            return self._assemble(person, None, np.zeros(0, dtype=np.intp), np.zeros(0))
        if max_nearby is not None and self.index_.n_points_ > max_nearby:
            rows, km = self.index_.nearest(location[0], location[1], k=max_nearby)
            within = km <= radius_km
            rows, km = rows[within], km[within]
        else:
            rows, km = self.index_.query_radius(
                location[0], location[1], radius_km, nearest_first=False
            )
        return self._assemble(person, location, rows, km)

    def find_many(
        self,
        people: Sequence[Person],
        locations: Sequence[tuple[float, float] | None],
        radius_km: float,
    ) -> list[Candidates]:
        """``find`` for each person (same results), with one spatial query for all the located
        ones: training asks this for thousands of people, where per-call overhead dominated."""
        hits = self._hits_many(locations, radius_km)
        none = (np.zeros(0, dtype=np.intp), np.zeros(0))
        return [
            self._assemble(person, loc, *hits.get(i, none))
            for i, (person, loc) in enumerate(zip(people, locations, strict=True))
        ]

    def count_meeting(
        self,
        people: Sequence[Person],
        locations: Sequence[tuple[float, float] | None],
        radius_km: float,
        meets: Mapping[str, np.ndarray],
    ) -> list[dict[str, int]]:
        """Per person, for each of their needs in ``meets`` (a need: per service, whether it
        meets it), how many of their ``find`` candidates meet it: the same counts, without
        building each person's candidates. Where a service reaches and which areas contain a
        home are worked out once per distinct location (one spatial query for all), the age
        and sex rules once per distinct age and sex: a request log holds thousands of
        requests from far fewer places and ages (the gaps insight)."""
        places = list(dict.fromkeys(locations))
        hits = self._hits_many(places, radius_km)
        none = (np.zeros(0, dtype=np.intp), np.zeros(0))
        nobody = Person()
        at: dict[tuple[float, float] | None, np.ndarray] = {}
        for i, loc in enumerate(places):
            rows = hits.get(i, none)[0]
            at[loc] = self.eligibility_.check(nobody, loc).eligible & self._reach(loc, rows)
        ruled: dict[tuple[object, ...], np.ndarray] = {}
        allowed: dict[frozenset[str], np.ndarray] = {}
        out: list[dict[str, int]] = []
        for person, loc in zip(people, locations, strict=True):
            who = (person.age, person.age_band, person.sex)
            if who not in ruled:
                alike = Person(age=person.age, age_band=person.age_band, sex=person.sex)
                ruled[who] = self.eligibility_.check(alike, None).eligible
            needs = frozenset(person.needs)
            if needs not in allowed:
                allowed[needs] = self.specialist_.allowed(needs)
            keep = at[loc] & ruled[who] & allowed[needs]
            out.append(
                {n: int(np.count_nonzero(keep & meets[n])) for n in person.needs if n in meets}
            )
        return out

    def _hits_many(
        self, locations: Sequence[tuple[float, float] | None], radius_km: float
    ) -> dict[int, tuple[np.ndarray, np.ndarray]]:
        """Position in ``locations`` -> (rows, km) reached by travel, one query for all."""
        index = self.index_
        located = [i for i, loc in enumerate(locations) if loc is not None]
        hits: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        if located and index.tree_ is not None:
            points = np.radians(np.array([locations[i] for i in located], dtype=np.float64))
            ind, dist = index.tree_.query_radius(
                points, r=radius_km / EARTH_RADIUS_KM, return_distance=True, sort_results=True
            )
            for k, i in enumerate(located):
                hits[i] = index._collapse(ind[k], dist[k] * EARTH_RADIUS_KM)
        return hits

    def _reach(self, location: tuple[float, float] | None, rows: np.ndarray) -> np.ndarray:
        """Per service: whether it reaches a home at ``location`` (``rows``: by travel)."""
        if location is None:  # cannot rule out any home visit: the practitioner checks
            return self.remote_ | self.home_visit_
        reach = self._reach_anywhere.copy()
        reach[rows] = True
        return reach

    def _assemble(
        self,
        person: Person,
        location: tuple[float, float] | None,
        rows: np.ndarray,
        km: np.ndarray,
    ) -> Candidates:
        """Candidates from the services within reach by travel (``rows`` at ``km``)."""
        check = self.eligibility_.check(person, location)
        distance = np.full(self.n_services_, np.nan)
        reach = self._reach(location, rows)
        if location is not None:
            distance[rows] = km
        keep = np.flatnonzero(check.eligible & reach & self.specialist_.allowed(person.needs))
        return Candidates(rows=keep, distance_km=distance[keep], eligibility=check)


def scores_by_id(
    service_ids: Sequence[str],
    index: dict[str, int],
    rows: np.ndarray,
    scores: np.ndarray,
) -> np.ndarray:
    """Scores of candidate ``rows`` looked up for ``service_ids`` (through the catalogue's
    ``index``); NaN for a service that is not a candidate or not in the catalogue."""
    by_row = dict(zip(np.asarray(rows).tolist(), np.asarray(scores).tolist(), strict=True))
    out = np.full(len(service_ids), np.nan)
    for j, sid in enumerate(service_ids):
        row = index.get(sid)
        if row is not None and row in by_row:
            out[j] = by_row[row]
    return out
