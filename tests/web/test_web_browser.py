"""The front-door page in a real headless Chromium, against the real app under uvicorn.

Each journey also runs axe-core on every page it reaches (no serious or critical
violations) and saves the screenshots the README shows (``docs/screenshots/``).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from web_helpers import SCREENSHOTS, WebWorld, make_referrals, new_key, token

from vcsmatch.store import ratings_log
from vcsmatch.store.db import open_store

pytestmark = pytest.mark.browser

AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa", "best-practice"]


@pytest.fixture
def page_factory(browser: Any, live_server: str) -> Iterator[Any]:
    """New pages in fresh browser contexts (JavaScript on or off); CSP violations recorded."""
    contexts = []

    def make(javascript: bool = True) -> Any:
        context = browser.new_context(
            base_url=live_server,
            java_script_enabled=javascript,
            viewport={"width": 1200, "height": 1500},
        )
        contexts.append(context)
        page = context.new_page()
        page.csp_violations = []  # type: ignore[attr-defined]
        page.on(
            "console",
            lambda msg: (
                page.csp_violations.append(msg.text)  # type: ignore[attr-defined]
                if "Content Security Policy" in msg.text
                else None
            ),
        )
        return page

    yield make
    for context in contexts:
        context.close()


def test_axe_core_is_installed(axe_source: str | None) -> None:
    """The accessibility checker is present (else every check below is skipped, said here)."""
    if axe_source is None:
        pytest.skip("axe-core is not installed (run scripts/install-browser.sh)")
    assert axe_source.startswith("/*! axe v4.")


def check_accessibility(page: Any, axe_source: str | None) -> None:
    """axe-core finds no serious or critical violation on the page as it is now."""
    if axe_source is None:
        return  # reported once, by test_axe_core_is_installed
    page.evaluate(axe_source)  # devtools evaluation: not subject to the page's CSP
    result = page.evaluate(
        "tags => axe.run(document, {runOnly: {type: 'tag', values: tags}})", AXE_TAGS
    )
    bad = [
        f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']][:3]}"
        for v in result["violations"]
        if v["impact"] in ("serious", "critical")
    ]
    assert bad == [], f"{page.url}: {bad}"


def screenshot(page: Any, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=False)


def sign_in(page: Any, key: str) -> None:
    page.goto("/")
    page.get_by_label("API key").fill(key)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/search")


def test_front_door_search_journey(
    page_factory: Any, web_world: WebWorld, axe_source: str | None
) -> None:
    """Sign in, search by text then by postcode, open a service, sign out: all accessible."""
    page = page_factory()
    page.goto("/")
    assert page.url.endswith("/sign-in")
    check_accessibility(page, axe_source)
    screenshot(page, "sign-in")
    sign_in(page, web_world.front_door_key)
    check_accessibility(page, axe_source)

    page.get_by_label("What are you looking for?").fill("lunch club")
    page.get_by_role("button", name="Search", exact=True).click()
    heading = page.locator("#results-heading")
    assert re.match(r"[1-9]\d* services? found", heading.inner_text())
    first = page.locator(".app-result h3 a").first.inner_text()
    assert "lunch" in first.lower()

    page.get_by_label("What are you looking for?").fill("")
    page.get_by_label("Postcode").fill(web_world.postcode.lower().replace(" ", ""))
    page.get_by_label("Distance").select_option("10")
    page.get_by_role("button", name="Search", exact=True).click()
    assert re.match(r"[1-9]\d* services? found", page.locator("#results-heading").inner_text())
    distances = page.locator(".app-result dd", has_text=" km").all_inner_texts()
    km = [float(re.search(r"([\d.]+) km", d).group(1)) for d in distances]
    assert km and all(k <= 10 for k in km) and km == sorted(km)
    check_accessibility(page, axe_source)
    screenshot(page, "search-results")

    found = page.locator("#results-heading").inner_text()
    page.locator(".app-result h3 a").first.click()
    assert page.locator("h1").inner_text()
    # Back from a service returns to the results (a POST page) without a resubmission error.
    page.go_back()
    assert page.locator("#results-heading").inner_text() == found
    page.go_forward()
    page.get_by_role("link", name="Back", exact=True).click()  # JavaScript: history.back()
    assert page.locator("#results-heading").inner_text() == found
    page.go_forward()
    map_link = page.get_by_role("link", name=re.compile("on a map"))
    assert map_link.first.get_attribute("href").startswith("https://www.openstreetmap.org/?mlat=")
    check_accessibility(page, axe_source)
    screenshot(page, "service")

    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url("**/sign-in?signed_out=1")
    assert "You have signed out" in page.content()
    page.goto("/search")
    assert page.url.endswith("/sign-in")
    assert page.csp_violations == []


def test_search_works_without_javascript_and_keeps_bad_input(
    page_factory: Any, web_world: WebWorld, axe_source: str | None
) -> None:
    """With JavaScript off, an unknown postcode and age 300 give an error summary linking to
    each field, the typed values stay, and a corrected search works."""
    page = page_factory(javascript=False)
    sign_in(page, web_world.front_door_key)
    page.get_by_label("What are you looking for?").fill("demntia cafe")
    page.get_by_label("Postcode").fill("ZZ99 9ZZ")
    page.get_by_label("Age").fill("300")
    page.get_by_role("button", name="Search", exact=True).click()

    summary = page.locator(".govuk-error-summary")
    assert summary.is_visible()
    links = summary.locator("a")
    assert sorted(links.evaluate_all("els => els.map(e => e.getAttribute('href'))")) == [
        "#age",
        "#postcode",
    ]
    assert page.title().startswith("Error: ")
    assert page.get_by_label("Postcode").input_value() == "ZZ99 9ZZ"
    assert page.get_by_label("Age").input_value() == "300"
    assert page.get_by_label("What are you looking for?").input_value() == "demntia cafe"
    described = page.get_by_label("Age").get_attribute("aria-describedby")
    assert "age-error" in described.split()
    assert "120 or less" in page.locator("#age-error").inner_text()
    # The page gets an axe check with JavaScript on (axe needs it); this one is a screenshot.
    screenshot(page, "search-error")

    page.get_by_label("Postcode").fill(web_world.postcode)
    page.get_by_label("Age").fill("70")
    page.get_by_role("button", name="Search", exact=True).click()
    assert not page.locator(".govuk-error-summary").count()
    assert "Showing results for" in page.content() and "dementia" in page.content()


def test_error_summary_is_accessible_and_focused(
    page_factory: Any, web_world: WebWorld, axe_source: str | None
) -> None:
    """With JavaScript on, the error summary takes focus and the page passes axe."""
    page = page_factory()
    sign_in(page, web_world.front_door_key)
    page.get_by_label("Age").fill("300")
    page.get_by_role("button", name="Search", exact=True).click()
    page.wait_for_selector(".govuk-error-summary")
    focused = page.evaluate("document.activeElement.closest('.govuk-error-summary') !== null")
    assert focused
    check_accessibility(page, axe_source)


def _stored_ratings(world: WebWorld) -> list[Any]:
    sessions = open_store(world.settings)
    with sessions() as s:
        return ratings_log.list_ratings(s)


@pytest.mark.parametrize("javascript", [True, False], ids=["js", "no-js"])
def test_suggest_for_a_person_and_rate(
    page_factory: Any, web_world: WebWorld, axe_source: str | None, javascript: bool
) -> None:
    """A practitioner describes a situation, confirms the ticked codes, gets suggestions with
    reasons and the decision-support line, and one click stores a rating in the database."""
    page = page_factory(javascript=javascript)
    sign_in(page, web_world.practitioner_key)
    page.get_by_role("link", name="Suggest for a person").click()
    if javascript:
        check_accessibility(page, axe_source)
    page.get_by_label("Postcode").fill(web_world.postcode)
    page.get_by_label("Age (optional)").fill("78")
    page.get_by_label("Describe the situation (optional)").fill(
        "Lonely since his wife died; he used to love his allotment"
    )
    page.get_by_role("button", name="Suggest needs from the description").click()
    assert page.get_by_label("Social isolation and loneliness").is_checked()
    assert page.get_by_label("Bereavement").is_checked()
    assert page.get_by_label("Postcode").input_value() == web_world.postcode
    if javascript:
        check_accessibility(page, axe_source)
        screenshot(page, "suggest")

    page.get_by_role("button", name="Get suggestions").click()
    page.wait_for_url(re.compile(r".*/suggestions/[0-9a-f]{32}$"))
    request_id = page.url.rsplit("/", 1)[1]
    assert "support your judgement; they do not make the decision" in page.content()
    results = page.locator(".app-result")
    assert results.count() >= 3
    assert results.first.locator("text=Why suggested").count() == 1
    if javascript:
        check_accessibility(page, axe_source)
        screenshot(page, "suggestions")

    before = len(_stored_ratings(web_world))
    second = results.nth(1)
    service_id = second.locator("input[name=service_id]").get_attribute("value")
    second.get_by_role("button", name=re.compile(r"^4 Relevant")).click()
    status = second.locator("[role=status]")
    if javascript:  # sent in place: the page stays, the status says so
        status.filter(has_text="Rating saved").wait_for()
        assert page.url.endswith(request_id)
    else:  # a plain form post, redirected back to the same status line, now saying so
        page.wait_for_url(re.compile(r".*\?rated=.*"))
        assert "Rating saved" in status.inner_text()
    stored = _stored_ratings(web_world)
    assert len(stored) == before + 1
    newest = max(stored, key=lambda r: r.id)
    assert (newest.request_id, newest.service_id, newest.rating) == (request_id, service_id, 4)
    assert page.csp_violations == []


def test_suggest_bad_input_keeps_what_was_typed(
    page_factory: Any, web_world: WebWorld, axe_source: str | None
) -> None:
    """Unknown postcode, age 300 and no need ticked: three linked errors, values kept."""
    page = page_factory()
    sign_in(page, web_world.practitioner_key)
    page.goto("/suggest")
    page.get_by_label("Postcode").fill("ZZ99 9ZZ")
    page.get_by_label("Age (optional)").fill("300")
    page.get_by_label("Female", exact=True).check()
    page.get_by_role("button", name="Get suggestions").click()
    hrefs = page.locator(".govuk-error-summary a").evaluate_all(
        "els => els.map(e => e.getAttribute('href'))"
    )
    assert hrefs == ["#postcode", "#age", "#needs"]
    assert page.get_by_label("Postcode").input_value() == "ZZ99 9ZZ"
    assert page.get_by_label("Age (optional)").input_value() == "300"
    assert page.get_by_label("Female", exact=True).is_checked()
    check_accessibility(page, axe_source)


def test_front_door_key_cannot_reach_suggestions(page_factory: Any, web_world: WebWorld) -> None:
    """A front-door key sees no suggest link and gets a 403 page at /suggest."""
    page = page_factory()
    sign_in(page, web_world.front_door_key)
    assert page.get_by_role("link", name="Suggest for a person").count() == 0
    response = page.goto("/suggest")
    assert response.status == 403


def _tab_to(page: Any, selector: str, limit: int = 40) -> None:
    """Press Tab until the element matching ``selector`` has focus (a keyboard-only user)."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        if page.evaluate("s => document.activeElement.matches(s)", selector):
            return
    raise AssertionError(f"{selector} never took focus with Tab")


