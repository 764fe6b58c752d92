"""Fractional ages are valid Open Referral (0.5: a service for babies from six months): every
format takes them, and the eligibility wording shows them as given."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from vcsmatch.catalogue.hsds3 import write_hsds3
from vcsmatch.catalogue.importing import import_file
from vcsmatch.features.eligibility import age_range_text

FIXTURES = Path(__file__).parent / "fixtures"


def _first_record(name: str) -> tuple[dict, dict]:
    page = json.loads((FIXTURES / name).read_text(encoding="utf-8"))
    return page, page["content"][0]


def test_an_oruk_10_eligibility_of_half_a_year_is_kept() -> None:
    """Regression: ORUK 1.0 refused minimum_age 0.5 as 'not an age in whole years'."""
    page, record = _first_record("oruk_page1.json")
    record = copy.deepcopy(record)
    record["eligibilitys"][0].update(minimum_age=0.5, maximum_age=2)
    (service,) = import_file({**page, "content": [record]}, "oruk").catalogue.services
    assert (service.eligibility.min_age, service.eligibility.max_age) == (0.5, 2)
    (out,) = write_hsds3(import_file({**page, "content": [record]}, "oruk").catalogue)
    assert out["minimum_age"] == 0.5


def test_an_outpost_minimum_age_of_half_a_year_is_kept() -> None:
    page, record = _first_record("outpost_page.json")
    record = {**record, "min_age": 0.5, "max_age": 4}
    (service,) = import_file({**page, "content": [record]}, "outpost").catalogue.services
    assert service.eligibility.min_age == 0.5


@pytest.mark.parametrize("bad", [-1, 131])
def test_ages_outside_0_to_130_are_still_refused_by_name(bad: float) -> None:
    page, record = _first_record("oruk_page1.json")
    record = copy.deepcopy(record)
    record["eligibilitys"][0]["minimum_age"] = bad
    result = import_file({**page, "content": [record]}, "oruk", skip_invalid=True)
    (rejected,) = result.report.rejected
    assert rejected.field == "eligibilitys[0].minimum_age"


def test_the_age_wording_shows_a_fraction_as_given() -> None:
    assert age_range_text(0.5, 2.0) == "open to ages 0.5 to 2"
    assert age_range_text(65.0, float("nan")) == "open to ages 65 and over"
    assert age_range_text(0.0, 17.0) == "open to ages 17 and under"
