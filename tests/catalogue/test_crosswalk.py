"""Crosswalks: council terms to our codes, and nothing unmapped is ever dropped."""

from __future__ import annotations

from pathlib import Path

import pytest

from vcsmatch.catalogue.crosswalk import Crosswalk, default_crosswalk
from vcsmatch.catalogue.importing import import_file
from vcsmatch.catalogue.model import ExternalTerm
from vcsmatch.errors import CatalogueError
from vcsmatch.taxonomy import load_taxonomy

CSV = """taxonomy,code,label,kind,target
esd-needs,LON,Loneliness,need,social-isolation
esd-needs,,Memory problems,need,dementia
*,,Gardening club,activity,gardening
*,,Gardening club,need,physical-activity
*,,Ladies only,eligibility,female-only
"""


def _record(*terms: tuple[str, str | None, str]) -> dict:
    return {
        "id": "s1",
        "name": "Club",
        "status": "active",
        "attributes": [
            {
                "id": f"a{i}",
                "taxonomy_term": {
                    "id": f"t{i}",
                    "taxonomy": t,
                    "code": c,
                    "name": n,
                    "description": n,
                },
            }  # fmt: skip
            for i, (t, c, n) in enumerate(terms)
        ],
    }


def test_code_match_wins_and_label_match_is_case_insensitive() -> None:
    """A term maps by taxonomy+code, else by its label in any case and spacing."""
    cw = Crosswalk.from_text(CSV)
    assert cw.map(ExternalTerm(taxonomy="esd-needs", code="LON", label="whatever")) == [
        ("need", "social-isolation")
    ]
    assert cw.map(ExternalTerm(taxonomy="ESD-needs", code="X", label="memory  PROBLEMS")) == [
        ("need", "dementia")
    ]
    assert cw.map(ExternalTerm(taxonomy="other", code="X", label="Memory problems")) == []
    assert cw.map(ExternalTerm(taxonomy="any", label="gardening club")) == [
        ("activity", "gardening"),
        ("need", "physical-activity"),
    ]


def test_import_maps_terms_and_reports_the_unmapped(tmp_path: Path) -> None:
    """With a crosswalk file, mapped terms become codes and the rest are kept and counted."""
    path = tmp_path / "cw.csv"
    path.write_text(CSV, encoding="utf-8")
    records = [
        _record(
            ("esd-needs", "LON", "Loneliness"), ("x", None, "Ladies only"), ("x", "9", "Bingo")
        ),
        {**_record(("x", "9", "Bingo")), "id": "s2"},
    ]
    result = import_file(records, crosswalk=path)
    s1, s2 = result.catalogue.services
    assert s1.needs == ["social-isolation"] and s1.eligibility.sex == "female"
    assert s1.unmapped_terms == [ExternalTerm(taxonomy="x", code="9", label="Bingo")]
    assert s2.unmapped_terms == s1.unmapped_terms
    assert dict(result.report.unmapped_terms) == {("x", "9", "Bingo"): 2}
    assert "x: 9 / Bingo (2 services)" in result.report.to_text()
    assert result.report.to_dict()["unmapped_terms"] == [
        {"taxonomy": "x", "code": "9", "label": "Bingo", "count": 2}
    ]


def test_empty_crosswalk_keeps_every_external_term() -> None:
    """With an empty crosswalk every external term is kept on the service, none dropped."""
    result = import_file([_record(("esd-needs", "LON", "Loneliness"))], crosswalk=Crosswalk.empty())
    (service,) = result.catalogue.services
    assert service.needs == []
    assert service.unmapped_terms == [
        ExternalTerm(taxonomy="esd-needs", code="LON", label="Loneliness")
    ]


@pytest.mark.parametrize(
    ("row", "field", "reason"),
    [
        ("*,,Knitting,hobby,arts-crafts", "kind", "must be one of"),
        ("*,,Knitting,activity,knitting", "target", "unknown activity code 'knitting'"),
        ("*,,,need,dementia", "code", "a row needs a code or a label"),
        ("*,,Ladies,eligibility,women", "target", "unknown eligibility code 'women'"),
    ],
)
def test_bad_crosswalk_rows_name_line_and_field(row: str, field: str, reason: str) -> None:
    """A bad row raises CatalogueError naming its line and column."""
    with pytest.raises(CatalogueError) as info:
        Crosswalk.from_text("taxonomy,code,label,kind,target\n" + row + "\n")
    assert info.value.record_id == "crosswalk line 2"
    assert info.value.field == field and reason in info.value.reason


def test_crosswalk_missing_columns() -> None:
    """A CSV without the required columns is refused, naming them."""
    with pytest.raises(CatalogueError, match="missing columns"):
        Crosswalk.from_text("term,code\nLoneliness,x\n")


def test_default_crosswalk_targets_exist_and_covers_common_terms() -> None:
    """The shipped crosswalk loads against the shipped taxonomy and maps everyday UK terms."""
    cw = default_crosswalk()
    tax = load_taxonomy()
    assert {t for k, t in ((r.kind, r.target) for r in cw.rows) if k == "need"} <= set(
        tax.need_codes
    )
    for label, expected in [
        ("Loneliness", ("need", "social-isolation")),
        ("Carers", ("need", "carer-support")),
        ("Dementia", ("need", "dementia")),
        ("Benefits advice", ("need", "money-advice")),
        ("Walking groups", ("activity", "walking")),
    ]:
        assert expected in cw.map(ExternalTerm(taxonomy="some-council", label=label)), label
