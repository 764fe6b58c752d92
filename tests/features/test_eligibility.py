"""Hard eligibility rules: each rule excludes, says why, and passed rules become facts."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from strategies import catalogues, people

from vcsmatch.catalogue.model import Catalogue, Eligibility, Location, Service, ServiceArea
from vcsmatch.errors import NotFittedError
from vcsmatch.features.eligibility import EXCLUSION_TEXT, RULES, EligibilityFilter
from vcsmatch.features.geo import SpatialIndex, haversine_km, in_service_area
from vcsmatch.features.location import PostcodeDirectory
from vcsmatch.features.person import AGE_BANDS, Person

IPSWICH_SQUARE = {
    "type": "Polygon",
    "coordinates": [[[1.12, 52.04], [1.19, 52.04], [1.19, 52.08], [1.12, 52.08], [1.12, 52.04]]],
}


@pytest.fixture(scope="module")
def ipswich() -> tuple[float, float]:
    """IP1 1AA from the packaged postcode data: inside the Ipswich square."""
    return PostcodeDirectory().lookup("IP1 1AA")


@pytest.fixture(scope="module")
def felixstowe() -> tuple[float, float]:
    """IP11 7AA: about 17 km from Ipswich, outside the square."""
    return PostcodeDirectory().lookup("IP11 7AA")


def catalogue() -> Catalogue:
    near = [Location(latitude=52.06, longitude=1.15)]
    return Catalogue(
        services=[
            Service(id="open", name="Open to all", locations=near),
            Service(id="closed", name="Closed", status="temporarily_closed", locations=near),
            Service(
                id="over65", name="Lunch club", eligibility=Eligibility(min_age=65), locations=near
            ),
            Service(
                id="young",
                name="Youth",
                eligibility=Eligibility(min_age=16, max_age=25),
                locations=near,
            ),
            Service(
                id="women",
                name="Women's group",
                eligibility=Eligibility(sex="female"),
                locations=near,
            ),
            Service(
                id="ipswich",
                name="Home visits",
                delivery_modes=["home_visit"],
                service_areas=[ServiceArea(name="Ipswich", geometry=IPSWICH_SQUARE)],
            ),
        ]
    )


@pytest.fixture(scope="module")
def fitted() -> EligibilityFilter:
    return EligibilityFilter().fit(catalogue())


def test_inactive_service_is_excluded(fitted: EligibilityFilter) -> None:
    """A service that is not active is excluded for everyone, as 'inactive'."""
    result = fitted.check(Person(age=40), None)
    assert result.excluded[1] == "inactive"
    assert not result.eligible[1] and result.eligible[0]


@pytest.mark.parametrize(
    ("age", "over65", "young"),
    [
        (70, True, False),
        (20, False, True),
        (65, True, False),
        (25, False, True),
        (26, False, False),
        (15, False, False),
    ],
)
def test_age_range_is_inclusive(
    fitted: EligibilityFilter, age: int, over65: bool, young: bool
) -> None:
    """Ages at the ends of the range are in; one year outside is excluded as 'age'."""
    result = fitted.check(Person(age=age), None)
    assert bool(result.eligible[2]) is over65 and bool(result.eligible[3]) is young
    for row, ok in ((2, over65), (3, young)):
        assert result.reason(row) == (None if ok else "age")


def test_age_band_excludes_only_when_the_whole_band_is_outside(fitted: EligibilityFilter) -> None:
    """A 50-64 band cannot meet 65+ (excluded); an 18-24 band might meet 16-25 (kept)."""
    result = fitted.check(Person(age_band="50-64"), None)
    assert result.reason(2) == "age"
    result = fitted.check(Person(age_band="18-24"), None)
    assert result.eligible[3]
    result = fitted.check(Person(age_band="65-79"), None)
    assert result.eligible[2] and result.reason(3) == "age"


def test_unknown_age_is_kept_and_flagged(fitted: EligibilityFilter) -> None:
    """With no age, age-limited services stay, with a fact asking the practitioner to check."""
    result = fitted.check(Person(), None)
    assert result.eligible[2]
    assert result.facts(2) == ["open to ages 65 and over (age not recorded: check)"]


def test_sex_restriction_excludes_only_a_definite_mismatch(fitted: EligibilityFilter) -> None:
    """A man is excluded from a women-only group; 'another' and unrecorded are kept, flagged."""
    assert fitted.check(Person(sex="male"), None).reason(4) == "sex"
    assert fitted.check(Person(sex="female"), None).facts(4) == ["women only"]
    for sex in ("another", "not_recorded"):
        result = fitted.check(Person(sex=sex), None)
        assert result.eligible[4]
        assert result.facts(4) == ["women only (sex not recorded: check)"]


def test_home_outside_the_service_area_is_excluded(
    fitted: EligibilityFilter, ipswich: tuple, felixstowe: tuple
) -> None:
    """Real postcodes: IP1 1AA is inside the Ipswich area, IP11 7AA (Felixstowe) is not."""
    assert fitted.check(Person(), ipswich).eligible[5]
    assert fitted.check(Person(), ipswich).facts(5) == ["covers Ipswich, where the person lives"]
    assert fitted.check(Person(), felixstowe).reason(5) == "outside_area"
    assert haversine_km(*ipswich, *felixstowe) > 10


def test_unknown_location_is_kept_by_default_or_excluded_on_request() -> None:
    """No home location: the area-bound service is kept and flagged, unless told to exclude."""
    kept = EligibilityFilter().fit(catalogue()).check(Person(), None)
    assert kept.eligible[5]
    assert kept.facts(5) == ["covers Ipswich only (home not known: check)"]
    strict = EligibilityFilter(unknown_location="exclude").fit(catalogue()).check(Person(), None)
    assert strict.reason(5) == "outside_area"


def test_first_failing_rule_is_reported() -> None:
    """A closed, over-65 service for a 30-year-old is 'inactive' (rules apply in order)."""
    svc = Service(id="x", name="X", status="inactive", eligibility=Eligibility(min_age=65))
    result = EligibilityFilter().fit([svc]).check(Person(age=30), None)
    assert result.excluded == {0: "inactive"}


def test_every_rule_has_words_and_service_rules_read_well(fitted: EligibilityFilter) -> None:
    """Each rule name has UI text, and a service's own rules read as plain English."""
    assert set(EXCLUSION_TEXT) == set(RULES)
    assert fitted.rules_text(3) == ["open to ages 16 to 25"]
    assert fitted.rules_text(1) == ["not running at the moment"]
    assert fitted.rules_text(5) == ["covers Ipswich only"]
    assert fitted.rules_text(0) == []


