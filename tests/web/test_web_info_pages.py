"""The GOV.UK pages every service needs: a phase banner on every page, and footer links to the
accessibility statement, the privacy notice and the cookies page, each public and axe clean."""

from __future__ import annotations

from typing import Any

import pytest
from test_web_browser import check_accessibility, page_factory  # noqa: F401 - a fixture

pytestmark = pytest.mark.browser

PAGES = {
    "Accessibility statement": "/accessibility",
    "Privacy notice": "/privacy",
    "Cookies": "/cookies",
}


def test_footer_links_reach_public_accessible_pages(
    page_factory: Any,  # noqa: F811 - the fixture imported above
    axe_source: str | None,
) -> None:
    page = page_factory()
    page.goto("/sign-in")
    assert page.locator(".govuk-phase-banner .govuk-tag").inner_text().strip().lower() == "beta"
    for name, path in PAGES.items():
        page.goto("/sign-in")
        page.locator("footer").get_by_role("link", name=name).click()
        assert page.url.endswith(path)
        assert page.get_by_role("heading", level=1).inner_text() == name
        assert page.locator(".govuk-phase-banner").count() == 1
        check_accessibility(page, axe_source)
    page.goto("/privacy")
    text = page.locator("main").inner_text()
    for topic in ("What is stored", "lawful basis", "How long", "Who can see it"):
        assert topic in text
