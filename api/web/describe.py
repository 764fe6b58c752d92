"""A service in the words a front-door worker reads out on the phone.

Who it is for, when it runs, what it costs and how to refer: short plain-English lines built
from the service model, shared by the results list and the detail page.
"""

from __future__ import annotations

from urllib.parse import urlencode, urlsplit

from vcsmatch.catalogue.model import Location, Schedule, Service
from vcsmatch.search import WEEKDAY_NAMES, age_range_words, delivery_words


def who_for(s: Service) -> str:
    """ "Women aged 65 and over", "Adults aged 18 to 25", "Anyone"."""
    e = s.eligibility
    ages = age_range_words(s)
    if e.sex:
        who = "Women" if e.sex == "female" else "Men"
        text = who if ages == "all ages" else f"{who} aged {ages}"
    else:
        text = "Anyone" if ages == "all ages" else f"People aged {ages}"
    if e.rules:
        text += f". {e.rules}"
    return text


def _time(t: object) -> str:
    """09:30 -> 9:30am; 12:00 -> midday (GOV.UK style)."""
    hour, minute = t.hour, t.minute  # type: ignore[attr-defined]
    if (hour, minute) == (12, 0):
        return "midday"
    suffix = "am" if hour < 12 else "pm"
    h = hour % 12 or 12
    return f"{h}:{minute:02d}{suffix}" if minute else f"{h}{suffix}"


def schedule_words(sch: Schedule) -> str:
    if sch.description:
        return sch.description
    if sch.weekdays:
        days = [WEEKDAY_NAMES[d] + "s" for d in sch.weekdays]
        text = days[0] if len(days) == 1 else ", ".join(days[:-1]) + " and " + days[-1]
    elif sch.freq == "DAILY":
        text = "Every day"
    else:
        text = "Times vary"
    if sch.freq == "MONTHLY":
        text = f"Monthly, on {text}"
    elif sch.interval and sch.interval > 1:
        text = f"Every {sch.interval} weeks, on {text}"
    if sch.opens_at and sch.closes_at:
        text += f", {_time(sch.opens_at)} to {_time(sch.closes_at)}"
    elif sch.opens_at:
        text += f", from {_time(sch.opens_at)}"
    return text


def when(s: Service) -> str:
    """When it runs, or "Contact the service for times"."""
    if not s.schedules:
        return "Contact the service for times"
    return "; ".join(schedule_words(sch) for sch in s.schedules)


def cost(s: Service) -> str:
    if s.cost.free is True:
        return "Free" + (f" ({s.cost.description})" if s.cost.description else "")
    if s.cost.description:
        return s.cost.description
    if s.cost.free is False:
        return "There is a charge: ask the service"
    return "Not stated: ask the service"


def how_to_refer(s: Service) -> str:
    """The published referral route, else how to get in touch."""
    if s.referral:
        return s.referral
    phone = s.phone or next((c.phone for c in s.contacts if c.phone), None)
    email = s.email or next((c.email for c in s.contacts if c.email), None)
    ways = []
    if phone:
        ways.append(f"phone {phone}")
    if email:
        ways.append(f"email {email}")
    if ways:
        return "Contact the service: " + " or ".join(ways)
    if s.url:
        return f"See {s.url}"
    return "No referral route published"


def delivery(s: Service) -> str:
    words = delivery_words(s)
    if not words:
        return "Not stated"
    text = ", ".join(words)
    return text[0].upper() + text[1:]


def map_url(loc: Location) -> str | None:
    """An OpenStreetMap link centred on the location (None without coordinates)."""
    if loc.latitude is None or loc.longitude is None:
        return None
    lat, lon = f"{loc.latitude:.5f}", f"{loc.longitude:.5f}"
    query = urlencode({"mlat": lat, "mlon": lon})
    return f"https://www.openstreetmap.org/?{query}#map=17/{lat}/{lon}"


def web_link(url: str | None) -> str | None:
    """``url`` when it is an http(s) link, else None (a catalogue could carry
    ``javascript:`` or ``data:`` links; the page shows those as text, never as links)."""
    if not url:
        return None
    scheme = urlsplit(url.strip()).scheme.lower()
    return url.strip() if scheme in ("http", "https") else None


def address(loc: Location) -> str:
    parts = [p for p in (loc.name, loc.address, loc.postcode) if p]
    return ", ".join(parts) if parts else "Address not published"