def test_unfitted_filter_and_bad_parameter() -> None:
    """Unfitted use is NotFittedError; a bad unknown_location names the parameter."""
    with pytest.raises(NotFittedError):
        EligibilityFilter().check(Person(), None)
    with pytest.raises(ValueError, match="unknown_location"):
        EligibilityFilter(unknown_location="maybe").fit(catalogue())  # type: ignore[arg-type]


def rule_by_hand(service: Service, person: Person, location: tuple | None) -> str | None:
    """The rules re-stated one service at a time, as a reference for the vectorised filter."""
    if service.status != "active":
        return "inactive"
    lo_hi = None
    if person.age is not None:
        lo_hi = (person.age, person.age)
    elif person.age_band is not None:
        lo_hi = next((lo, hi) for code, lo, hi in AGE_BANDS if code == person.age_band)
    e = service.eligibility
    if lo_hi is not None and (
        (e.min_age is not None and lo_hi[1] < e.min_age)
        or (e.max_age is not None and lo_hi[0] > e.max_age)
    ):
        return "age"
    if e.sex and person.sex in ("female", "male") and person.sex != e.sex:
        return "sex"
    if location is not None and in_service_area(service, *location) is False:
        return "outside_area"
    return None


@settings(max_examples=60, deadline=None)
@given(catalogues(), people())
def test_vectorised_filter_agrees_with_the_rules_one_by_one(cat: Catalogue, person: Person) -> None:
    """For any catalogue and person, each service's verdict is the rule applied by hand."""
    location = (person.latitude, person.longitude) if person.latitude is not None else None
    result = EligibilityFilter().fit(cat).check(person, location)
    for row, service in enumerate(cat):
        assert result.reason(row) == rule_by_hand(service, person, location)
        assert bool(result.eligible[row]) is (row not in result.excluded)


@settings(max_examples=60, deadline=None)
@given(catalogues(), people())
def test_an_ineligible_service_is_never_a_candidate(cat: Catalogue, person: Person) -> None:
    """Radius candidates intersected with eligibility never contain an excluded service."""
    location = (person.latitude, person.longitude) if person.latitude is not None else (52.05, 1.15)
    result = EligibilityFilter().fit(cat).check(person, location)
    rows, _ = SpatialIndex.from_catalogue(cat).query_radius(*location, 50.0)
    candidates = rows[result.eligible[rows]]
    assert not set(candidates.tolist()) & set(result.excluded)
    assert np.all(result.eligible[candidates])
