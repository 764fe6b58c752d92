"""The minimised person: the only personal features the store ever keeps.

A rating (and the recommendation request it may cite) keeps what the model learns from: age,
sex, need and strength codes and a location rounded to 3 decimal places (about 100 m). Never a
postcode, a reference, free text or a name.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from vcsmatch.features.person import SEXES, Person

#: Decimal places kept of latitude/longitude: 3 is about 110 m north-south.
COORDINATE_DECIMALS = 3


def _round(value: float | None) -> float | None:
    return None if value is None else round(float(value), COORDINATE_DECIMALS)


@dataclass(frozen=True)
class MinimisedPerson:
    """Age, sex, codes and a coarse location: what a rating keeps of a person."""

    age: int | None = None
    sex: str = "not_recorded"
    needs: tuple[str, ...] = ()
    strengths: tuple[str, ...] = ()
    latitude: float | None = None
    longitude: float | None = None

    def __post_init__(self) -> None:
        from vcsmatch.errors import DataError

        if self.sex not in SEXES:
            raise DataError("person", None, "sex", f"must be one of {', '.join(SEXES)}")
        if self.age is not None and not 0 <= int(self.age) <= 130:
            raise DataError("person", None, "age", "must be between 0 and 130")
        if (self.latitude is None) != (self.longitude is None):
            raise DataError("person", None, "latitude", "latitude and longitude go together")
        object.__setattr__(self, "needs", tuple(self.needs))
        object.__setattr__(self, "strengths", tuple(self.strengths))
        object.__setattr__(self, "latitude", _round(self.latitude))
        object.__setattr__(self, "longitude", _round(self.longitude))

    def __repr__(self) -> str:  # personal features never land in a log by accident
        return "MinimisedPerson(<redacted>)"

    __str__ = __repr__

    @classmethod
    def from_person(
        cls, person: Person, location: tuple[float, float] | None = None
    ) -> MinimisedPerson:
        """Minimise ``person``; ``location`` is where they were located (postcode resolved).

        Without ``location`` the person's own latitude/longitude are used, if given.
        """
        if location is None and person.latitude is not None and person.longitude is not None:
            location = (person.latitude, person.longitude)
        lat, lon = location if location is not None else (None, None)
        return cls(
            age=person.age,
            sex=person.sex,
            needs=tuple(person.needs),
            strengths=tuple(person.strengths),
            latitude=lat,
            longitude=lon,
        )

    def to_columns(self) -> dict[str, object]:
        """The table columns (codes as JSON lists)."""
        return {
            "age": self.age,
            "sex": self.sex,
            "needs": json.dumps(list(self.needs)),
            "strengths": json.dumps(list(self.strengths)),
            "latitude": self.latitude,
            "longitude": self.longitude,
        }

    @classmethod
    def from_row(cls, row: object) -> MinimisedPerson:
        """Rebuild from a ``ratings`` or ``recommendation_requests`` row."""
        return cls(
            age=row.age,  # type: ignore[attr-defined]
            sex=row.sex,  # type: ignore[attr-defined]
            needs=tuple(json.loads(row.needs)),  # type: ignore[attr-defined]
            strengths=tuple(json.loads(row.strengths)),  # type: ignore[attr-defined]
            latitude=row.latitude,  # type: ignore[attr-defined]
            longitude=row.longitude,  # type: ignore[attr-defined]
        )