def _focus_is_visible(page: Any) -> bool:
    return page.evaluate(
        """() => { const s = getComputedStyle(document.activeElement);
                   return s.outlineStyle !== 'none' || s.boxShadow !== 'none'; }"""
    )


def test_keyboard_only_sign_in_and_search(page_factory: Any, web_world: WebWorld) -> None:
    """Skip link, sign-in and a search work from the keyboard alone, with visible focus."""
    page = page_factory()
    page.goto("/sign-in")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.classList.contains('govuk-skip-link')")
    assert _focus_is_visible(page)
    _tab_to(page, "#api_key")
    assert _focus_is_visible(page)
    page.keyboard.type(web_world.front_door_key)
    page.keyboard.press("Enter")
    page.wait_for_url("**/search")
    _tab_to(page, "#text")
    page.keyboard.type("lunch club")
    _tab_to(page, "#free_only")
    page.keyboard.press("Space")
    assert page.get_by_label("Free services only").is_checked()
    _tab_to(page, "button.govuk-button:not(.app-sign-out__button)")
    assert _focus_is_visible(page)
    page.keyboard.press("Enter")
    page.wait_for_selector("#results-heading")
    _tab_to(page, ".app-result h3 a")
    page.keyboard.press("Enter")
    page.wait_for_url("**/services/**")


