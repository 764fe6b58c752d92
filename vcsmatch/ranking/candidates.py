"""Which services a person could use at all: eligible, and able to reach them.

A service is a candidate when the eligibility filter passes it (hard rules: active, age, sex,
declared area) AND it reaches the person:

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

from dataclasses import dataclass

import numpy as np

from vcsmatch.catalogue.model import DELIVERY_MODES, Catalogue
from vcsmatch.features.eligibility import EligibilityFilter, EligibilityResult
from vcsmatch.features.geo import SpatialIndex, service_points
from vcsmatch.features.person import Person

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
        declared = self.eligibility_.areas_.declared_
        self.remote_ = modes[:, _ONLINE] | modes[:, _PHONE]
        self.home_visit_ = modes[:, _HOME]
        self.home_area_ = modes[:, _HOME] & declared
        home_free = modes[:, _HOME] & ~declared
        lats, lons, owners = service_points(services)
        located = np.zeros(n, dtype=bool)
        located[owners] = True
        self.home_anywhere_ = home_free & ~located
        # travel: in person; visit from a base: home visits with no area but a base location
        self.by_radius_ = modes[:, _IN_PERSON] | home_free
        keep = self.by_radius_[owners] if len(owners) else np.zeros(0, dtype=bool)
        self.index_ = SpatialIndex().fit(lats[keep], lons[keep], owners[keep])
        return self

    def find(
        self, person: Person, location: tuple[float, float] | None, radius_km: float
    ) -> Candidates:
        """Eligible services that reach ``person`` living at ``location`` (or nowhere known)."""
        check = self.eligibility_.check(person, location)
        distance = np.full(self.n_services_, np.nan)
        if location is None:  # cannot rule out any home visit: the practitioner checks
            reach = self.remote_ | self.home_visit_
        else:
            reach = self.remote_ | self.home_area_ | self.home_anywhere_
            rows, km = self.index_.query_radius(location[0], location[1], radius_km)
            reach = reach.copy()
            reach[rows] = True
            distance[rows] = km
        keep = np.flatnonzero(check.eligible & reach)
        return Candidates(rows=keep, distance_km=distance[keep], eligibility=check)
