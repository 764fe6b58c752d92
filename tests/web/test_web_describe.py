"""A service in front-door words: who it is for, when, cost, how to refer, the map link."""

from __future__ import annotations

import datetime as dt

from api.web import describe
from vcsmatch.catalogue.model import Contact, Cost, Eligibility, Location, Schedule, Service


def _service(**fields: object) -> Service:
    return Service(id="s1", name="Tea and Chat", **fields)


def test_who_for_combines_sex_and_ages() -> None:
    """Women-only 65+ reads "Women aged 65 and over"; no rules read "Anyone"."""
    assert describe.who_for(_service(eligibility=Eligibility(min_age=65, sex="female"))) == (
        "Women aged 65 and over"
    )
    assert describe.who_for(_service(eligibility=Eligibility(min_age=18, max_age=25))) == (
        "People aged 18 to 25"
    )
    assert describe.who_for(_service()) == "Anyone"


def test_when_reads_days_and_times_in_govuk_style() -> None:
    """Weekdays, opening times and midday read as GOV.UK writes them."""
    sch = Schedule(weekdays=["MO", "TH"], opens_at=dt.time(9, 30), closes_at=dt.time(12, 0))
    assert describe.when(_service(schedules=[sch])) == "Mondays and Thursdays, 9:30am to midday"
    assert describe.when(_service()) == "Contact the service for times"


def test_cost_and_referral_fall_back_sensibly() -> None:
    """Free, a stated charge, and a contact route when no referral text is published."""
    assert describe.cost(_service(cost=Cost(free=True))) == "Free"
    assert describe.cost(_service(cost=Cost(free=False))) == "There is a charge: ask the service"
    svc = _service(contacts=[Contact(phone="01632 960000")])
    assert describe.how_to_refer(svc) == "Contact the service: phone 01632 960000"
    assert describe.how_to_refer(_service(referral="GP referral")) == "GP referral"


def test_map_url_points_openstreetmap_at_the_location() -> None:
    """The map link carries the location's coordinates; none without coordinates."""
    url = describe.map_url(Location(latitude=52.05, longitude=1.15))
    assert url.startswith("https://www.openstreetmap.org/?mlat=52.05000&mlon=1.15000#map=17/")
    assert describe.map_url(Location(postcode="IP1 1AA")) is None


def test_only_http_links_become_links() -> None:
    """A javascript: or data: URL from a catalogue is never made a link."""
    assert describe.web_link("https://example.org/x") == "https://example.org/x"
    assert describe.web_link(" JavaScript:alert(1)") is None
    assert describe.web_link("data:text/html,<b>x</b>") is None
    assert describe.web_link(None) is None