def test_insights_dashboard_is_accessible(
    page_factory: Any, web_world: WebWorld, live_server: str, axe_source: str | None
) -> None:
    """A manager signs in onto the dashboard: four charts, each with its table, pass axe."""
    practitioner = new_key(web_world, "practitioner", "dashboard browser team")
    manager = new_key(web_world, "manager", "dashboard browser manager")
    with httpx.Client(base_url=live_server, timeout=30) as client:
        make_referrals(client, practitioner, web_world.postcode, 11)
    page = page_factory()
    page.goto("/")
    page.get_by_label("API key").fill(manager)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/insights")
    assert page.locator("svg[role=img]").count() == 4
    assert page.locator("table.govuk-table").count() == 4
    assert page.get_by_role("img", name=re.compile("Referrals by week")).is_visible()
    # the charts' text, scaled to their half-width column, is no smaller than GOV.UK's 14 px
    chart = page.locator("svg[role=img]").first
    scale = chart.evaluate("svg => svg.getScreenCTM().a")
    assert float(chart.get_attribute("font-size")) * scale >= 14
    check_accessibility(page, axe_source)
    page.get_by_label("Count referrals by").select_option("team")
    page.get_by_role("button", name="Show").click()
    page.wait_for_url("**/insights?by=team*")
    row = page.locator("tr", has_text="dashboard browser team")
    assert row.locator("td").first.inner_text() == "11"
    check_accessibility(page, axe_source)
    assert page.csp_violations == []  # type: ignore[attr-defined]


