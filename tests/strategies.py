"""Hypothesis strategies shared by the property tests (append yours; keep them reusable)."""

from __future__ import annotations

import datetime as dt
import string

from hypothesis import strategies as st

from vcsmatch.catalogue.model import (
    DELIVERY_MODES,
    Catalogue,
    Contact,
    Cost,
    Eligibility,
    ExternalTerm,
    Location,
    Schedule,
    Service,
    ServiceArea,
)
from vcsmatch.features.person import AGE_BAND_CODES, SEXES, Person
from vcsmatch.taxonomy import load_taxonomy

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


# --- Services with every field of the model (catalogue import/export round trips) ---------

_WEEKDAYS = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")
#: Non-blank text without surrounding spaces (the model strips whitespace).
catalogue_words = (
    st.text(
        alphabet=st.characters(codec="utf-8", categories=("L", "N", "P", "Zs")),
        min_size=1,
        max_size=30,
    )
    .map(str.strip)
    .filter(bool)
)
_maybe_words = st.none() | catalogue_words
_ids = st.from_regex(r"[a-z0-9][a-z0-9\-]{0,20}", fullmatch=True)
_dates = st.none() | st.dates(dt.date(2015, 1, 1), dt.date(2035, 12, 31))
_times = st.none() | st.times().map(lambda t: t.replace(microsecond=0))


def _unique(elements: st.SearchStrategy, max_size: int = 3) -> st.SearchStrategy:
    return st.lists(elements, max_size=max_size, unique_by=repr)


#: External terms no crosswalk knows (taxonomy names no council uses).
unknown_terms = st.builds(
    ExternalTerm,
    taxonomy=st.none() | st.sampled_from(["esd-needs-x", "outpost-x"]),
    code=st.none() | st.from_regex(r"zz[0-9]{1,4}", fullmatch=True),
    label=st.from_regex(r"Zz unknown [a-z]{1,8}", fullmatch=True),
)


@st.composite
def full_services(draw: st.DrawFn, service_id: str | None = None) -> Service:
    """A valid ``Service`` with any subset of every one of its fields set.

    Delivery modes are never empty: HSDS import derives an empty list from the locations.
    """
    taxonomy = load_taxonomy()
    needs = draw(_unique(st.sampled_from(taxonomy.need_codes), 4))
    activities = draw(_unique(st.sampled_from(taxonomy.activity_codes), 4))
    lo = draw(st.none() | st.integers(0, 100))
    hi = draw(st.none() | st.integers(lo or 0, 120))
    location = st.builds(
        Location,
        id=st.none() | _ids,
        name=_maybe_words,
        address=_maybe_words,
        postcode=st.none() | st.sampled_from(["HP20 1UA", "MK9 3EJ", "SL1 1AA", "IP1 1AA"]),
        latitude=st.none() | st.floats(-90, 90, allow_nan=False),
        longitude=st.none() | st.floats(-180, 180, allow_nan=False),
    )
    centre = (draw(st.floats(50.0, 55.0)), draw(st.floats(-5.0, 1.5)))
    area = st.builds(
        ServiceArea,
        id=st.none() | _ids,
        name=_maybe_words,
        geometry=st.none() | square_area(centre),
    )
    schedule = st.builds(
        Schedule,
        weekdays=_unique(st.sampled_from(_WEEKDAYS), 7),
        opens_at=_times,
        closes_at=_times,
        freq=st.sampled_from([None, "WEEKLY", "MONTHLY", "DAILY"]),
        interval=st.none() | st.integers(1, 4),
        valid_from=_dates,
        valid_to=_dates,
        description=_maybe_words,
    )
    contact = st.builds(
        Contact,
        name=_maybe_words,
        title=_maybe_words,
        phone=st.none() | st.from_regex(r"0[0-9]{4} [0-9]{6}", fullmatch=True),
        email=st.none() | st.from_regex(r"[a-z]{1,8}@example\.org", fullmatch=True),
    )
    return Service(
        id=service_id or draw(_ids),
        name=draw(catalogue_words),
        description=draw(st.sampled_from(["", "A friendly weekly group."]) | catalogue_words),
        organisation=draw(_maybe_words),
        organisation_id=draw(st.none() | _ids),
        status=draw(st.sampled_from(["active", "inactive", "defunct", "temporarily_closed"])),
        needs=needs,
        activities=activities,
        inferred_needs=[
            c for c in draw(_unique(st.sampled_from(taxonomy.need_codes), 2)) if c not in needs
        ],
        inferred_activities=[
            c
            for c in draw(_unique(st.sampled_from(taxonomy.activity_codes), 2))
            if c not in activities
        ],
        eligibility=Eligibility(
            min_age=lo,
            max_age=hi,
            sex=draw(st.sampled_from([None, "female", "male"])),
            rules=draw(_maybe_words),
        ),
        delivery_modes=draw(_unique(st.sampled_from(DELIVERY_MODES), 4).filter(bool)),
        locations=draw(st.lists(location, max_size=2)),
        service_areas=draw(st.lists(area, max_size=2)),
        schedules=draw(_unique(schedule, 2)),
        cost=draw(st.builds(Cost, free=st.none() | st.booleans(), description=_maybe_words)),
        referral=draw(_maybe_words),
        contacts=draw(st.lists(contact, max_size=2)),
        url=draw(st.none() | st.just("https://example.org/s")),
        email=draw(st.none() | st.just("hello@example.org")),
        phone=draw(st.none() | st.just("01296 000000")),
        languages=draw(_unique(st.sampled_from(["English", "Polish", "Urdu", "Welsh"]))),
        accessibility=draw(_unique(st.sampled_from(["Step-free access", "Hearing loop"]))),
        last_reviewed=draw(_dates),
        source=draw(_maybe_words),
        unmapped_terms=draw(_unique(unknown_terms)),
    )


@st.composite
def full_catalogues(draw: st.DrawFn, max_size: int = 5) -> Catalogue:
    """Catalogues of ``full_services`` with ids ``svc-0``, ``svc-1``..."""
    n = draw(st.integers(0, max_size))
    return Catalogue(services=[draw(full_services(service_id=f"svc-{i}")) for i in range(n)])
