"""The shared foundations: taxonomy, service and person models, errors."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from vcsmatch.catalogue.model import Catalogue, Eligibility, Service
from vcsmatch.errors import UnknownCodeError
from vcsmatch.features.person import Person, age_band
from vcsmatch.taxonomy import load_taxonomy

REQUIRED_NEEDS = (
    "social-isolation physical-activity mental-wellbeing carer-support dementia "
    "learning-disability nutrition home-safety personal-care money-advice housing "
    "employment-volunteering digital-inclusion transport bereavement long-term-condition "
    "hearing-sight-loss substance-misuse"
).split()
REQUIRED_STRENGTHS = (
    "gardening music arts-crafts sport-fitness cooking walking faith-community digital-skills "
    "volunteering reading history independent-travel family-support languages dancing"
).split()


def test_taxonomy_has_every_required_code() -> None:
    """The issue's minimum need and strength codes are all present, with labels."""
    tax = load_taxonomy()
    assert set(REQUIRED_NEEDS) <= set(tax.need_codes)
    assert set(REQUIRED_STRENGTHS) <= set(tax.strength_codes)
    assert all(t.label and t.description for t in tax.needs + tax.strengths)


def test_needs_link_to_care_act_outcomes() -> None:
    """Needs that map to a Care Act outcome cite SI 2015/313 reg. 2(2)."""
    tax = load_taxonomy()
    nutrition = next(t for t in tax.needs if t.code == "nutrition")
    assert nutrition.care_act_outcome.startswith("2(2)(a)")


def test_unknown_code_is_named() -> None:
    """Validating an unknown code raises UnknownCodeError naming the code."""
    with pytest.raises(UnknownCodeError, match="no-such-need"):
        load_taxonomy().validate("need", ["dementia", "no-such-need"])


def test_duplicate_service_ids_are_refused() -> None:
    """A catalogue cannot hold two services with one id."""
    with pytest.raises(ValidationError, match="duplicate service id"):
        Catalogue(services=[Service(id="a", name="A"), Service(id="a", name="B")])


def test_eligibility_ages_must_be_ordered() -> None:
    """min_age above max_age is refused."""
    with pytest.raises(ValidationError, match="min_age"):
        Eligibility(min_age=70, max_age=60)


def test_person_is_redacted_and_banded() -> None:
    """A person never prints its features; age bands are derived from age."""
    p = Person(postcode="IP1 1AA", age=70, needs=["dementia"])
    assert "IP1" not in repr(p) and "dementia" not in str(p)
    assert p.band == "65-79"
    assert age_band(17) == "under-18" and age_band(80) == "80+"
