"""HTML descriptions of real feeds: a safe subset for display, plain text for search."""

from __future__ import annotations

from vcsmatch.catalogue.hsds3 import write_hsds3
from vcsmatch.catalogue.html import looks_like_html, sanitise, to_text
from vcsmatch.catalogue.importing import import_file

HTML = (
    '<p><span style="color:red">Lunch&nbsp;club</span> for <font face="Arial">older</font> '
    "people &amp; carers.</p><script>alert(1)</script><ul><li>Hot meal</li><li>Bingo</li></ul>"
    '<p onclick="x()"><a href="javascript:evil()">bad</a> <a href="https://example.org/a">more</a></p>'
)


def _oruk(description: str) -> dict:
    return {"id": "h-1", "name": "Lunch club", "description": description, "service_taxonomys": []}


def test_plain_text_has_the_words_and_none_of_the_markup() -> None:
    text = to_text(HTML)
    assert text.splitlines() == [
        "Lunch club for older people & carers.",
        "Hot meal",
        "Bingo",
        "bad more",
    ]
    for markup in ("span", "nbsp", "font", "<", "alert", "&amp;"):
        assert markup not in text


def test_display_html_keeps_a_small_safe_subset() -> None:
    safe = sanitise(HTML)
    assert "<script" not in safe and "alert" not in safe
    assert "<span" not in safe and "<font" not in safe and "style=" not in safe
    assert "onclick" not in safe and "javascript:" not in safe
    assert "<ul><li>Hot meal</li><li>Bingo</li></ul>" in safe
    assert '<a href="https://example.org/a" rel="noopener noreferrer nofollow">more</a>' in safe


def test_plain_descriptions_are_not_taken_for_html() -> None:
    assert not looks_like_html("Tea & cake, ages 5 < x > 3")
    assert looks_like_html("Tea&nbsp;and cake") and looks_like_html("<b>Tea</b>")


def test_import_keeps_text_for_search_and_safe_html_for_display() -> None:
    result = import_file({"content": [_oruk(HTML)], "totalPages": 1}, "oruk")
    (service,) = result.catalogue.services
    assert service.description == to_text(HTML)
    assert service.description_html == sanitise(HTML)
    (exported,) = write_hsds3(result.catalogue)
    assert exported["description"] == service.description_html
    (again,) = import_file([exported], "hsds3").catalogue.services
    assert again == service  # sanitising is stable: export -> import gives the same service


def test_a_plain_description_is_left_as_it_is() -> None:
    result = import_file({"content": [_oruk("Tea & cake on Fridays.")]}, "oruk")
    (service,) = result.catalogue.services
    assert service.description == "Tea & cake on Fridays." and service.description_html is None
