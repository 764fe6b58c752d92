"""Town names to coordinates, from the directory itself: the last part of each location's
address ("12 High Street, Felixstowe") names its town, and a town is where its listed
locations are on average. No gazetteer to install, and every town it knows has services.

For the public page, where a resident may know their town but not their postcode. A town the
directory does not mention is not found (the page then asks for a postcode).
"""

from __future__ import annotations

import re
from collections import defaultdict

from vcsmatch.catalogue.model import Catalogue

_SPACES = re.compile(r"\s+")
#: Fewest letters a town name has (shorter last parts are flat numbers, "UK", ...).
_MIN_LETTERS = 3


def _key(name: str) -> str:
    return _SPACES.sub(" ", name).strip().casefold()


class TownIndex:
    """``fit(catalogue)``; ``lookup(name)`` gives the town's (latitude, longitude) or None."""

    def fit(self, catalogue: Catalogue) -> TownIndex:
        points: dict[str, list[tuple[float, float]]] = defaultdict(list)
        names: dict[str, str] = {}
        for service in catalogue:
            for loc in service.locations:
                if not loc.address or loc.latitude is None or loc.longitude is None:
                    continue
                town = loc.address.rsplit(",", 1)[-1].strip()
                if sum(ch.isalpha() for ch in town) < _MIN_LETTERS or any(
                    ch.isdigit() for ch in town
                ):
                    continue
                points[_key(town)].append((loc.latitude, loc.longitude))
                names.setdefault(_key(town), town)
        self.towns_ = {
            key: (sum(p[0] for p in pts) / len(pts), sum(p[1] for p in pts) / len(pts))
            for key, pts in points.items()
        }
        self.names_ = names
        return self

    def lookup(self, name: str) -> tuple[float, float] | None:
        """The town's centre, or None when the directory does not mention it."""
        return self.towns_.get(_key(name))
