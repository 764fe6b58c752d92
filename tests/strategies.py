"""Hypothesis strategies shared by the property tests (append yours; keep them reusable)."""

from __future__ import annotations

import string

from hypothesis import strategies as st

from vcsmatch.catalogue.model import (
    Catalogue,
    Eligibility,
    Location,
    Service,
    ServiceArea,
)
from vcsmatch.features.person import AGE_BAND_CODES, SEXES, Person

#: Great Britain, roughly: where our services and people are.
GB_LAT = (49.9, 58.7)
GB_LON = (-7.6, 1.8)

latitudes = st.floats(min_value=-89.9, max_value=89.9, allow_nan=False, allow_infinity=False)
longitudes = st.floats(min_value=-180.0, max_value=180.0, allow_nan=False, allow_infinity=False)
gb_latitudes = st.floats(min_value=GB_LAT[0], max_value=GB_LAT[1], allow_nan=False)
gb_longitudes = st.floats(min_value=GB_LON[0], max_value=GB_LON[1], allow_nan=False)
gb_points = st.tuples(gb_latitudes, gb_longitudes)

_LETTERS = string.ascii_uppercase
_DIGITS = string.digits


@st.composite
def postcode_like(draw: st.DrawFn) -> str:
    """Well-formed UK postcodes (unit or outward) typed the way people type them."""
    area = draw(st.text(_LETTERS, min_size=1, max_size=2))
    district = draw(st.sampled_from(_DIGITS)) + draw(
        st.sampled_from(["", *list(_DIGITS), *list(_LETTERS)])
    )
    outward = area + district
    if draw(st.booleans()):
        text = outward
    else:
        inward = draw(st.sampled_from(_DIGITS)) + draw(st.text(_LETTERS, min_size=2, max_size=2))
        text = outward + draw(st.sampled_from(["", " ", "  ", "\t"])) + inward
    text = draw(st.sampled_from([text, text.lower(), text.title()]))
    return draw(st.sampled_from(["", " "])) + text + draw(st.sampled_from(["", " ", "  "]))


#: Anything at all a user might paste into a postcode box.
postcode_text = st.one_of(postcode_like(), st.text(max_size=12))


@st.composite
def square_area(draw: st.DrawFn, centre: tuple[float, float]) -> dict:
    """A GeoJSON square of random size around ``centre`` (lat, lon)."""
    half = draw(st.floats(min_value=0.01, max_value=0.5))
    lat, lon = centre
    ring = [
        [lon - half, lat - half],
        [lon + half, lat - half],
        [lon + half, lat + half],
        [lon - half, lat + half],
        [lon - half, lat - half],
    ]
    return {"type": "Polygon", "coordinates": [ring]}


@st.composite
def services(draw: st.DrawFn, row: int) -> Service:
    """A service near Ipswich with random status, age range, sex restriction and area."""
    lat = draw(st.floats(min_value=51.8, max_value=52.3))
    lon = draw(st.floats(min_value=0.8, max_value=1.5))
    lo = draw(st.one_of(st.none(), st.integers(0, 90)))
    hi = draw(st.one_of(st.none(), st.integers(lo or 0, 110)))
    areas = []
    if draw(st.booleans()):
        centre = (
            draw(st.floats(min_value=51.8, max_value=52.3)),
            draw(st.floats(min_value=0.8, max_value=1.5)),
        )
        areas = [ServiceArea(name=f"area {row}", geometry=draw(square_area(centre)))]
    return Service(
        id=f"svc-{row}",
        name=f"Service {row}",
        status=draw(st.sampled_from(["active", "active", "active", "inactive", "defunct"])),
        eligibility=Eligibility(
            min_age=lo, max_age=hi, sex=draw(st.sampled_from([None, None, "female", "male"]))
        ),
        locations=[Location(latitude=lat, longitude=lon)],
        service_areas=areas,
        delivery_modes=["in_person"],
    )


@st.composite
def catalogues(draw: st.DrawFn, min_size: int = 1, max_size: int = 25) -> Catalogue:
    """Small catalogues of ``services``."""
    n = draw(st.integers(min_size, max_size))
    return Catalogue(services=[draw(services(i)) for i in range(n)])


@st.composite
def people(draw: st.DrawFn) -> Person:
    """People with or without an age, an age band only, any sex, located near Ipswich or not."""
    how_old = draw(st.sampled_from(["age", "band", "none"]))
    located = draw(st.booleans())
    return Person(
        age=draw(st.integers(0, 120)) if how_old == "age" else None,
        age_band=draw(st.sampled_from(AGE_BAND_CODES)) if how_old == "band" else None,
        sex=draw(st.sampled_from(SEXES)),
        latitude=draw(st.floats(min_value=51.7, max_value=52.4)) if located else None,
        longitude=draw(st.floats(min_value=0.7, max_value=1.6)) if located else None,
    )