def test_find_self_service_is_accessible(
    page_factory: Any, web_world: WebWorld, axe_source: str | None
) -> None:
    """A resident, not signed in: describe, confirm the ticked help, give a postcode and an
    age, read the suggestions with how to contact each; every page passes axe."""
    page = page_factory()
    page.goto("/find")
    assert page.get_by_role("heading", name="Find community services near you").is_visible()
    check_accessibility(page, axe_source)
    page.get_by_label("Tell us about the situation in your own words").fill(
        "My dad lives alone and is lonely, he would like some company"
    )
    page.get_by_role("button", name="Suggest the help that fits").click()
    assert page.get_by_text("Check the ticked boxes").is_visible()
    check_accessibility(page, axe_source)
    page.get_by_label("Postcode or town").fill(web_world.postcode)
    page.get_by_label("Age", exact=True).fill("84")
    page.get_by_role("button", name="Find services").click()
    assert page.get_by_role("heading", name="Services you could contact").is_visible()
    assert page.locator("li.app-result").count() >= 1
    assert page.get_by_text("How to contact").first.is_visible()
    check_accessibility(page, axe_source)
    screenshot(page, "find")
    page.get_by_role("button", name="Find services").click()  # the form is kept: search again
    assert page.get_by_role("heading", name="Services you could contact").is_visible()
    header = page.locator("header")
    assert header.get_by_role("link", name="Find community services").get_attribute("href") == (
        "/find"
    )
    assert header.get_by_role("link", name="Staff sign in").get_attribute("href") == "/sign-in"

    # past the rate limit (spent here by the same browser's other requests) the next search
    # is an accessible HTML page that still leads back to /find
    # (a token bucket refilled every few seconds: spend it until the latest answer is a 429 and
    # click at once; should a token come back before the click all the same, spend it again)
    limited = page.get_by_role("heading", name="Too many searches")
    for _ in range(3):
        form = {"csrf_token": token(page.content()), "action": "interpret", "situation": ""}
        spent = [page.request.post("/find", form=form).status]
        while spent[-1] != 429 and len(spent) < 60:
            spent.append(page.request.post("/find", form=form).status)
        assert spent[-1] == 429, spent
        page.get_by_role("button", name="Find services").click()
        if limited.is_visible():
            break
    assert limited.is_visible()
    assert "front door" in page.locator("main").inner_text()
    check_accessibility(page, axe_source)
    page.get_by_role("link", name="Go to the start page").click()
    page.wait_for_url("**/find")
    assert page.csp_violations == []  # type: ignore[attr-defined]
