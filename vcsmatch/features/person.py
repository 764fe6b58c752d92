"""The typed person model: only what matching needs, nothing that identifies someone.

People's features are special-category data. ``reference`` is opaque (a case number the
caller's system understands, never a name or an NHS number); the store keeps only a keyed
hash of it. ``__repr__``/``__str__`` are redacted so a person never lands in a log by accident.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

Sex = Literal["female", "male", "another", "not_recorded"]
SEXES: tuple[str, ...] = ("female", "male", "another", "not_recorded")

#: Age bands used wherever exact age is not needed (grouping, explanations, fairness).
AGE_BANDS: tuple[tuple[str, int, int], ...] = (
    ("under-18", 0, 17),
    ("18-24", 18, 24),
    ("25-49", 25, 49),
    ("50-64", 50, 64),
    ("65-79", 65, 79),
    ("80+", 80, 130),
)
AGE_BAND_CODES: tuple[str, ...] = tuple(b[0] for b in AGE_BANDS)
AgeBand = Literal["under-18", "18-24", "25-49", "50-64", "65-79", "80+"]


def age_band(age: int | None) -> str | None:
    """The band code containing ``age`` (``None`` when unknown)."""
    if age is None:
        return None
    for code, lo, hi in AGE_BANDS:
        if lo <= age <= hi:
            return code
    return None


def age_band_label(code: str) -> str:
    """``65-79`` -> ``aged 65 to 79``; used in explanations."""
    for c, lo, hi in AGE_BANDS:
        if c == code:
            if c == "80+":
                return "aged 80 and over"
            if c == "under-18":
                return "aged under 18"
            return f"aged {lo} to {hi}"
    return code


class Person(BaseModel):
    """A person seeking support, as a practitioner or front-door worker describes them.

    Location: a UK ``postcode``, or ``latitude``/``longitude``, or neither (online-only help).
    Needs and strengths are taxonomy codes; ``needs_text``/``strengths_text`` are free text that
    ``vcsmatch.features.text`` maps to codes for the practitioner to confirm.
    """

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    reference: str | None = Field(default=None, max_length=128)
    postcode: str | None = Field(default=None, max_length=16)
    latitude: float | None = Field(default=None, ge=-90, le=90)
    longitude: float | None = Field(default=None, ge=-180, le=180)
    age: int | None = Field(default=None, ge=0, le=120)
    age_band: AgeBand | None = None
    sex: Sex = "not_recorded"
    needs: list[str] = Field(default_factory=list, max_length=50)
    strengths: list[str] = Field(default_factory=list, max_length=50)
    needs_text: str | None = Field(default=None, max_length=2000)
    strengths_text: str | None = Field(default=None, max_length=2000)
    max_distance_km: float | None = Field(default=None, gt=0, le=500)
    delivery_modes: list[Literal["in_person", "online", "phone", "home_visit"]] | None = None
    languages: list[str] = Field(default_factory=list, max_length=20)

    @model_validator(mode="after")
    def _coordinates_paired(self) -> Person:
        if (self.latitude is None) != (self.longitude is None):
            raise ValueError("latitude and longitude must be given together")
        return self

    @property
    def band(self) -> str | None:
        """The age band: from ``age`` when given, else ``age_band``."""
        return age_band(self.age) if self.age is not None else self.age_band

    @property
    def has_location(self) -> bool:
        return self.postcode is not None or self.latitude is not None

    def __repr__(self) -> str:  # never print personal features
        return "Person(<redacted>)"

    __str__ = __repr__
